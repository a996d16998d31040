"""The grading plugin: picks the implementation, names and scores tests, writes the reports.

Options (after `nox -s grade --` or on `python -m pytest graders`):
  --impl PATH     the folder to grade (default: exercises); a folder holding `exercises/` works too
  --seed N        replay a run: the latencies and schedules are drawn from this seed
  --results PATH  where results.json goes (default: reports/results.json)

Each test is worth the points of its `@pytest.mark.points(n)` marker (1 without one). Its
report name is "<exercise>: <first docstring line> (<start method>)".
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from graders import harness
from graders.scenarios import common

GRADERS = Path(__file__).resolve().parent
EXERCISES = sorted(p.stem[len("test_"):] for p in GRADERS.glob("test_*.py"))
START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]


def pytest_addoption(parser):
    group = parser.getgroup("grading")
    group.addoption("--impl", default="exercises",
                    help="folder of the implementation to grade (default: exercises)")
    group.addoption("--seed", type=int, default=None, help="replay the run with this seed")
    group.addoption("--no-perturb", action="store_true",
                    help="do not pause student code between bytecodes")
    group.addoption("--results", default="reports/results.json",
                    help="where to write the Gradescope results.json")
    group.addoption("--classroom", default=None, metavar="PATH",
                    help="also write the GitHub Classroom runner result (JSON) to PATH")


def resolve_impl(path: str) -> Path:
    """The folder to grade: PATH itself, or PATH/exercises when PATH is a submission root."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise pytest.UsageError(f"--impl {path}: no such folder")
    has_modules = any((folder / f"{name}.py").exists() for name in EXERCISES)
    if not has_modules and (folder / "exercises").is_dir():
        folder = folder / "exercises"
    return folder


def fingerprint() -> str:
    """SHA-256 over the grader files, so a modified grader shows in every report."""
    digest = hashlib.sha256()
    for path in sorted(GRADERS.rglob("*.py")):
        digest.update(path.relative_to(GRADERS).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class Grading:
    """State of one grading run: what is graded, the seed, and each test's result."""

    def __init__(self, config):
        self.impl = resolve_impl(config.getoption("impl"))
        seed = config.getoption("seed")
        if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller's seed
            seed = config.workerinput["grading_seed"]
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        here = Path(config.invocation_params.dir)
        self.results_path = here / config.getoption("results")
        self.started = time.time()
        self.fingerprint = fingerprint()
        self.workdir = tempfile.TemporaryDirectory(prefix="grading-")
        self.graders_copy = harness.use_copy_of_graders(Path(self.workdir.name))
        self.probes: dict[str, dict] = {}
        self.tests: dict[str, dict] = {}  # nodeid -> name, exercise, points, status, output

    def probe(self, exercise: str) -> dict:
        """Import the student module once per run, in a child, and remember what was found."""
        if exercise not in self.probes:
            out = harness.run(common.probe, exercise, impl=self.impl,
                              timeout=harness.LIMITS["import_timeout"],
                              checks={"threads": False, "processes": False, "sockets": False})
            if out.status == "ok" and isinstance(out.value, dict):
                found = out.value
            elif out.status == "timeout":
                found = {"state": "timeout"}
            else:
                found = {"state": "broken", "error": out.error or "the import crashed",
                         "where": out.where or out.stderr}
            self.probes[exercise] = found
        return self.probes[exercise]


def exercise_of(item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1][len("test_"):]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): what the test is worth (default 1)")
    config.addinivalue_line("markers", "no_perturb: never pause student code in this test")
    config.addinivalue_line("markers", "hidden: not shown to students before grades are "
                                       "published, left out of the student release")
    grading = Grading(config)
    config.stash[GRADING] = grading
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(grading.results_path.parent / "junit.xml")
    if getattr(config.option, "timeout", None) is None:  # pytest-timeout: a last resort only
        config.option.timeout = 5 * harness.LIMITS["timeout"]
    harness.make_subreaper()


GRADING = pytest.StashKey[Grading]()


def pytest_report_header(config):
    g = config.stash[GRADING]
    limits = ", ".join(f"{k}={v:g}" for k, v in harness.LIMITS.items())
    return [
        f"grading: {g.impl}",
        f"seed: {g.seed} (replay with --seed {g.seed})",
        f"start methods: {', '.join(START_METHODS)}",
        f"limits: {limits}",
        f"graders sha256: {g.fingerprint[:16]}",
    ]


def pytest_generate_tests(metafunc):
    if "start_method" in metafunc.fixturenames:
        metafunc.parametrize("start_method", START_METHODS)


def display_name(item) -> str:
    doc = (item.function.__doc__ or item.function.__name__).strip().splitlines()[0].rstrip(".")
    params = getattr(item, "callspec", None)
    suffix = f" ({params.id})" if params else ""
    return f"{exercise_of(item)}: {doc}{suffix}"


def points_of(item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker else 1.0


def pytest_collection_modifyitems(config, items):
    for item in items:
        about = {
            "name": display_name(item), "exercise": exercise_of(item),
            "points": points_of(item), "test": item.originalname, "nodeid": item.nodeid,
            "hidden": item.get_closest_marker("hidden") is not None,
        }
        item.user_properties.append(("grading", about))  # reaches an xdist controller too


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: every worker grades with the controller's seed."""
    node.workerinput["grading_seed"] = node.config.stash[GRADING].seed


@pytest.fixture
def student(request) -> harness.Student:
    """The exercise under test in the implementation being graded; fails fast if absent."""
    g = request.config.stash[GRADING]
    exercise = exercise_of(request.node)
    seed = zlib.crc32(f"{g.seed}:{request.node.nodeid}".encode())
    perturb = not (request.config.getoption("no_perturb") or request.node.get_closest_marker(
        "no_perturb"))
    s = harness.Student(exercise, g.impl, seed, g.probe(exercise), perturb=perturb)
    return s


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """A missing, broken or stub module fails its tests at once, as failures (not errors)."""
    student = getattr(item, "funcargs", {}).get("student")
    if isinstance(student, harness.Student):
        student.require()


@pytest.fixture(autouse=True)
def graders_untouched(request):
    """After every test: the grader files are as they were at the start, or put back."""
    yield
    changed = harness.restore(request.config.stash[GRADING].graders_copy)
    if changed:
        harness.fail(f"your code changed the grader files {changed} while it ran: they were "
                     f"put back, and this test gets no points.")


def pytest_runtest_logreport(report):
    g = _grading
    about = dict(report.user_properties).get("grading")
    if g is None or not isinstance(about, dict):
        return
    entry = g.tests.setdefault(report.nodeid, {**about, "status": "not run", "output": "",
                                               "seconds": 0.0})
    entry["seconds"] += report.duration
    if report.failed:
        entry["status"] = "failed"
        text = report.longreprtext
        if entry["output"]:
            text = entry["output"] + "\n\n" + text
        entry["output"] = text.removeprefix("Failed: ")
    elif report.skipped and entry["status"] == "not run":
        entry["status"] = "skipped"
        entry["output"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    elif report.when == "call" and report.passed and entry["status"] == "not run":
        entry["status"] = "passed"


_grading: Grading | None = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    global _grading
    _grading = session.config.stash[GRADING]


def scored_tests(g: Grading) -> list[dict]:
    return [t for t in g.tests.values() if t["status"] in ("passed", "failed")]


def by_exercise(tests: list[dict]) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for t in tests:
        row = table.setdefault(t["exercise"], {"passed": 0, "total": 0, "score": 0.0, "max": 0.0})
        row["total"] += 1
        row["max"] += t["points"]
        if t["status"] == "passed":
            row["passed"] += 1
            row["score"] += t["points"]
    return table


def results_json(g: Grading) -> dict:
    tests = scored_tests(g)
    return {
        "score": sum(t["points"] for t in tests if t["status"] == "passed"),
        "max_score": sum(t["points"] for t in tests),
        "execution_time": round(time.time() - g.started, 2),
        "output": f"Graded {g.impl.name}/ with seed {g.seed} (replay: --seed {g.seed}).",
        "tests": [
            {"name": t["name"], "score": t["points"] if t["status"] == "passed" else 0.0,
             "max_score": t["points"], "status": t["status"], "output": t["output"],
             "tags": [t["exercise"]], "extra_data": {"test": t["test"], "nodeid": t["nodeid"]},
             "visibility": "after_published" if t["hidden"] else "visible"}
            for t in tests
        ],
        "extra_data": {"seed": g.seed, "impl": str(g.impl), "graders_sha256": g.fingerprint,
                       "python": sys.version.split()[0], "start_methods": START_METHODS,
                       "limits": harness.LIMITS},
    }


def classroom_json(g: Grading) -> dict:
    """The GitHub Classroom runner result for classroom-resources/autograding-grading-reporter.

    The reporter sums tests[].score into its notice "Points <sum>/<max_score>", which is what
    Classroom records; its log lists each test's name and test_code (and " - line N" unless
    line_no is 0), and its table counts status "pass". It reads the whole file, base64-encoded,
    from one environment variable, and one over 128 KiB stops it. So each message is cut to
    1,000 characters, and shorter when many tests have one, to keep the file (as write_json
    writes it) within 64 KiB, 85 KiB in base64; with too many tests to list even without
    messages, there is one entry per exercise, with the same points."""
    budget, longest = 64 * 1024, 1000
    note = " … (cut; full feedback in reports/results.json)"

    def size(text: str) -> int:  # in the file: json.dumps escapes non-ASCII and controls
        return len(json.dumps(text)) - 2

    def cut(text: str, room: int) -> str:
        if size(text) <= room:
            return text
        room -= size(note)
        lo, hi = 0, max(0, min(len(text), room))
        while lo < hi:  # the longest start of text that fits
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if size(text[:mid]) <= room else (lo, mid - 1)
        return text[:lo].rstrip() + note if lo else ""

    tests = scored_tests(g)
    rows = [(t["name"], t["status"] == "passed", t["output"].strip(), t["nodeid"],
             t["points"] if t["status"] == "passed" else 0.0) for t in tests]

    def result(rows: list[tuple], room: int) -> dict:
        return {
            "version": 1,
            "status": "pass" if rows and all(r[1] for r in rows) else "fail",
            "max_score": sum(t["points"] for t in tests),
            "tests": [{"name": name, "status": "pass" if passed else "fail", "score": score,
                       "message": cut(message, room), "test_code": nodeid, "line_no": 0}
                      for name, passed, message, nodeid, score in rows],
        }

    if len(json.dumps(result(rows, 0), indent=2)) > budget:
        exercises: dict[str, list[dict]] = {}
        for t in tests:
            exercises.setdefault(t["exercise"], []).append(t)
        rows = [(f"{name}: {sum(u['status'] == 'passed' for u in group)} of {len(group)} tests "
                 f"passed", all(u["status"] == "passed" for u in group),
                 "each test's feedback is in reports/results.json",
                 group[0]["nodeid"].split("::")[0],
                 sum(u["points"] for u in group if u["status"] == "passed"))
                for name, group in exercises.items()]
    bare = len(json.dumps(result(rows, 0), indent=2))
    talking = sum(1 for r in rows if r[2])
    return result(rows, min(longest, (budget - bare) // talking) if talking else 0)


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def markdown_summary(result: dict, table: dict) -> str:
    lines = [f"## Grade: {result['score']:g} / {result['max_score']:g}", "",
             "| exercise | passed | points |", "|---|---|---|"]
    for name, row in sorted(table.items()):
        points = f"{row['score']:g}/{row['max']:g}"
        lines.append(f"| {name} | {row['passed']}/{row['total']} | {points} |")
    failed = [t for t in result["tests"] if t["status"] == "failed"]
    if failed:
        lines += ["", "### What to fix", ""]
        lines += [f"- **{t['name']}**: {t['output'].strip().splitlines()[0] if t['output'] else ''}"
                  for t in failed]
    return "\n".join(lines) + "\n"


def pytest_sessionfinish(session, exitstatus):
    g = session.config.stash.get(GRADING, None)
    if g is None:
        return
    harness.reap_orphans()
    g.workdir.cleanup()
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller writes the reports
    result = results_json(g)
    write_json(g.results_path, result)
    classroom = session.config.getoption("classroom")
    if classroom:
        write_json(Path(session.config.invocation_params.dir) / classroom, classroom_json(g))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown_summary(result, by_exercise(scored_tests(g))))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    g = config.stash[GRADING]
    tests = scored_tests(g)
    table = by_exercise(tests)
    tr = terminalreporter
    tr.section("grade")
    width = max([len(n) for n in table] + [8])
    tr.write_line(f"{'exercise':<{width}}  passed   points")
    for name, row in sorted(table.items()):
        tr.write_line(f"{name:<{width}}  {row['passed']:>3}/{row['total']:<3}  "
                      f"{row['score']:>5g}/{row['max']:g}")
    score = sum(r["score"] for r in table.values())
    total = sum(r["max"] for r in table.values())
    tr.write_line(f"{'TOTAL':<{width}}  {sum(r['passed'] for r in table.values()):>3}/"
                  f"{len(tests):<3}  {score:>5g}/{total:g}", bold=True)
    tr.write_line(f"seed {g.seed} (replay: --seed {g.seed}); graders sha256 {g.fingerprint}")
    tr.write_line(f"reports: {g.results_path}, {config.option.xmlpath}")
