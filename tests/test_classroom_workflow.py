"""The student repository's workflow gets the points to GitHub Classroom.

classroom/grade.yml (released as .github/workflows/grade.yml) is checked against what
classroom-resources/autograding-grading-reporter@v1 does (its src/main.js and
src/notify-classroom.js, as of its v1 tag) and against the workflow Classroom generates:

- the reporter reads, for each id of its `runners` input, the environment variable
  `<id upper-cased>_RESULTS`, base64 of the runner result JSON; one variable over 128 KiB
  (MAX_ARG_STRLEN on Linux) and the action does not start ("Argument list too long");
- it adds the notice "Points <sum of tests[].score>/<max_score>" (nothing if max_score is 0),
  which Classroom records, and fails the step when the result's status is "fail" or "error";
- Classroom takes the points from a workflow named "Autograding Tests" whose one job is
  `run-autograding-tests`, triggered on push and repository_dispatch.

The runner result itself comes from graders/conftest.py (classroom_json), checked on a real
grading of the stubs and on a synthetic worst case.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import types

import pytest

from tests import kit

WORKFLOW = kit.KIT / "classroom" / "grade.yml"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
MAX_ARG_STRLEN = 128 * 1024  # one "NAME=value" string of an exec, NUL included
FAR_BELOW = 96 * 1024  # what a runner result may take: a quarter of the limit to spare
CUT = "… (cut; full feedback in reports/results.json)"


# ------------------------------------------------------------------ reading the workflow

KEY = re.compile(r"""^("[^"]*"|'[^']*'|[^\s"'#][^:]*?)\s*:(?:\s+(.*))?$""")


def _uncomment(line: str) -> str:
    """The line without its comment: a # at its start or after a blank, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str):
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return int(text) if text.isdigit() else text


class _Reader:
    """The block-style YAML the workflow is written in: mappings, sequences, plain and quoted
    scalars, `|` blocks and comments. Not a general YAML parser (PyYAML is not a dependency
    of the kit; test_reader_agrees_with_pyyaml compares the two where PyYAML is installed)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.i = 0

    def peek(self) -> tuple[int, str] | None:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            content = _uncomment(line).strip()
            if content:
                return len(line) - len(line.lstrip(" ")), content
            self.i += 1
        return None

    def node(self, indent: int):
        nxt = self.peek()
        if nxt is None or nxt[0] < indent:
            return None
        return self.sequence(nxt[0]) if self.is_item(nxt[1]) else self.mapping(nxt[0])

    @staticmethod
    def is_item(content: str) -> bool:
        return content == "-" or content.startswith("- ")

    def sequence(self, indent: int) -> list:
        items = []
        while (nxt := self.peek()) and nxt[0] == indent and self.is_item(nxt[1]):
            rest = nxt[1][1:].strip()
            if KEY.match(rest):  # "- key: value": a mapping, as if the dash were a blank
                line = self.lines[self.i] = self.lines[self.i].replace("-", " ", 1)
                items.append(self.mapping(len(line) - len(line.lstrip(" "))))
            else:
                self.i += 1
                items.append(_scalar(rest) if rest else self.node(indent + 1))
        return items

    def mapping(self, indent: int) -> dict:
        out = {}
        while (nxt := self.peek()) and nxt[0] == indent and not self.is_item(nxt[1]):
            match = KEY.match(nxt[1])
            assert match, f"line {self.i + 1}: {nxt[1]!r} is not read by this test's reader"
            key, value = _scalar(match[1]), (match[2] or "").strip()
            self.i += 1
            if value in ("|", "|-"):
                out[key] = self.block(indent, keep_newline=value == "|")
            elif value:
                out[key] = _scalar(value)
            else:
                after = self.peek()
                same_level_list = after and after[0] == indent and self.is_item(after[1])
                out[key] = self.sequence(indent) if same_level_list else self.node(indent + 1)
        return out

    def block(self, indent: int, keep_newline: bool) -> str:
        lines = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            lines.append(line)
            self.i += 1
        while lines and not lines[-1].strip():
            lines.pop()
        cut = min(len(line) - len(line.lstrip(" ")) for line in lines if line.strip())
        return "\n".join(line[cut:] for line in lines) + ("\n" if keep_newline else "")


def read_yaml(text: str):
    return _Reader(text).node(0)


@pytest.fixture(scope="module")
def flow() -> dict:
    return read_yaml(WORKFLOW.read_text())


def the_job(flow: dict) -> dict:
    return flow["jobs"]["run-autograding-tests"]


def step(flow: dict, **match) -> dict:
    found = [s for s in the_job(flow)["steps"]
             if all(str(s.get(k, "")).startswith(v) for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


# ------------------------------------------------------------- what the reporter does

def js_number(x: float) -> str:
    """A number as JavaScript's template strings print it."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e21 else repr(float(x))


def reporter(runners: str, env: dict) -> dict:
    """classroom-resources/autograding-grading-reporter@v1, step by step from its source:
    main.js decodes `${runner.trim().toUpperCase()}_RESULTS` for each comma-separated runner;
    notify-classroom.js adds, over the runners whose max_score is truthy, max_score to the
    maximum and every tests[].score to the points, and emits `Points ${points}/${maximum}`
    (no notice at all when the maximum is 0); console-results.js prints "Total points for
    <runner>" as (tests with status "pass" / all tests) * max_score; main.js then fails the
    step when a result's status is "fail" (or "error")."""
    results = []
    for runner in runners.split(","):
        encoded = env[f"{runner.strip().upper()}_RESULTS"]
        results.append((runner, json.loads(base64.b64decode(encoded).decode("utf-8"))))
    points = maximum = 0
    for _runner, r in results:
        if not r.get("max_score"):
            continue
        maximum += r["max_score"]
        for t in r["tests"]:
            points += t["score"]
    table = {runner: sum(t["status"] == "pass" for t in r["tests"]) / len(r["tests"])
             * (r.get("max_score") or 0) for runner, r in results if r["tests"]}
    return {"notice": f"Points {js_number(points)}/{js_number(maximum)}" if maximum else None,
            "points": points, "maximum": maximum, "table": table,
            "failed": any(r["status"] in ("fail", "error") for _runner, r in results)}


def check_runner_result(data: dict) -> None:
    """The fields and types the reporter reads, as Classroom's own graders write them."""
    assert data["version"] == 1 and data["status"] in ("pass", "fail")
    assert isinstance(data["max_score"], (int, float)) and not isinstance(data["max_score"], bool)
    for t in data["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert t["status"] in ("pass", "fail")
        assert isinstance(t["score"], (int, float)) and not isinstance(t["score"], bool)
        assert isinstance(t["message"], str) and isinstance(t["test_code"], str)
        assert t["line_no"] == 0  # else it prints " - line <line_no>" after the name
    assert (data["status"] == "pass") == (bool(data["tests"]) and
                                          all(t["status"] == "pass" for t in data["tests"]))


def env_size(data: dict, name: str = "GRADERS_RESULTS") -> int:
    """Bytes of the reporter's environment string for this result, as the workflow encodes
    the file conftest.write_json writes."""
    encoded = base64.b64encode(json.dumps(data, indent=2).encode())
    return len(name) + 1 + len(encoded) + 1


# ------------------------------------------------------------------------ the workflow

def test_reader_agrees_with_pyyaml(flow):
    yaml = pytest.importorskip("yaml")
    assert flow == yaml.safe_load(WORKFLOW.read_text())


def test_workflow_is_laid_out_as_classroom_generates_it(flow):
    assert flow["name"] == "Autograding Tests"
    assert {"push", "repository_dispatch"} <= set(flow["on"]) <= {
        "push", "repository_dispatch", "workflow_dispatch"}
    assert flow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert list(flow["jobs"]) == ["run-autograding-tests"]  # one job, and that one
    job = the_job(flow)
    assert job.get("name", "run-autograding-tests") == "run-autograding-tests"  # check run name
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    assert job["runs-on"] == "ubuntu-latest"


def test_workflow_grades_with_nox_and_keeps_the_reports(flow):
    steps = the_job(flow)["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert step(flow, uses="actions/setup-python@")["with"]["python-version"] == "3.11"
    install = step(flow, name="Install nox")["run"]
    assert "pip install" in install and install.split()[-1] == "nox"
    grade = step(flow, name="Grade")
    assert "nox -s grade -- --classroom reports/classroom.json" in grade["run"]
    keep = step(flow, uses="actions/upload-artifact@")
    assert keep["if"] == "always()"
    assert keep["with"]["name"] == "grading-reports" and keep["with"]["path"] == "reports/"
    assert steps.index(grade) < steps.index(keep)


def test_reporter_reads_what_the_grade_step_writes(flow):
    steps = the_job(flow)["steps"]
    report = step(flow, uses="classroom-resources/")
    assert report["uses"] == REPORTER and steps[-1] is report
    assert report["if"].startswith("always()")  # also after the red grade step
    runners = report["with"]["runners"].split(",")
    # the reporter's own rule for runner ids (else its error hides the real one)
    assert re.fullmatch(r"([a-zA-Z0-9]+,)*[a-zA-Z0-9]+", report["with"]["runners"])
    assert set(report["env"]) == {f"{r.strip().upper()}_RESULTS" for r in runners}
    for runner in runners:
        value = report["env"][f"{runner.strip().upper()}_RESULTS"]
        producer = re.fullmatch(r"\$\{\{ *steps\.([\w-]+)\.outputs\.(\w+) *\}\}", value)
        assert producer and producer[1] == runner.strip(), value
        source = step(flow, id=producer[1])
        assert steps.index(source) < steps.index(report)
        assert f"{producer[2]}=$(base64 -w0 reports/classroom.json)" in source["run"]
        assert f"steps.{producer[1]}.outputs.{producer[2]} != ''" in report["if"]


@pytest.mark.parametrize("nox_exit, writes", [(1, True), (0, True), (3, False)])
def test_grade_step_script_keeps_nox_exit_status_and_passes_the_result(flow, tmp_path,
                                                                        nox_exit, writes):
    """The grade step's script, run as GitHub runs it (bash -e) with a stand-in nox: the step
    fails exactly when nox does (red until full marks), the base64 of reports/classroom.json
    goes to $GITHUB_OUTPUT, and the reporter reads from it what the file holds."""
    bin_dir, work = tmp_path / "bin", tmp_path / "repo"
    bin_dir.mkdir()
    work.mkdir()
    result = {"version": 1, "status": "fail", "max_score": 3.0, "tests": [
        {"name": "a", "status": "pass", "score": 2.0, "message": "", "test_code": "t::a",
         "line_no": 0},
        {"name": "b", "status": "fail", "score": 0.0, "message": "é", "test_code": "t::b",
         "line_no": 0}]}
    fake = bin_dir / "nox"
    fake.write_text("#!/bin/sh\n"
                    '[ "$*" = "-s grade -- --classroom reports/classroom.json" ] || exit 99\n'
                    + (f"mkdir -p reports && cat > reports/classroom.json <<'EOF'\n"
                       f"{json.dumps(result, indent=2)}\nEOF\n" if writes else "")
                    + f"exit {nox_exit}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "step.sh"
    script.write_text(step(flow, id="graders")["run"])
    output = tmp_path / "github_output"
    output.write_text("")
    proc = subprocess.run(["bash", "-e", str(script)], cwd=work, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "GITHUB_OUTPUT": str(output),
                                           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == nox_exit, proc.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    if not writes:
        assert outputs == {}  # and the reporter step is skipped
        return
    report = step(flow, uses=REPORTER)
    env = {name: outputs["result"] for name in report["env"]}
    seen = reporter(report["with"]["runners"], env)
    assert seen["notice"] == "Points 2/3" and seen["failed"]


# -------------------------------------------------------------------- the runner result

@pytest.fixture(scope="module")
def stub_grading(tmp_path_factory):
    path = tmp_path_factory.mktemp("classroom") / "classroom.json"
    # --classroom is relative to where pytest starts (the kit's root here): give it whole
    graded = kit.grade(kit.EXERCISES, "--classroom", str(path))
    assert path.exists(), graded.output[-3000:]
    return graded, json.loads(path.read_text())


def test_stub_grading_reports_its_points_to_classroom(stub_grading):
    graded, data = stub_grading
    check_runner_result(data)
    results = graded.results
    assert [t["name"] for t in data["tests"]] == [t["name"] for t in results["tests"]]
    assert [t["status"] for t in data["tests"]] == [
        "pass" if t["status"] == "passed" else "fail" for t in results["tests"]]
    assert [t["test_code"] for t in data["tests"]] == [
        t["extra_data"]["nodeid"] for t in results["tests"]]
    for ours, full in zip(data["tests"], results["tests"], strict=True):
        check_message(ours["message"], full["output"])
        if len(full["output"]) < 500:  # a stub's feedback is short: kept whole
            assert ours["message"] == full["output"].strip()
    seen = reporter("graders", {"GRADERS_RESULTS": base64.b64encode(
        json.dumps(data, indent=2).encode()).decode()})
    assert seen["points"] == results["score"] == 0 and seen["failed"]
    assert seen["maximum"] == results["max_score"] > 0
    assert seen["notice"] == f"Points 0/{js_number(results['max_score'])}"
    assert env_size(data) < FAR_BELOW < MAX_ARG_STRLEN


def fake_grading(count: int, output: str, exercises: int = 10) -> types.SimpleNamespace:
    """What classroom_json reads of a Grading: its tests, as conftest records them."""
    tests = {}
    for i in range(count):
        nodeid = f"graders/test_echo_server.py::test_serve_crowd_{i:03d}[forkserver]"
        tests[nodeid] = {
            "name": f"echo_server: serve() answers 120 clients at once, each line split at "
                    f"random places, then stops, case {i:03d} (forkserver)",
            "exercise": f"exercise{i % exercises}", "points": float(1 + i % 3),
            "test": f"test_serve_crowd_{i:03d}", "nodeid": nodeid, "hidden": False,
            "status": "passed" if i % 4 == 0 else "failed",
            "output": "" if i % 4 == 0 else f"{i}: {output}", "seconds": 1.5}
    return types.SimpleNamespace(tests=tests)


def classroom_json(grading) -> dict:
    from graders import conftest

    return conftest.classroom_json(grading)


def check_message(message: str, output: str) -> None:
    """A message is the whole output, or its start cut with the marker, or empty when
    there is no room left; never over 1,000 characters."""
    assert len(message) <= 1000
    if message and message != output.strip():
        assert message.endswith(" " + CUT)
        assert output.startswith(message[:-len(CUT) - 1])


def points_of(grading) -> tuple[float, float]:
    tests = list(grading.tests.values())
    return (sum(t["points"] for t in tests if t["status"] == "passed"),
            sum(t["points"] for t in tests))


@pytest.mark.parametrize("count, output", [
    (200, "x" * 100_000),                          # 200 failing tests, 100 KB of output each
    (200, ("a line of a stack dump é\x01\n" * 5000)[:100_000]),  # escapes take 6 bytes
    (60, "y" * 100_000),                           # as many tests as the kit has
    (10, "z" * 5000),
])
def test_runner_result_stays_far_below_the_environment_limit(count, output):
    grading = fake_grading(count, output)
    data = classroom_json(grading)
    check_runner_result(data)
    assert len(data["tests"]) == count  # every test still listed
    assert env_size(data) < FAR_BELOW
    by_name = {t["name"]: t for t in grading.tests.values()}
    for t in data["tests"]:
        check_message(t["message"], by_name[t["name"]]["output"])
    if count <= 60:  # room for a useful start of every failure
        assert all(len(t["message"]) > 500 for t in data["tests"] if t["status"] == "fail")
    seen = reporter("graders", {"GRADERS_RESULTS": base64.b64encode(
        json.dumps(data, indent=2).encode()).decode()})
    assert (seen["points"], seen["maximum"]) == points_of(grading)
    assert seen["failed"]


def test_a_short_message_is_kept_whole_and_a_long_one_cut_at_1000():
    grading = fake_grading(8, "")
    long_one, short_one = list(grading.tests.values())[1:3]
    long_one["output"], short_one["output"] = "w" * 5000, "  two lines\nof feedback  \n"
    data = {t["name"]: t for t in classroom_json(grading)["tests"]}
    cut = data[long_one["name"]]["message"]
    assert cut.startswith("w" * 900) and cut.endswith("w " + CUT)
    assert 990 <= len(json.dumps(cut)) - 2 <= 1000  # as written: "…" is \u2026 there
    assert data[short_one["name"]]["message"] == "two lines\nof feedback"


def test_too_many_tests_to_list_report_one_entry_per_exercise_with_the_same_points():
    grading = fake_grading(1000, "v" * 1000, exercises=7)
    data = classroom_json(grading)
    check_runner_result(data)
    assert len(data["tests"]) == 7 and env_size(data) < FAR_BELOW
    assert all(t["status"] == "fail" and " of " in t["name"] for t in data["tests"])
    seen = reporter("graders", {"GRADERS_RESULTS": base64.b64encode(
        json.dumps(data).encode()).decode()})
    assert (seen["points"], seen["maximum"]) == points_of(grading)


def test_full_marks_and_no_tests():
    grading = fake_grading(30, "")
    for t in grading.tests.values():
        t["status"], t["output"] = "passed", ""
    data = classroom_json(grading)
    check_runner_result(data)
    seen = reporter("graders", {"GRADERS_RESULTS": base64.b64encode(
        json.dumps(data).encode()).decode()})
    assert data["status"] == "pass" and not seen["failed"]
    assert seen["notice"] == f"Points {js_number(points_of(grading)[1])}/" \
                             f"{js_number(points_of(grading)[1])}"
    assert seen["table"]["graders"] == seen["maximum"]
    empty = classroom_json(types.SimpleNamespace(tests={}))
    assert empty["status"] == "fail" and empty["max_score"] == 0 and empty["tests"] == []
    assert reporter("graders", {"GRADERS_RESULTS": base64.b64encode(
        json.dumps(empty).encode()).decode()})["notice"] is None
