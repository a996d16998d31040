"""The classroom scripts: the student release, the Gradescope autograder, grading a class.

The release must grade (stubs 0, reference full marks) and leak nothing; the autograder zip
must be laid out as Gradescope wants and grade a submission in a root laid out like
/autograder; grade-all must give the expected gradebook, sharded or not, whatever the
submissions do. Gradings select one or two modules to keep the runtime down.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from classroom import kitfiles
from tests import kit

HIDDEN = sorted(p.stem[len("test_"):] for p in (kit.KIT / "graders" / "hidden").glob("test_*.py"))


def script(name: str, *args: str, env: dict | None = None, timeout: float = 600):
    """Run `python -m classroom.<name> args` from the kit's root, as its nox session does."""
    return subprocess.run([sys.executable, "-m", f"classroom.{name}", *args], cwd=kit.KIT,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def pytest_in(tree: Path, impl: str, results: Path, *args: str) -> tuple[int, dict]:
    """Grade `impl` with the graders of `tree`, in `tree`, with the kit venv's python."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "graders", "--impl", impl, "--results", str(results),
         f"--junitxml={results.with_suffix('.xml')}", "-q", *args],
        cwd=tree, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert results.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(results.read_text())


def files_in(tree: Path) -> set[str]:
    return {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------- hidden

CAUGHT_BY_HIDDEN = {"tickets": "buy_no_lock", "producer_consumer": "consumer_double_task_done",
                    "echo_server": "talk_no_line_buffering"}


@pytest.mark.parametrize("module", sorted(CAUGHT_BY_HIDDEN))
def test_hidden_graders_catch_a_broken_variant(module, tmp_path):
    """Each headline exercise has hidden tests (after_published), and they catch a bug."""
    folder = kit.mutant_folder(kit.MUTANTS / module / f"{CAUGHT_BY_HIDDEN[module]}.py", tmp_path)
    g = kit.grade(folder, "-m", "hidden", "-k", module)
    assert g.results["tests"], g.output[-2000:]
    for t in g.results["tests"]:
        assert t["name"].startswith(f"{module}: ") and t["visibility"] == "after_published"
        assert t["extra_data"]["nodeid"].startswith(f"graders/hidden/test_{module}.py::")
    assert g.failed(), g.output[-2000:]


# ------------------------------------------------------------------------------ release


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> tuple[Path, str]:
    dest = tmp_path_factory.mktemp("release") / "student-repo"
    proc = script("release", str(dest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest, proc.stdout


def test_release_holds_what_a_student_needs_and_nothing_else(released):
    dest, _out = released
    files = files_in(dest)
    want = {f"exercises/{m}.py" for m in kit.MODULES} | {f"graders/test_{m}.py" for m in
                                                         kit.MODULES}
    want |= {"noxfile.py", "pyproject.toml", "README.md", ".gitignore",
             ".github/workflows/grade.yml", "graders/conftest.py", "graders/harness.py",
             "graders/_child.py", "graders/_boot/sitecustomize.py"}
    assert want <= files, want - files
    top = {f.split("/")[0] for f in files}
    assert top == {"exercises", "graders", "noxfile.py", "pyproject.toml", "README.md",
                   ".gitignore", ".github"}, top
    assert not any(f.startswith("graders/hidden") for f in files)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    for m in kit.MODULES:  # the stubs, byte for byte
        assert (dest / "exercises" / f"{m}.py").read_bytes() == \
            (kit.EXERCISES / f"{m}.py").read_bytes()
    assert (dest / "README.md").read_text() == \
        (kit.KIT / "classroom" / "student-README.md").read_text()


def test_release_leaks_no_reference_code(released):
    dest, _out = released
    assert kitfiles.find_leaks(dest) == []
    texts = {f: (dest / f).read_text(encoding="utf-8") for f in files_in(dest)}
    for f, text in texts.items():
        assert "solutions" not in text.lower(), f
        assert "mutant" not in text.lower(), f
        assert "after_published" not in text or f == "graders/conftest.py", f
    everything = "\n".join(texts.values())
    kit_only = "\n".join(p.read_text() for p in (*kit.EXERCISES.glob("*.py"),
                                                 *(kit.KIT / "graders").rglob("*.py"))
                         if "hidden" not in p.parts)
    for solution in kit.SOLUTIONS.glob("*.py"):  # any line only the solution holds
        lines = [ln.strip() for ln in solution.read_text().splitlines()
                 if len(ln.strip()) >= 30 and ln.strip() not in kit_only]
        assert lines, solution.name
        assert not [ln for ln in lines if ln in everything], solution.name
    for hidden in (kit.KIT / "graders" / "hidden").glob("test_*.py"):
        tests = [n for n in ast.parse(hidden.read_text()).body
                 if isinstance(n, ast.FunctionDef)]
        first = ast.get_docstring(tests[-1]).splitlines()[0]
        assert first not in everything, hidden.name


def test_release_noxfile_has_only_grade_and_lint(released):
    dest, _out = released
    tree = ast.parse((dest / "noxfile.py").read_text())
    sessions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                and any("session" in ast.unparse(d) for d in node.decorator_list)]
    assert sessions == ["grade", "lint"]
    if shutil.which("nox"):  # nox can load it (listing makes no venv)
        proc = subprocess.run(["nox", "-l"], cwd=dest, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        listed = [line.split()[1] for line in proc.stdout.splitlines()
                  if line[:2] in ("* ", "- ")]
        assert listed == ["grade", "lint"], proc.stdout


def test_release_pyproject_and_workflow(released):
    dest, _out = released
    pyproject = (dest / "pyproject.toml").read_text()
    for dep in kitfiles.grade_dependencies():
        assert f'"{dep}"' in pyproject
    assert "coverage" not in pyproject and "optional-dependencies" not in pyproject
    try:
        import tomllib
    except ModuleNotFoundError:
        tomllib = None
    if tomllib:
        data = tomllib.loads(pyproject)
        assert data["project"]["dependencies"] == kitfiles.grade_dependencies()
        assert data["tool"]["ruff"]["line-length"] == 100
    flow = (dest / ".github" / "workflows" / "grade.yml").read_text()
    for needed in ("push", "actions/setup-python@", 'python-version: "3.11"',
                   "pip install", "nox", "nox -s grade -- --classroom reports/classroom.json",
                   "actions/upload-artifact@", "path: reports/", "if: always()",
                   "base64 -w0 reports/classroom.json",
                   "classroom-resources/autograding-grading-reporter@v1",
                   "GRADERS_RESULTS: ${{ steps.graders.outputs.result }}", "runners: graders"):
        assert needed in flow, needed
    assert "\t" not in flow


def test_released_stubs_score_zero(released, tmp_path):
    dest, out = released
    code, r = pytest_in(dest, "exercises", tmp_path / "results.json")
    assert code != 0
    assert r["score"] == 0 and r["max_score"] > 0
    assert {t["name"].split(":")[0] for t in r["tests"]} == set(kit.MODULES)
    assert all(t["visibility"] == "visible" for t in r["tests"])
    assert r["extra_data"]["graders_sha256"] in out  # the release prints the fingerprint


def test_released_graders_give_the_reference_full_marks(released, tmp_path):
    dest, _out = released
    repo = tmp_path / "repo"
    shutil.copytree(dest, repo)
    for path in kit.SOLUTIONS.glob("*.py"):
        shutil.copy(path, repo / "exercises" / path.name)
    code, r = pytest_in(repo, "exercises", tmp_path / "results.json",
                        "-k", "queues or daemons or counter")
    assert code == 0, [t["output"] for t in r["tests"] if t["status"] == "failed"]
    assert r["score"] == r["max_score"] > 0
    assert {t["name"].split(":")[0] for t in r["tests"]} == {"queues", "daemons", "counter"}


def test_release_refuses_the_kit_itself_and_kit_folders(tmp_path):
    assert script("release", str(kit.KIT / "out")).returncode != 0
    (tmp_path / "solutions").mkdir()
    proc = script("release", str(tmp_path))
    assert proc.returncode != 0 and "solutions" in proc.stderr


def test_release_into_an_existing_clone_keeps_its_git(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "graders").mkdir()
    (tmp_path / "graders" / "stale.py").write_text("old = True\n")
    assert script("release", str(tmp_path)).returncode == 0
    assert (tmp_path / ".git" / "HEAD").exists()
    assert not (tmp_path / "graders" / "stale.py").exists()


# --------------------------------------------------------------------------- gradescope


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    proc = script("gradescope", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_autograder_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        requirements = zf.read("requirements.txt").decode().split()
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
    for name in ("setup.sh", "run_autograder"):
        assert name in names and modes[name] & stat.S_IXUSR, name
    assert {"requirements.txt", "pyproject.toml", "graders/conftest.py"} <= names
    assert {f"graders/test_{m}.py" for m in kit.MODULES} <= names
    assert {f"graders/hidden/test_{m}.py" for m in HIDDEN} | {"graders/hidden/__init__.py"} \
        <= names
    assert set(HIDDEN) >= {"tickets", "producer_consumer", "echo_server"}
    assert not [n for n in names if n.split("/")[0] in ("solutions", "tests", "exercises",
                                                          "bench", "classroom")]
    assert not [n for n in names if "__pycache__" in n]
    assert requirements == kitfiles.grade_dependencies()
    assert "apt-get install -y python3 python3-pip python3-venv" in setup
    assert "/venv" in setup and "requirements.txt" in setup
    assert "AUTOGRADER_ROOT" in run and "results/results.json" in run


def autograder_root(tmp_path: Path, autograder_zip: Path) -> Path:
    root = tmp_path / "autograder"
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    return root


def run_autograder(root: Path, *args: str, python: str = sys.executable):
    """run_autograder as Gradescope runs it (setup.sh skipped: the kit venv has the deps)."""
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": python}
    return subprocess.run([str(root / "source" / "run_autograder"), *args], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL, env=env)


def test_run_autograder_grades_a_repository_upload(tmp_path, autograder_zip):
    root = autograder_root(tmp_path, autograder_zip)
    before = files_in(root / "source")
    exercises = root / "submission" / "my-repo" / "exercises"  # a zip of the repository
    shutil.copytree(kit.SOLUTIONS, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(kit.MUTANTS / "tickets" / "buy_no_lock.py", exercises / "tickets.py")
    proc = run_autograder(root, "-k", "tickets or queues")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads((root / "results" / "results.json").read_text())
    assert 0 < r["score"] < r["max_score"]
    by_module: dict[str, list[dict]] = {}
    for t in r["tests"]:
        by_module.setdefault(t["name"].split(":")[0], []).append(t)
    assert set(by_module) == {"tickets", "queues"}
    assert all(t["status"] == "passed" for t in by_module["queues"])
    hidden = [t for t in r["tests"] if t["visibility"] == "after_published"]
    assert hidden and all(t["name"].startswith("tickets: ") for t in hidden)
    assert any(t["status"] == "failed" for t in hidden)  # the crowd finds the missing lock
    assert all(t["visibility"] == "visible" for t in r["tests"] if t not in hidden)
    assert files_in(root / "source") == before  # graded from a copy


def test_run_autograder_scores_an_empty_submission_zero(tmp_path, autograder_zip):
    root = autograder_root(tmp_path, autograder_zip)
    proc = run_autograder(root, "-k", "queues")
    assert proc.returncode == 0
    r = json.loads((root / "results" / "results.json").read_text())
    assert r["score"] == 0 and r["max_score"] > 0
    assert all("missing" in t["output"] for t in r["tests"])


def test_run_autograder_reports_when_it_cannot_grade(tmp_path, autograder_zip):
    root = autograder_root(tmp_path, autograder_zip)
    broken = tmp_path / "python-without-pytest"
    broken.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ]; then echo "No module named pytest" >&2; '
                      f'exit 1; fi\nexec {sys.executable} "$@"\n')
    broken.chmod(0o755)
    proc = run_autograder(root, python=str(broken))
    assert proc.returncode == 0
    r = json.loads((root / "results" / "results.json").read_text())
    assert r["score"] == 0 and "No module named pytest" in r["output"]


# ---------------------------------------------------------------------------- grade-all

SELECT = ["--", "-k", "producer_consumer or queues"]
MUTANT = kit.MUTANTS / "producer_consumer" / "consumer_double_task_done.py"


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """Five students: the reference, the stubs (as a repository), a mutant, an empty folder
    and a folder whose every module is a syntax error."""
    folder = tmp_path_factory.mktemp("class")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(kit.SOLUTIONS, folder / "ann-reference", ignore=ignore)
    shutil.copytree(kit.EXERCISES, folder / "bob-stubs" / "exercises", ignore=ignore)
    shutil.copytree(kit.SOLUTIONS, folder / "cy-mutant", ignore=ignore)
    shutil.copy(MUTANT, folder / "cy-mutant" / "producer_consumer.py")
    (folder / "dan-empty").mkdir()
    (folder / "eve-broken").mkdir()
    for m in kit.MODULES:
        (folder / "eve-broken" / f"{m}.py").write_text("def broken(:\n    pass\n")
    (folder / ".git").mkdir()  # not a student
    return folder


@pytest.fixture(scope="module")
def gradebook(klass, tmp_path_factory) -> tuple[Path, list[dict], str]:
    out = tmp_path_factory.mktemp("graded")
    proc = script("grade_all", str(klass), "--out", str(out), *SELECT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "gradebook.csv", newline="") as f:
        return out, list(csv.DictReader(f)), proc.stdout


def test_grade_all_gives_the_expected_gradebook(gradebook):
    out, rows, _stdout = gradebook
    assert list(rows[0]) == ["student", "producer_consumer", "queues", "total", "max", "note"]
    by = {row["student"]: row for row in rows}
    assert list(by) == ["ann-reference", "bob-stubs", "cy-mutant", "dan-empty", "eve-broken"]
    ref = by["ann-reference"]
    full = {m: float(ref[m]) for m in ("producer_consumer", "queues")}
    assert all(v > 0 for v in full.values())
    assert float(ref["total"]) == float(ref["max"]) == sum(full.values())
    assert {row["max"] for row in rows} == {ref["max"]}
    for name in ("bob-stubs", "dan-empty", "eve-broken"):
        row = by[name]
        assert float(row["total"]) == float(row["producer_consumer"]) == float(row["queues"]) \
            == 0, row
    mutant = by["cy-mutant"]
    assert float(mutant["queues"]) == full["queues"]
    assert float(mutant["producer_consumer"]) < full["producer_consumer"]
    assert float(mutant["total"]) == float(mutant["producer_consumer"]) + full["queues"]
    assert all(row["note"] == "" for row in rows)


def test_grade_all_writes_gradescope_results_with_hidden_tests(gradebook):
    out, rows, stdout = gradebook
    for row in rows:
        r = json.loads((out / f"{row['student']}.json").read_text())
        assert r["score"] == float(row["total"]) and r["max_score"] == float(row["max"])
        hidden = [t for t in r["tests"] if t["visibility"] == "after_published"]
        assert hidden and all(t["name"].startswith("producer_consumer: ") for t in hidden)
        assert (out / "logs" / f"{row['student']}.log").exists()
    cy = json.loads((out / "cy-mutant.json").read_text())
    assert any(t["status"] == "failed" for t in cy["tests"] if t["visibility"] ==
               "after_published")
    progress = [line for line in stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 5 and all(" s" in line for line in progress)
    assert any("ann-reference" in line and f"{rows[0]['max']}/{rows[0]['max']}" in line
               for line in progress)


def test_shards_merge_into_the_unsharded_gradebook(klass, gradebook, tmp_path):
    _out, rows, _stdout = gradebook
    for shard in ("0/2", "1/2"):
        proc = script("grade_all", str(klass), "--out", str(tmp_path), "--shard", shard,
                      *SELECT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / "gradebook-shard-0-of-2.csv", newline="") as f:
        assert [r["student"] for r in csv.DictReader(f)] == ["ann-reference", "cy-mutant",
                                                              "eve-broken"]
    assert not (tmp_path / "gradebook.csv").exists()
    proc = script("grade_all", "--merge", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "gradebook.csv", newline="") as f:
        assert list(csv.DictReader(f)) == rows


def test_merge_refuses_a_missing_shard(tmp_path):
    header = "student,queues,total,max,note\n"
    (tmp_path / "gradebook-shard-0-of-3.csv").write_text(header + "ann,7,7,7,\n")
    (tmp_path / "gradebook-shard-2-of-3.csv").write_text(header + "cy,0,0,7,\n")
    proc = script("grade_all", "--merge", "--out", str(tmp_path))
    assert proc.returncode != 0 and "1/3" in proc.stderr
    assert not (tmp_path / "gradebook.csv").exists()


@pytest.mark.parametrize("bad", ["2/2", "1/0", "x", "-1/2"])
def test_shard_must_be_i_of_n(bad, tmp_path):
    proc = script("grade_all", str(tmp_path), "--shard", bad)
    assert proc.returncode == 2 and "--shard" in proc.stderr


def test_a_submission_that_runs_out_of_time_does_not_stop_the_batch(tmp_path):
    klass = tmp_path / "class"
    (klass / "loops").mkdir(parents=True)
    (klass / "loops" / "queues.py").write_text("while True:\n    pass\n")
    (klass / "stubs").mkdir()
    shutil.copy(kit.EXERCISES / "queues.py", klass / "stubs" / "queues.py")
    run_id = "grade-all-timeout-test"
    proc = script("grade_all", str(klass), "--out", str(tmp_path / "out"), "--timeout", "8",
                  "--", "-k", "queues", env={"KIT_GRADE_ID": run_id})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / "out" / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert "stopped after 8 s" in rows["loops"]["note"] and rows["loops"]["total"] == "0"
    assert rows["loops"]["max"] == rows["stubs"]["max"] != ""  # the class's max
    assert rows["stubs"]["note"] == "" and rows["stubs"]["total"] == "0"
    r = json.loads((tmp_path / "out" / "loops.json").read_text())
    assert r["score"] == 0 and "stopped" in r["output"]
    assert kit.leftovers(kit.Grade(0, {}, None, "", 0.0, run_id)) == []
