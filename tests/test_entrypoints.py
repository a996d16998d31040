"""Every command a README prints, run the way its reader types it: through nox, in a fresh
copy of the kit (which has no ../shared beside it, as a clone from the repository has none)
or in a fresh student release, with the system's python3 and no standard input.

Commands are taken from the READMEs themselves where they are written to be copied, so a
README that changes its command changes what is tested.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests import kit

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the READMEs' commands are sh")

KIT_IGNORED = shutil.ignore_patterns(".git", ".nox", ".venv", "reports", "dist", "__pycache__",
                                     "*.pyc", ".coverage*", ".ruff_cache")


def user_env() -> dict[str, str]:
    """The environment of a user's shell: this test session's venv is not on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "KIT_GRADE_ID")
           and not k.startswith(("NOX_", "PYTEST_"))}
    venv = Path(sys.prefix)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not Path(p).resolve().is_relative_to(venv.resolve()))
    return env


def sh(line: str, cwd: Path, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    """Run one line as a user's shell would."""
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout,
                          env={**user_env(), **extra})


def shown(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n" \
           f"{proc.stderr[-3000:]}"


def code_lines(readme: Path, containing: str) -> list[str]:
    """The command lines of the README's ```sh blocks that contain `containing` (a comment
    after the command is dropped, as the shell does)."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", readme.read_text(encoding="utf-8"), re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if containing in line:
                lines.append(line)
    return lines


def assert_table_last(proc: subprocess.CompletedProcess) -> None:
    """What a student sees last is the grade table and what to do next, not pytest's list of
    failed tests (nox's own closing lines go to stderr), in English or in Chinese."""
    out = [line for line in proc.stdout.splitlines() if line.strip()]
    assert out and out[-1].startswith(("Next:", "Full marks", "下一步：", "满分：")), shown(proc)
    tail = out[-16:]
    assert any(line.startswith(("TOTAL", "合计")) for line in tail), shown(proc)
    total = max(i for i, line in enumerate(out) if line.startswith(("TOTAL", "合计")))
    assert not any(line.startswith("FAILED") for line in out[total:]), shown(proc)


def results(folder: Path) -> dict:
    return json.loads((folder / "reports" / "results.json").read_text())


def scores(data: dict) -> tuple[float, float, set[str]]:
    return data["score"], data["max_score"], {t["name"].split(":")[0] for t in data["tests"]}


@pytest.fixture(scope="module")
def kit_copy(tmp_path_factory) -> Path:
    """The kit as a clone of its repository has it: no ../shared, no venvs, no reports."""
    dest = tmp_path_factory.mktemp("clone") / "kit"
    shutil.copytree(kit.KIT, dest, ignore=KIT_IGNORED)
    return dest


# ------------------------------------------------------------------------ the kit's README


def test_kit_readme_first_command_grades_the_stubs(kit_copy):
    """README: `python3 -m pip install nox && python3 -m nox -s grade` on a fresh clone."""
    line = code_lines(kit_copy / "README.md", "nox -s grade")[0]
    assert line.startswith("python3 -m pip install nox"), line
    proc = sh(line, kit_copy)
    assert proc.returncode == 1, shown(proc)
    score, max_score, exercises = scores(results(kit_copy))
    assert score == 0 and max_score > 0 and exercises == set(kit.MODULES), shown(proc)
    assert_table_last(proc)


def test_kit_grades_the_reference_with_full_marks(kit_copy):
    """README: `nox -s grade -- --impl solutions`, all of it and one exercise with -k."""
    proc = sh("python3 -m nox -s grade -- --impl solutions", kit_copy)
    assert proc.returncode == 0, shown(proc)
    score, max_score, exercises = scores(results(kit_copy))
    assert score == max_score > 0 and exercises == set(kit.MODULES)
    assert_table_last(proc)
    proc = sh("python3 -m nox -s grade -- --impl solutions -k tickets", kit_copy)
    assert proc.returncode == 0, shown(proc)
    score, max_score, exercises = scores(results(kit_copy))
    assert score == max_score > 0 and exercises == {"tickets"}
    # one exercise is not worth starting xdist workers for
    assert "created:" not in proc.stdout and "[gw" not in proc.stdout, shown(proc)


def test_kit_tests_session_runs_only_the_paths_given(kit_copy):
    """README: `nox -s tests`; with paths after --, only those run."""
    assert code_lines(kit_copy / "README.md", "nox -s tests")
    proc = sh("python3 -m nox -s tests -- tests/test_entrypoints.py -k never_a_test_name",
              kit_copy)
    here = len([line for line in Path(__file__).read_text().splitlines()
                if line.startswith("def test_")])
    assert f"collected {here} items / {here} deselected" in proc.stdout, shown(proc)


# ------------------------------------------------------------------ the student repository


@pytest.fixture(scope="module")
def release(kit_copy) -> Path:
    """README: `nox -s release -- ../concurrency-exercises`, from the kit's folder."""
    line = code_lines(kit_copy / "README.md", "nox -s release")[0]
    proc = sh(f"python3 -m {line}" if line.startswith("nox") else line, kit_copy)
    assert proc.returncode == 0, shown(proc)
    dest = (kit_copy / line.split("--", 1)[1].split()[0]).resolve()
    assert (dest / "README.md").exists() and not (dest / "solutions").exists()
    return dest


def student_commands(release: Path) -> tuple[str, list[str]]:
    """The student README's set-up line and its grading lines."""
    readme = release / "README.md"
    setup = [line for line in code_lines(readme, "pip install nox")]
    grading = [line for line in code_lines(readme, "nox -s grade") if "pip" not in line]
    assert setup and grading, readme.read_text()[:2000]
    return setup[0], grading


def test_student_first_commands_on_the_stubs(release):
    """The release's README, as typed on the stubs: exit 1, 0 points, the table last."""
    setup, grading = student_commands(release)
    for line in [setup] + [g for g in grading if "--seed" not in g]:
        proc = sh(f"python3 -m {line}" if line.startswith("nox") else line, release)
        assert proc.returncode == 1, line + "\n" + shown(proc)
        score, max_score, exercises = scores(results(release))
        assert score == 0 and max_score > 0, line
        if "-k tickets" in line:
            assert exercises == {"tickets"}, line
        assert_table_last(proc)


def test_student_correct_submission_gets_full_marks(release, tmp_path):
    """A complete, correct submission copied into exercises/: exit 0 and full marks, for
    everything and for one exercise."""
    work = tmp_path / "student"
    shutil.copytree(release, work, ignore=shutil.ignore_patterns("reports"))
    for path in kit.SOLUTIONS.glob("*.py"):
        shutil.copy(path, work / "exercises" / path.name)
    for line in ("python3 -m nox -s grade", "python3 -m nox -s grade -- -k tickets"):
        proc = sh(line, work)
        assert proc.returncode == 0, line + "\n" + shown(proc)
        score, max_score, exercises = scores(results(work))
        assert score == max_score > 0, line
        assert exercises == ({"tickets"} if "-k" in line else set(kit.MODULES)), line
        assert_table_last(proc)


# -------------------------------------------------------------- Gradescope and grade-all


def test_gradescope_run_autograder_as_the_readme_shows(kit_copy, tmp_path):
    """README: `nox -s gradescope`, then the lines that lay out a root and run it."""
    proc = sh("python3 -m nox -s gradescope", kit_copy)
    assert proc.returncode == 0, shown(proc)
    assert zipfile.ZipFile(kit_copy / "dist" / "autograder.zip").namelist()
    root = tmp_path / "ag"
    lines = [line.replace("/tmp/ag", str(root)) for line in
             code_lines(kit_copy / "README.md", "/tmp/ag")]
    assert len(lines) >= 3, lines
    sh("python3 -m nox -s grade -- -k never_a_test_name", kit_copy)  # makes the venv PYTHON names
    for line in lines:
        proc = sh(line, kit_copy)
        assert proc.returncode == 0, line + "\n" + shown(proc)
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == data["max_score"] > 0, data.get("output")
    assert {t["name"].split(":")[0] for t in data["tests"]} == {"tickets"}


def test_grade_all_as_the_readme_shows(kit_copy, tmp_path):
    """README: `nox -s grade-all -- SUBMISSIONS -- -k tickets` on a small class."""
    klass = tmp_path / "class"
    shutil.copytree(kit.SOLUTIONS, klass / "ada", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(kit.EXERCISES, klass / "bob" / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    line = next(line for line in code_lines(kit_copy / "README.md", "nox -s grade-all")
                if "-k tickets" in line)
    line = line.replace("SUBMISSIONS", str(klass))
    proc = sh(f"python3 -m {line}" if line.startswith("nox") else line, kit_copy)
    assert proc.returncode == 0, shown(proc)
    book = (kit_copy / "reports" / "class" / "gradebook.csv").read_text().splitlines()
    rows = {row.split(",")[0]: row for row in book[1:]}
    assert set(rows) == {"ada", "bob"}, book
    header = book[0].split(",")
    ada, bob = rows["ada"].split(","), rows["bob"].split(",")
    total = header.index("total")
    assert float(ada[total]) == float(ada[header.index("max")]) > 0, book
    assert float(bob[total]) == 0, book
