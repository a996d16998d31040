"""The forgery corpus (tests/forgeries/): broken modules that attack the grader, each beside
its honest twin, a broken variant from tests/mutants/ with the same bug and no attack.

An attack must never earn more than its twin, and must leave no trace after its grading: no
process alive, no report rewritten afterwards, no planted module run, no grader file changed.
Each forgery file names its TWIN (tests/mutants/<module>/<name>), the pytest SELECT for both
gradings, and the ATTACK source appended to the twin's module.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import subprocess
import sys
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


def attacks_here(info: dict) -> bool:
    """Whether the forgery is an attack on this machine (CPUS: the CPUs it needs for that)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) >= info.get("CPUS", 1)


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
    if not attacks_here(info):
        pytest.skip(f"the attack needs {info['CPUS']} CPUs to be one (it is honest code here)")
    twin = kit.MUTANTS / f"{info['TWIN']}.py"
    module = twin.parent.name
    honest = twin_score(twin, info["SELECT"], tmp_path / "twin")

    forged = kit.mutant_folder(twin, tmp_path / "forged")
    (forged / f"{module}.py").write_text(_forged_source(info))
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


# ------------------------------------------- the corpus for the record: grade-all, Gradescope


def _forged_source(info: dict) -> str:
    return (kit.MUTANTS / f"{info['TWIN']}.py").read_text() + "\n" + info["ATTACK"]


def _digests(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="the attacks use fork and POSIX signals")
def test_the_corpus_graded_for_the_record_by_grade_all(tmp_path):
    """grade-all, as an instructor grades a class for the record (every test, hidden ones
    included, submissions one after another in the same folders), over every forgery beside
    its honest twin: no forged submission scores more on its module than its twin, and a
    survivor aimed at another student's report (the twin's) leaves it as grade-all wrote it."""
    from tests.test_classroom import script

    klass, out, marks = tmp_path / "class", tmp_path / "graded", tmp_path / "marks"
    marks.mkdir(parents=True)
    os.chmod(tmp_path, 0o755)
    os.chmod(marks, 0o777)
    pairs = {}  # forged student -> (module, twin student)
    for path in FORGERIES:
        info = constants(path)
        if not attacks_here(info):
            continue
        module = info["TWIN"].split("/")[0]
        twin = "twin-" + info["TWIN"].replace("/", "-")
        (klass / twin).mkdir(parents=True, exist_ok=True)
        shutil.copy(kit.MUTANTS / f"{info['TWIN']}.py", klass / twin / f"{module}.py")
        forged = f"forged-{path.stem}"
        (klass / forged).mkdir()
        (klass / forged / f"{module}.py").write_text(_forged_source(info))
        pairs[forged] = (module, twin)
    victim = out / "twin-tickets-buy_no_lock.json"
    proc = script("grade_all", str(klass), "--out", str(out), "--jobs", "2",
                  env={"FORGE_RESULTS": str(victim), "FORGE_MARK": str(marks / "mark"),
                       "KIT_GRADE_ID": f"{kit.SESSION}-grade-all-corpus"}, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(pairs) | {twin for _, twin in pairs.values()}
    for forged, (module, twin) in pairs.items():
        assert float(rows[forged][module]) <= float(rows[twin][module]), (
            f"{forged} earned {rows[forged][module]} on {module}, its twin {rows[twin][module]}")
        assert rows[forged]["note"] == "", rows[forged]
    written = _digests(out)
    time.sleep(2)  # a survivor would strike now
    assert _digests(out) == written, "a report was rewritten after grade-all wrote it"
    report = json.loads(victim.read_text())
    assert report["score"] == float(rows["twin-tickets-buy_no_lock"]["total"])
    assert kit.leftovers() == []
    assert sorted(p.name for p in marks.iterdir()) == [], "a planted module ran"


RECORD_ATTACKS = ["tickets_survivor_rewrites_results", "tickets_kills_the_grading_worker"]


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="the attacks use fork and POSIX signals")
@pytest.mark.parametrize("stem", RECORD_ATTACKS)
def test_run_autograder_survives_the_attacks_on_its_results(stem, tmp_path):
    """Gradescope's run_autograder on a forged submission, the survivor aimed at its own
    results/results.json: the file is the grader's, with the twin's score or less."""
    from tests.test_classroom import autograder_root, script

    info = constants(kit.KIT / "tests" / "forgeries" / f"{stem}.py")
    module = info["TWIN"].split("/")[0]
    zipped = tmp_path / "autograder.zip"
    proc = script("gradescope", "--out", str(zipped))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = {}
    for who, source in (("twin", (kit.MUTANTS / f"{info['TWIN']}.py").read_text()),
                        ("forged", _forged_source(info))):
        root = autograder_root(tmp_path / who, zipped)
        (root / "submission" / f"{module}.py").write_text(source)
        os.chmod(root / "results", 0o777)
        results = root / "results" / "results.json"
        proc = subprocess.run(  # as tests/test_classroom.py's run_autograder, attack aimed
            [str(root / "source" / "run_autograder"), "-k", module], capture_output=True,
            text=True, timeout=600, stdin=subprocess.DEVNULL,
            env={**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable,
                 "FORGE_RESULTS": str(results),
                 "KIT_GRADE_ID": f"{kit.SESSION}-autograder-{stem}-{who}"})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        written = results.read_bytes()
        data = json.loads(written)
        scores[who] = sum(t["score"] for t in data["tests"])
        assert data["score"] == scores[who] and data["max_score"] > 0, data.get("output")
        time.sleep(2)  # a survivor would strike now
        assert results.read_bytes() == written, "results.json was rewritten after the grading"
    assert scores["twin"] > 0 and scores["forged"] <= scores["twin"], scores
    assert kit.leftovers() == []
