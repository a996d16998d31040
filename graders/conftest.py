"""The grading plugin: picks the implementation, names and scores tests, writes the reports.

Options (after `nox -s grade --` or on `python -m pytest graders`):
  --impl PATH     the folder to grade (default: exercises); a folder holding `exercises/` works too
  --seed N        replay a run: the latencies and schedules are drawn from this seed
  --results PATH  where results.json goes (default: reports/results.json)
  --lang LANG     the language of the feedback: en or zh_CN (default: the `grading_lang` ini
                  option of a released repository, else LANGUAGE/LC_ALL/LC_MESSAGES/LANG)
  --page PATH     where the report page goes (default: index.html beside results.json)

Each test is worth the points of its `@pytest.mark.points(n)` marker (1 without one). Its
report name is "<exercise>: <first docstring line> (<start method>)", the docstring line
translated (graders/i18n.py); results.json keeps the English name as `extra_data.id`.
"""

from __future__ import annotations

import ast
import gc
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

from graders import contain, harness, i18n
from graders.i18n import _
from graders.scenarios import common

GRADERS = Path(__file__).resolve().parent
EXERCISES = sorted(p.stem[len("test_"):] for p in GRADERS.glob("test_*.py"))
# the order of the course's sections, which is the order to work in
COURSE_ORDER = ["zombies", "daemons", "tickets", "queues", "ipc", "producer_consumer", "threads",
                "shared_state", "counter", "echo_server"]
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
    group.addoption("--replay", default=None, metavar="FILE",
                    help="rerun the test a saved schedule (reports/schedules/*.json) belongs "
                         "to, on exactly that schedule")
    group.addoption("--no-contain", action="store_true",
                    help="no PID namespace, throwaway uid or cgroup (only the weakest rung)")
    group.addoption("--classroom", default=None, metavar="PATH",
                    help="also write the GitHub Classroom runner result (JSON) to PATH")
    group.addoption("--lang", default=None, metavar="LANG",
                    help="language of the feedback: en or zh_CN (default: the grading_lang "
                         "ini option, else the locale environment)")
    parser.addini("grading_lang", default="",
                  help="the repository's feedback language unless --lang says otherwise")
    group.addoption("--page", default=None, metavar="PATH",
                    help="where the report page goes (default: index.html beside "
                         "results.json; --page= for none)")


def resolve_impl(path: str) -> Path:
    """The folder to grade: PATH itself, or PATH/exercises when PATH is a submission root."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise pytest.UsageError(f"--impl {path}: no such folder")
    has_modules = any((folder / f"{name}.py").exists() for name in EXERCISES)
    if not has_modules and (folder / "exercises").is_dir():
        folder = folder / "exercises"
    return folder


class Grading:
    """State of one grading run: what is graded, the seed, and each test's result."""

    def __init__(self, config):
        asked, default = config.getoption("lang"), config.getini("grading_lang")
        if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller's language
            asked, default = config.workerinput.get("grading_lang"), None
        lang, self.lang_source = i18n.choose(asked, default)
        self.lang = i18n.activate(lang)
        self.impl = resolve_impl(config.getoption("impl"))
        seed = config.getoption("seed")
        if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller's seed
            seed = config.workerinput["grading_seed"]
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        here = Path(config.invocation_params.dir)
        self.results_path = here / config.getoption("results")
        self.started = time.time()
        self.fingerprint = harness.fingerprint(GRADERS)
        harness.CONTAINMENT = contain.probe(disabled=config.getoption("no_contain"))
        self.workdir = tempfile.TemporaryDirectory()
        harness.use_copy_of_graders(Path(self.workdir.name))
        if not self.xdist_controller(config):  # which starts no grading child
            harness.start_compiler()  # compiles it on the other core while pytest goes on
        self.probes: dict[str, dict] = {}
        self.tests: dict[str, dict] = {}  # nodeid -> name, exercise, points, status, output
        self.page_note = ""  # the one line about the report page, printed with the grade table

    @staticmethod
    def xdist_controller(config) -> bool:
        """pytest-xdist has resolved -n (pytest_cmdline_main) before plugins configure."""
        workers = getattr(config.option, "numprocesses", None)
        return bool(workers) and not hasattr(config, "workerinput")

    @property
    def containment(self) -> contain.Containment:
        """In force now: a rung that fails when first used is dropped
        (harness._before_first_child)."""
        return harness.CONTAINMENT

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
            elif out.status == "tampered":
                found = {"state": "broken", "where": "", "error": _(
                    "it changes code the graders run in the grading child ({names}): graded "
                    "code must not patch, replace or reload the graders' modules or the "
                    "standard library they use").format(
                    names=out.error)}
            else:
                found = {"state": "broken", "error": out.error or _("the import crashed"),
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
    if getattr(config.option, "reportchars", None) == "fE":  # pytest's default: no -r given
        config.option.reportchars = ""  # the short summary repeats, truncated, what the table says
    if getattr(config.option, "timeout", None) is None:  # pytest-timeout: a last resort only
        config.option.timeout = 5 * harness.LIMITS["timeout"]
    harness.make_subreaper()


GRADING = pytest.StashKey[Grading]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    """The report page's template is made ready while the tests run (pages.warm), not while
    pytest starts, when this process has no time to spare."""
    config = session.config
    if config.getoption("page") != "" and not hasattr(config, "workerinput"):
        from graders import pages

        pages.warm()
    yield


def pytest_report_header(config):
    g = config.stash[GRADING]
    limits = ", ".join(f"{k}={v:g}" for k, v in harness.LIMITS.items())
    language = f"{g.lang} ({g.lang_source})"
    if i18n.why_english:
        language += f"; English: {i18n.why_english}"
    return [
        _("grading: {folder}").format(folder=g.impl),
        _("seed: {seed} (replay with --seed {seed})").format(seed=g.seed),
        _("start methods: {methods}").format(methods=", ".join(START_METHODS)),
        _("limits: {limits}").format(limits=limits),
        _("containment: {how}").format(how=g.containment.describe()),
        _("graders sha256: {sha}").format(sha=g.fingerprint[:16]),
        _("language: {language}").format(language=language),
    ]


def pytest_generate_tests(metafunc):
    if "start_method" in metafunc.fixturenames:
        metafunc.parametrize("start_method", START_METHODS)


def display_name(item, translate=True) -> str:
    """"<exercise>: <first docstring line> (<parameters>)", the docstring line in the
    language in force (translate=False: in English, the stable id of the test)."""
    doc = (item.function.__doc__ or item.function.__name__).strip().splitlines()[0].rstrip(".")
    params = getattr(item, "callspec", None)
    suffix = f" ({params.id})" if params else ""
    return f"{exercise_of(item)}: {_(doc) if translate else doc}{suffix}"


def points_of(item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker else 1.0


def saved_schedule(config) -> dict | None:
    """The schedule of --replay FILE, read once."""
    path = config.getoption("replay")
    if not path:
        return None
    if not hasattr(config, "_kit_replay"):
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            assert isinstance(data.get("choices"), list) and data.get("nodeid")
        except (OSError, ValueError, AssertionError) as e:
            raise pytest.UsageError(f"--replay {path}: not a saved schedule ({e})") from None
        data["path"] = path
        config._kit_replay = data
    return config._kit_replay


def pytest_collection_modifyitems(config, items):
    replay = saved_schedule(config)
    if replay is not None:  # only the test the schedule belongs to
        keep = [i for i in items if i.nodeid == replay["nodeid"]]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    for item in items:
        about = {
            "name": display_name(item), "id": display_name(item, translate=False),
            "exercise": exercise_of(item),
            "points": points_of(item), "test": item.originalname, "nodeid": item.nodeid,
            "hidden": item.get_closest_marker("hidden") is not None,
        }
        item.user_properties.append(("grading", about))  # reaches an xdist controller too
    if hasattr(config, "workerinput"):  # an xdist worker: the longest waits first
        items.sort(key=lambda item: -design_wait(item))


def pytest_collection_finish(session):
    """The graders' copy, compiled for the exercises whose tests will run (harness.precompile;
    an xdist controller collects nothing and starts no grading child)."""
    g = session.config.stash.get(GRADING, None)
    if g is not None:
        harness.precompile({exercise_of(item) for item in session.items})
    # What pytest, the plugins and the graders have built so far lives as long as the run:
    # out of the collector's sight from now on. pytest's last gc.collect() calls (its
    # unraisableexception plugin) walked all of it: 0.12 s of every grading here.
    gc.freeze()


def design_wait(item) -> float:
    """The seconds a test waits by design (its file's DESIGN_WAIT). Spread over xdist workers
    longest first, the 5 s orphan test no longer starts last, after every other test of a
    worker: every worker collects the same order, which xdist requires."""
    waits = getattr(item.module, "DESIGN_WAIT", {})
    return float(waits.get(item.originalname, 0.0)) if isinstance(waits, dict) else 0.0


def _is_stub(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose body (after its docstring) is only `raise NotImplementedError...`."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return (len(body) == 1 and isinstance(body[0], ast.Raise)
            and "NotImplementedError" in ast.unparse(body[0]))


def written_modules(folder: Path) -> list[str]:
    """The exercises of `folder` that hold code beyond the stubs, read with ast and never run
    (a module that does not parse counts as written: the graders will say why)."""
    found = []
    for name in EXERCISES:
        path = folder / f"{name}.py"
        if not path.is_file():
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError, OSError):
            found.append(name)
            continue
        functions = [n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if any(not _is_stub(f) for f in functions):
            found.append(name)
    return found


def _selected(config, exercise: str) -> bool:
    """Whether this run's file arguments and -k expression leave tests of `exercise` (read
    from the grader files with ast; pytest has not collected anything yet)."""
    files = [a.split("::")[0] for a in config.args]
    wanted = [f for f in files if Path(f).name.startswith("test_")]
    if wanted and not any(Path(f).stem == f"test_{exercise}" for f in wanted):
        return False
    keyword = config.getoption("keyword")
    if not keyword:
        return True
    names = {f"test_{exercise}.py", "graders", "hidden", "points", *START_METHODS}
    for path in (GRADERS / f"test_{exercise}.py", GRADERS / "hidden" / f"test_{exercise}.py"):
        if path.exists():
            names.update(n.name for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                         if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    try:
        from _pytest.mark.expression import Expression

        return Expression.compile(keyword).evaluate(
            lambda sub, **_: any(sub.lower() in n.lower() for n in names))
    except Exception:  # an expression pytest will reject itself, or a changed private API
        return True


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (what `nox -s grade`, grade-all and run_autograder pass): tests spread over
    up to 4 cores only when two or more of the selected exercises hold code and there are two
    cores or more. Starting the workers costs about a second, which grading stubs, one
    exercise, or one worker on one core does not win back."""
    folder = resolve_impl(config.getoption("impl"))
    busy = [m for m in written_modules(folder) if _selected(config, m)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(4, cores) if len(busy) >= 2 and (cores or 1) >= 2 else 0


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: every worker grades with the controller's seed, in its language."""
    node.workerinput["grading_seed"] = node.config.stash[GRADING].seed
    node.workerinput["grading_lang"] = node.config.stash[GRADING].lang


@pytest.fixture
def student(request) -> harness.Student:
    """The exercise under test in the implementation being graded; fails fast if absent."""
    g = request.config.stash[GRADING]
    exercise = exercise_of(request.node)
    seed = zlib.crc32(f"{g.seed}:{request.node.nodeid}".encode())
    perturb = not (request.config.getoption("no_perturb") or request.node.get_closest_marker(
        "no_perturb"))
    s = harness.Student(exercise, g.impl, seed, g.probe(exercise), perturb=perturb)
    s.test_id = f"{exercise}-{request.node.name}"
    s.nodeid = request.node.nodeid
    # schedules/ and timelines/ beside results.json; beside <student>.json, in <student>/
    s.reports = (g.results_path.parent if g.results_path.name == "results.json"
                 else g.results_path.parent / g.results_path.stem)
    replay = saved_schedule(request.config)
    if replay is not None and replay["nodeid"] == request.node.nodeid:
        s.replay = replay
    yield s
    for name, value in s.notes:  # e.g. how many schedules were searched: in results.json
        request.node.user_properties.append((name, value))


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
    changed = harness.restore()
    if changed:
        harness.fail(_("your code changed the grader files {files} while it ran: they were "
                       "put back, and this test gets no points.").format(files=changed))


def pytest_runtest_logreport(report):
    g = _grading
    about = dict(report.user_properties).get("grading")
    if g is None or not isinstance(about, dict):
        return
    entry = g.tests.setdefault(report.nodeid, {**about, "status": "not run", "output": "",
                                               "seconds": 0.0})
    entry["seconds"] += report.duration
    for key in ("schedules", "uncontrolled"):  # what the controlled scheduler did
        if dict(report.user_properties).get(key):
            entry[key] = dict(report.user_properties)[key]
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


def skipped_tests(g: Grading) -> list[dict]:
    """Tests this platform cannot run (no os.fork, no start method): no points either way,
    but named with their reason in the table and in results.json."""
    return [{"name": t["name"], "id": t["id"], "reason": t["output"]}
            for t in g.tests.values() if t["status"] == "skipped"]


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


def one_traceback_per_cause(tests: list[dict]) -> dict[str, str]:
    """nodeid -> output, where a long section (a traceback, the stacks of a hang) that an
    earlier test already shows word for word is replaced by a pointer to that test."""
    seen: dict[str, str] = {}
    outputs = {}
    for t in tests:
        blocks = t["output"].split("\n\n")
        for i, block in enumerate(blocks):
            title, _sep, body = block.strip().partition(":\n")
            key = block.strip()
            if i == 0 or len(body) < 200:
                continue
            if key in seen:
                blocks[i] = _("{section}: the same as in “{test}” above.").format(
                    section=title, test=seen[key])
            else:
                seen[key] = t["name"]
        outputs[t["nodeid"]] = "\n\n".join(blocks)
    return outputs


def results_json(g: Grading) -> dict:
    tests = scored_tests(g)
    outputs = one_traceback_per_cause([t for t in tests if t["status"] == "failed"])
    return {
        "score": sum(t["points"] for t in tests if t["status"] == "passed"),
        "max_score": sum(t["points"] for t in tests),
        "execution_time": round(time.time() - g.started, 2),
        "output": _("Graded {folder}/ with seed {seed} (replay: --seed {seed}). "
                    "Containment: {how}.").format(folder=g.impl.name, seed=g.seed,
                                                  how=g.containment.describe()),
        # name: the title in the language of the run; extra_data.id: the same in English,
        # stable across languages (a gradebook keys on it, or on tags: the exercise)
        "tests": [
            {"name": t["name"], "score": t["points"] if t["status"] == "passed" else 0.0,
             "max_score": t["points"], "status": t["status"],
             "output": outputs.get(t["nodeid"], t["output"]),
             "tags": [t["exercise"]],
             "extra_data": {"id": t["id"], "test": t["test"], "nodeid": t["nodeid"],
                            **{k: t[k] for k in ("schedules", "uncontrolled") if t.get(k)}},
             "visibility": "after_published" if t["hidden"] else "visible"}
            for t in tests
        ],
        "extra_data": {"seed": g.seed, "impl": str(g.impl), "graders_sha256": g.fingerprint,
                       "lang": g.lang,
                       "python": sys.version.split()[0], "start_methods": START_METHODS,
                       "limits": harness.LIMITS, "containment": g.containment.as_dict(),
                       "skipped": skipped_tests(g)},
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
    note = _(" … (cut; full feedback in reports/results.json)")

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
        rows = [(_("{exercise}: {passed} of {total} tests passed").format(
                    exercise=name, passed=sum(u["status"] == "passed" for u in group),
                    total=len(group)),
                 all(u["status"] == "passed" for u in group),
                 _("each test's feedback is in reports/results.json"),
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
    lines = [_("## Grade: {score:g} / {max_score:g}").format(score=result["score"],
                                                            max_score=result["max_score"]), "",
             _("| exercise | passed | points |"), "|---|---|---|"]
    for name, row in sorted(table.items()):
        points = f"{row['score']:g}/{row['max']:g}"
        lines.append(f"| {name} | {row['passed']}/{row['total']} | {points} |")
    failed = [t for t in result["tests"] if t["status"] == "failed"]
    if failed:
        lines += ["", _("### What to fix"), ""]
        lines += [f"- **{t['name']}**: {t['output'].strip().splitlines()[0] if t['output'] else ''}"
                  for t in failed]
    return "\n".join(lines) + "\n"


def pytest_sessionfinish(session, exitstatus):
    g = session.config.stash.get(GRADING, None)
    if g is None:
        return
    harness.reap_orphans()
    contain.leave_cgroup_soon()  # no grading child is left; done at exit (leave_cgroup)
    g.workdir.cleanup()
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller writes the reports
    result = results_json(g)
    write_json(g.results_path, result)
    g.page_note = write_page(session.config, g, result)
    classroom = session.config.getoption("classroom")
    if classroom:
        write_json(Path(session.config.invocation_params.dir) / classroom, classroom_json(g))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown_summary(result, by_exercise(scored_tests(g))))


def write_page(config, g: Grading, result: dict) -> str:
    """The report page of this grading (graders/pages.py); the line to print about it. A
    page that cannot be written never changes the grade or the exit status."""
    where = config.getoption("page")
    if where == "":
        return ""
    try:
        from graders import pages

        path = (Path(config.invocation_params.dir) / where if where
                else pages.page_path(g.results_path))
        pages.write_report(result, path)
        return f"report page: {path}"
    except ImportError as e:
        return f"report page skipped: {e.name or 'jinja2'} is not installed (pip install jinja2)"
    except Exception as e:  # a page is a convenience: the grade is in results.json
        return f"report page not written: {type(e).__name__}: {e}"


def pytest_unconfigure(config):
    """The grade table goes last, after pytest's own summary, so it is what a student sees
    when the run ends: the points per exercise and what to do next."""
    g = config.stash.get(GRADING, None)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if g is None or tr is None or hasattr(config, "workerinput"):
        return
    tests = scored_tests(g)
    table = by_exercise(tests)
    tr.write_sep("=", _("grade"))
    # TRANSLATORS: the grade table's column headings and its last row
    exercise, passed, points, total_row = _("exercise"), _("passed"), _("points"), _("TOTAL")
    width = max([len(n) for n in table] + [columns(exercise), columns(total_row)])
    tr.write_line(f"{pad(exercise, width)}  {pad(passed, 7)}  {points}")
    for name, row in sorted(table.items()):
        tr.write_line(f"{name:<{width}}  {row['passed']:>3}/{row['total']:<3}  "
                      f"{row['score']:>5g}/{row['max']:g}")
    score = sum(r["score"] for r in table.values())
    total = sum(r["max"] for r in table.values())
    tr.write_line(f"{pad(total_row, width)}  {sum(r['passed'] for r in table.values()):>3}/"
                  f"{len(tests):<3}  {score:>5g}/{total:g}", bold=True)
    tr.write_line(_("seed {seed} (replay: --seed {seed}); graders sha256 {sha}; reports in "
                    "{folder}").format(seed=g.seed, sha=g.fingerprint[:16],
                                       folder=g.results_path.parent))
    if g.page_note:
        tr.write_line(g.page_note)
    for t in skipped_tests(g):
        tr.write_line(_("skipped here, worth no points: {name}: {reason}").format(
            name=t["name"], reason=t["reason"]))
    for line in next_steps(table):
        tr.write_line(line, bold=True)


def next_steps(table: dict[str, dict]) -> list[str]:
    """What the student should do after reading the table."""
    if not table:
        return [_("No test ran: check the -k expression or the paths you gave.")]
    todo = [name for name, row in sorted(table.items()) if row["score"] < row["max"]]
    if not todo:
        return [_("Full marks: every graded test passed.")]
    todo.sort(key=lambda n: COURSE_ORDER.index(n) if n in COURSE_ORDER else len(COURSE_ORDER))
    first = next((n for n in todo if table[n]["passed"]), todo[0])  # one half done, else the
    # first in the course's order
    return [_("Next: fix {exercise} first. Its failures are explained above, and in "
              "reports/results.json. Grade only it with:  nox -s grade -- -k {exercise}"
              ).format(exercise=first)]


def columns(text: str) -> int:
    """How many terminal columns `text` takes (a CJK character takes two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns."""
    return text + " " * max(0, width - columns(text))
