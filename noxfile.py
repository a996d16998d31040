"""Sessions of the grading kit.

  nox -s grade                        grade exercises/ (what students run)
  nox -s grade -- --impl solutions    grade any folder; everything after -- goes to pytest
  nox -s tests                        the kit's own tests (what CI runs)
  nox -s lint                         ruff
  nox -s bench                        how fast the graders are and how reliably they judge
  nox -s verify                       every broken variant caught, solutions full marks, N times
  nox -s coverage                     which lines of solutions/ the graders reach (>= 95 %)
  nox -s release -- DEST              write the student repository (no solutions, no hidden)
  nox -s catalogs                     extract, update and compile the feedback's translations
  nox -s gradescope                   build the Gradescope autograder: dist/autograder.zip
  nox -s grade-all -- SUBMISSIONS     grade a class into reports/class/ (gradebook.csv, index.html)

Venvs are made with uv where it is installed, plain venv otherwise, and reused: a venv that
already holds the kit's dependencies is not installed into again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["grade"]

ROOT = Path(__file__).resolve().parent
PROJECT = nox.project.load_toml(ROOT / "pyproject.toml")["project"]
GRADE_DEPS = PROJECT["dependencies"]
EXTRAS = PROJECT["optional-dependencies"]
PROGRESS_DEPS = GRADE_DEPS + EXTRAS["progress"]  # bench, verify: a live progress bar
CLASS_DEPS = PROGRESS_DEPS + EXTRAS["pages"]  # grade-all: and the class dashboard's charts
DEV_DEPS = CLASS_DEPS + EXTRAS["dev"]


# Byte-compiles what was installed: uv does not by default, and where PYTHONDONTWRITEBYTECODE
# is set (some CI images and machines) nothing ever would, so every pytest start, in
# each xdist worker too, compiled pytest, pluggy and Jinja2 from source again: 0.25 s a start.
COMPILE = ("import compileall, sysconfig; "
           "compileall.compile_dir(sysconfig.get_paths()['purelib'], quiet=1, workers=0)")


def install(session: nox.Session, deps: list[str]) -> None:
    """Install `deps` unless this venv already has exactly them (a reused venv), compiled."""
    stamp = Path(session.virtualenv.location) / ".kit-deps"
    want = hashlib.sha256("\n".join([*sorted(deps), COMPILE]).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return
    session.install(*deps)
    session.run("python", "-c", COMPILE, silent=True)
    stamp.write_text(want)


# How pytest runs the graders, wherever it does (the grade session, grade-all, run_autograder):
# no cache folder, and no assertion rewriting, which the graders do not use (they fail with
# words, harness.fail) but which every pytest start paid for: 15-20 ms, in each xdist worker.
GRADER_PYTEST = ["-p", "no:cacheprovider", "--assert=plain"]
# The grader's own modules are compiled once into graders/__pycache__ (git ignores it) even
# where PYTHONDONTWRITEBYTECODE is set, else every pytest start compiles graders/*.py again
# (30 ms). Grading children never write one (harness.run sets it for them).
GRADER_ENV = {"PYTHONDONTWRITEBYTECODE": ""}


def pytest_args(session: nox.Session) -> list[str]:
    """--impl exercises unless given, and `-n auto` unless -n/--numprocesses is given: the
    grading plugin (graders/conftest.py) then spreads the tests over cores only when two or
    more of the selected exercises hold code."""
    args = [*GRADER_PYTEST, *session.posargs]
    if not any(a == "--impl" or a.startswith("--impl=") for a in args):
        args = ["--impl", "exercises", *args]
    if not any(a.startswith(("-n", "--numprocesses")) for a in args):
        args = ["-n", "auto", *args]
    return args


@nox.session
def grade(session: nox.Session) -> None:
    """Grade exercises/ (or --impl PATH); reports go to reports/. Exits 0 only at full marks."""
    install(session, GRADE_DEPS)
    session.run("python", "-m", "pytest", "graders", *pytest_args(session), env=GRADER_ENV)


@nox.session
def tests(session: nox.Session) -> None:
    """The kit's own tests: solutions full marks, stubs 0, every broken variant caught."""
    install(session, DEV_DEPS)
    args = list(session.posargs)
    if not any(Path(a.split("::")[0]).exists() for a in args if not a.startswith("-")):
        args = ["tests", *args]  # no paths given: the whole suite
    session.run("python", "-m", "pytest", *args)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff over the whole kit."""
    install(session, ["ruff>=0.4"])
    session.run("ruff", "check", ".", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Wall time of grading, and how often each broken variant is caught (-- --repeat N --hog)."""
    install(session, PROGRESS_DEPS)
    session.run("python", "bench/bench.py", *session.posargs)


@nox.session
def verify(session: nox.Session) -> None:
    """Prove the graders: solutions full marks, stubs 0, every broken variant caught, N times.

    nox -s verify -- --repeat 10    (default 3; --jobs J grades J folders at once, default
                                    one per core)"""
    install(session, PROGRESS_DEPS)
    args = list(session.posargs)
    if not any(a.startswith("--repeat") for a in args):
        args += ["--repeat", "3"]
    if not any(a.startswith("--jobs") for a in args):
        # One grading per core at once: measured on 2 cores, even 3 at once changed none of
        # 920 verdicts (--repeat 10 --jobs 3).
        args += ["--jobs", str(os.cpu_count() or 1)]
    session.run("python", "bench/bench.py", "--check", *args)


@nox.session
def coverage(session: nox.Session) -> None:
    """Line and branch coverage of solutions/ while the graders run them, child processes
    included (every start method, threads); HTML in reports/coverage/, fails under 95 %.

    Runs with --no-perturb: the perturbation tracer and coverage's tracer both use
    sys.settrace on Python < 3.12, and only one can hold it; and with --no-contain: coverage
    saves a process's data when it ends, which a PID namespace's SIGKILL never lets it do."""
    install(session, DEV_DEPS)
    env = {"KIT_COVERAGE_DIR": str(ROOT)}
    session.log("schedule perturbation is off under coverage (both need sys.settrace)")
    session.run("coverage", "erase", env=env)
    session.run("coverage", "run", "-m", "pytest", "graders", "--impl", "solutions",
                "--no-perturb", "--no-contain", "--results", "reports/coverage-results.json", "-q",
                *session.posargs, env=env)
    session.run("coverage", "combine", "-q", env=env)
    session.run("coverage", "html", "-q", "-d", "reports/coverage", env=env)
    session.run("coverage", "report", env=env)


@nox.session
def catalogs(session: nox.Session) -> None:
    """The feedback's translations (docs/TRANSLATING.md): extract every message of graders/ and
    exercises/ into graders/locale/graders.pot, bring each graders.po up to date with it,
    compile them, and list what is left to translate.

    nox -s catalogs -- --check    (also fail while something is left)"""
    install(session, GRADE_DEPS)  # Babel is a grading dependency: gradings compile the .po
    babel = ["python", "-m", "babel.messages.frontend", "-q"]
    session.run(*babel, "extract", "-F", "babel.cfg", "-c", "TRANSLATORS:", "--no-wrap",
                "--sort-by-file", "--project", "concurrency-grading-kit",
                "--copyright-holder", "the kit's authors", "-o", "graders/locale/graders.pot",
                "graders", "exercises")
    session.run(*babel, "update", "-i", "graders/locale/graders.pot", "-d", "graders/locale",
                "-D", "graders", "--no-wrap", "--ignore-obsolete", "--no-fuzzy-matching")
    session.run("python", "-m", "graders._extract", *session.posargs)


@nox.session
def release(session: nox.Session) -> None:
    """Write the student repository to DEST: stubs, graders without hidden/, grade workflow.

    nox -s release -- DEST [--lang zh_CN]    (the README and the feedback in Chinese)"""
    if not session.posargs:
        session.error("where to? nox -s release -- DEST")
    install(session, GRADE_DEPS)
    session.run("python", "-m", "classroom.release", *session.posargs)


@nox.session
def gradescope(session: nox.Session) -> None:
    """Build the Gradescope autograder zip (hidden graders included): dist/autograder.zip.

    nox -s gradescope -- --out PATH    (somewhere else)"""
    install(session, GRADE_DEPS)
    session.run("python", "-m", "classroom.gradescope", *session.posargs)


@nox.session(name="grade-all")
def grade_all(session: nox.Session) -> None:
    """Grade every submission in a folder, hidden graders included: reports/class/.

    nox -s grade-all -- SUBMISSIONS [--shard I/N] [--jobs J] [-- PYTEST ARGS]
    nox -s grade-all -- --merge       (join the shard gradebooks)

    Writes reports/class/index.html too, the class dashboard (charts with pygal, the
    pyproject's `pages` extra, installed only here), and pages/<student>.html."""
    install(session, CLASS_DEPS)
    session.run("python", "-m", "classroom.grade_all", *session.posargs, env=GRADER_ENV)


@nox.session(venv_backend="none")
def compat(session: nox.Session) -> None:
    """Grade with every CPython 3.10+ on this machine (pyenv's versions and python3.X on
    PATH): solutions/ full marks, the stubs 0, a dozen broken variants caught by their test.

    nox -s compat -- --list                   (only show the interpreters found)
    nox -s compat -- --python PATH ...        (grade with these only; --jobs J at once)

    One venv per interpreter in .nox/compat/<version>, made and reused by bench/compat.py;
    this session needs no venv of its own (the script uses the standard library only)."""
    import sys

    session.run(sys.executable, "bench/compat.py", *session.posargs, external=True)
