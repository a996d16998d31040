"""Forged observation: the grading child's result writer replaced by one that drops the failing
schedule from the answer before writing it.

Class 1. The grading child binds what runs after student code (the result writer, the leak
checks, the raw os functions they use) before student code runs, and the seal
(graders/_child.py, seal()) names the replaced writer: the test fails. Before: 3 of 3 points,
like a correct module; its twin 0.
"""

TWIN = "counter/counter_no_lock"
SELECT = ["-k", "test_no_lost_decrements"]
ATTACK = '''
import sys as _sys

_child = _sys.modules.get("graders._child")
if _child is not None:
    _honest_write = _child._write_result

    def _write_result(path, result):
        if isinstance(result.get("value"), dict):
            result["value"].pop("found", None)
        result.pop("tampered", None)
        _honest_write(path, result)

    _child._write_result = _write_result
'''
