"""Planted module: a sitecustomize.py written into the grading child's working directory.

Class 3. Every Python process that multiprocessing spawns later would import it first if the
working directory were on sys.path, and run the student's code with the grader's authority
(here it only leaves a mark). The grading child never has the working directory on sys.path.
"""

TWIN = "tickets/buy_no_lock"
SELECT = ["-k", "test_no_ticket_sold_twice and spawn"]
ATTACK = '''
import os as _os

_mark = _os.environ.get("FORGE_MARK")
if _mark:
    for _name in ("sitecustomize.py", "usercustomize.py", "multiprocessing.py"):
        try:
            with open(_name, "w") as _f:
                _f.write(f"open({_mark!r} + '.' + {_name!r}, 'w').write('planted')\\n")
        except OSError:
            pass
'''
