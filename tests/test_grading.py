"""The graders judge right: the reference gets full marks, the stubs get 0, reports are valid."""

from __future__ import annotations

import multiprocessing

import pytest

from tests import kit

START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(scope="module")
def reference() -> kit.Grade:
    return kit.grade(kit.SOLUTIONS)


@pytest.fixture(scope="module")
def stubs() -> kit.Grade:
    return kit.grade(kit.EXERCISES)


def test_solutions_get_full_marks(reference):
    assert reference.failed() == [], reference.output[-3000:]
    assert reference.full_marks
    assert reference.exit_code == 0


def test_every_module_is_graded(reference):
    graded = {t["name"].split(":")[0] for t in reference.results["tests"]}
    assert graded == set(kit.MODULES)
    for module in kit.MODULES:
        assert reference.score_of(module)[1] > 0, module


# queues starts its producers under every method inside one test; the rest use no processes
PER_METHOD = {"zombies", "daemons", "tickets", "ipc", "producer_consumer", "shared_state"}


def test_multiprocessing_tests_run_under_every_start_method(reference):
    names = [t["name"] for t in reference.results["tests"]]
    for method in START_METHODS:
        graded = {n.split(":")[0] for n in names if n.endswith(f"({method})")}
        assert graded == PER_METHOD, (method, graded)


def test_stubs_get_zero_and_say_why(stubs, reference):
    assert stubs.exit_code != 0
    assert stubs.results["score"] == 0
    assert stubs.results["max_score"] == reference.results["max_score"]
    for t in stubs.results["tests"]:
        assert t["status"] == "failed"
        assert "stub" in t["output"] or "not implemented" in t["output"], t


def test_results_json_follows_the_gradescope_format(reference):
    r = reference.results
    assert isinstance(r["score"], (int, float)) and isinstance(r["max_score"], (int, float))
    assert isinstance(r["execution_time"], (int, float))
    assert r["extra_data"]["graders_sha256"]
    for t in r["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output"}
        assert t["status"] in ("passed", "failed")
        assert t["name"].split(":")[0] in kit.MODULES
        assert 0 <= t["score"] <= t["max_score"]
    assert r["score"] == sum(t["score"] for t in r["tests"])


@pytest.mark.parametrize("which", ["reference", "stubs"])
def test_junit_agrees_with_results_json(which, request):
    g: kit.Grade = request.getfixturevalue(which)
    cases = g.junit.findall(".//testcase")
    failed = {f"{c.get('classname')}.{c.get('name')}" for c in cases
              if c.find("failure") is not None or c.find("error") is not None}
    assert len(cases) == len(g.results["tests"])
    assert len(failed) == len(g.failed())
