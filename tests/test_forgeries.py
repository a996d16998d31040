"""The forgery corpus (tests/forgeries/): broken modules that attack the grader, each beside
its honest twin, a broken variant from tests/mutants/ with the same bug and no attack.

An attack must never earn more than its twin, and must leave no trace after its grading: no
process alive, no report rewritten afterwards, no planted module run, no grader file changed.
Each forgery file names its TWIN (tests/mutants/<module>/<name>), the pytest SELECT for both
gradings, and the ATTACK source appended to the twin's module.
"""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import pytest

from tests import kit

FORGERIES = sorted((kit.KIT / "tests" / "forgeries").glob("*.py"))


def constants(path: Path) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {"doc": ast.get_docstring(tree) or ""}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


_twins: dict[str, tuple[float, float]] = {}


def twin_score(twin: Path, select: list[str], into: Path) -> tuple[float, float]:
    key = f"{twin}:{select}"
    if key not in _twins:
        g = kit.grade(kit.mutant_folder(twin, into), *select, modules=[twin.parent.name])
        assert g.results, g.output[-3000:]
        _twins[key] = g.score_of(twin.parent.name)
    return _twins[key]


@pytest.mark.skipif(os.name != "posix", reason="the attacks use fork and POSIX signals")
@pytest.mark.parametrize("path", FORGERIES, ids=lambda p: p.stem)
def test_attack_earns_no_more_than_its_honest_twin(path, tmp_path):
    info = constants(path)
    assert info["doc"] and info["ATTACK"].strip(), path
    twin = kit.MUTANTS / f"{info['TWIN']}.py"
    module = twin.parent.name
    honest = twin_score(twin, info["SELECT"], tmp_path / "twin")

    forged = kit.mutant_folder(twin, tmp_path / "forged")
    (forged / f"{module}.py").write_text(twin.read_text() + "\n" + info["ATTACK"])
    marks = tmp_path / "marks"
    marks.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(marks, 0o777)  # so that a planted module could leave its mark, whoever it runs as
    results = tmp_path / "results.json"
    watched = [kit.KIT / "graders" / name for name in
               ("harness.py", "_child.py", "conftest.py", "contain.py", f"test_{module}.py",
                f"scenarios/{module}.py", "scenarios/common.py")]
    before = [p.read_bytes() for p in watched]

    g = kit.grade(forged, *info["SELECT"], modules=[module], results=results,
                  env={"FORGE_RESULTS": str(results), "FORGE_MARK": str(marks / "mark")})
    assert g.results, f"no results.json was written (exit {g.exit_code}):\n{g.output[-3000:]}"
    assert g.exit_code > 0, g.output[-3000:]
    written = results.read_bytes()
    score, max_score = g.score_of(module)
    assert max_score == honest[1] > 0
    assert score <= honest[0], f"the attack earned {score}, its twin {honest[0]}"

    time.sleep(2)  # a survivor would strike now
    assert results.read_bytes() == written, "results.json was rewritten after the grading"
    assert kit.leftovers(g) == []
    assert sorted(p.name for p in marks.iterdir()) == [], "a planted module ran"
    assert [p.read_bytes() for p in watched] == before, "a grader file of the kit changed"


def test_every_forgery_has_an_honest_twin():
    assert len(FORGERIES) >= 5
    for path in FORGERIES:
        info = constants(path)
        assert (kit.MUTANTS / f"{info['TWIN']}.py").exists(), path
        assert isinstance(info["SELECT"], list)
