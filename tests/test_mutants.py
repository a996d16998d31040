"""Every broken variant in tests/mutants/ loses points on the grader test meant to catch it."""

from __future__ import annotations

import pytest

from tests import kit


@pytest.mark.parametrize("path", kit.mutants(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_mutant_is_caught(path, tmp_path):
    module, rule, caught_by = kit.mutant_info(path)
    assert rule and caught_by.startswith("test_")
    g = kit.grade(kit.mutant_folder(path, tmp_path), modules=[module])
    assert g.exit_code != 0
    assert kit.caught(g, module, caught_by), (
        f"{path.name} ({rule}) was not caught by {caught_by}; failed: {g.failed()}\n"
        + g.output[-2000:])
    for t in g.results["tests"]:  # feedback is a sentence, never empty or a grader traceback
        if t["status"] == "failed":
            first = t["output"].strip().splitlines()[0] if t["output"].strip() else ""
            assert first and not first.startswith((" ", "def ", "E ", "assert", "student =",
                                                   "Traceback")), t["output"][:500]


def test_every_module_has_mutants():
    have = {p.parent.name for p in kit.mutants()}
    assert have == set(kit.MODULES)
    for module in ("tickets", "producer_consumer", "echo_server"):
        assert len(kit.mutants(module)) >= 5, module
