"""Shared by the kit's tests and the bench/verify scripts: grade a folder, build mutant folders."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
SOLUTIONS = KIT / "solutions"
EXERCISES = KIT / "exercises"
MUTANTS = KIT / "tests" / "mutants"
ALTERNATIVES = KIT / "tests" / "alternatives"  # correct, written otherwise: full marks
SESSION = uuid.uuid4().hex[:12]  # tags every grading this test session starts
MODULES = sorted(p.stem[len("test_"):] for p in (KIT / "graders").glob("test_*.py"))


@dataclass
class Grade:
    """One grading run: its exit code, results.json, junit.xml, output and wall time."""

    exit_code: int
    results: dict
    junit: ET.Element | None
    output: str
    seconds: float
    run_id: str = ""

    @property
    def full_marks(self) -> bool:
        return self.results.get("max_score", 0) > 0 and \
            self.results.get("score") == self.results.get("max_score")

    def failed(self) -> list[str]:
        return [t["name"] for t in self.results.get("tests", []) if t["status"] == "failed"]

    def score_of(self, module: str) -> tuple[float, float]:
        tests = [t for t in self.results.get("tests", []) if t["name"].startswith(module + ":")]
        return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def grade(impl: Path, *pytest_args: str, modules: list[str] | None = None,
          env: dict | None = None, timeout: float = 600,
          python: str | os.PathLike = sys.executable, results: Path | None = None) -> Grade:
    """Run the graders on `impl` in a fresh pytest process, as `nox -s grade` does, with
    `python` (an interpreter that has the kit's dependencies; default: this one); results.json
    goes to `results` when given (it is kept), else to a temporary folder. The feedback is in
    English unless `pytest_args` hold --lang or `env` sets a locale variable (LANG, ...): the
    kit's tests read English whatever the machine's locale."""
    chosen = any(a == "--lang" or a.startswith("--lang=") for a in pytest_args) or any(
        k in (env or {}) for k in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"))
    if not chosen:
        pytest_args = (*pytest_args, "--lang", "en")
    with tempfile.TemporaryDirectory(prefix="kit-grade-") as tmp:
        results = results or Path(tmp) / "results.json"
        junit = Path(tmp) / "junit.xml"
        targets = [f"graders/test_{m}.py" for m in modules] if modules else ["graders"]
        cmd = [str(python), "-m", "pytest", *targets, "--impl", str(impl),
               "--results", str(results), f"--junitxml={junit}", "-q", "-p", "no:cacheprovider",
               *pytest_args]
        started = time.monotonic()
        run_id = f"{SESSION}-{uuid.uuid4().hex}"
        proc = subprocess.run(cmd, cwd=KIT, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {}), "KIT_GRADE_ID": run_id})
        seconds = time.monotonic() - started
        data = json.loads(results.read_text()) if results.exists() else {}
        tree = ET.parse(junit).getroot() if junit.exists() else None
        return Grade(proc.returncode, data, tree, proc.stdout + proc.stderr, seconds, run_id)


def leftovers(g: Grade | None = None) -> list[str]:
    """Processes of that grading run (or of any run of this session) still alive: they
    inherit its KIT_GRADE_ID."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            tag = p.environ().get("KIT_GRADE_ID", "")
            if (tag == g.run_id) if g else tag.startswith(SESSION + "-"):
                found.append(f"{p.pid} {p.info['status']} {' '.join(p.info['cmdline'] or [])}")
        except (psutil.Error, OSError):
            pass
    return found


def mutants(module: str | None = None) -> list[Path]:
    pattern = f"{module}/*.py" if module else "*/*.py"
    return sorted(MUTANTS.glob(pattern))


def alternatives(module: str | None = None) -> list[Path]:
    """Correct implementations in another style than the reference's (they must get full
    marks): tests/alternatives/<module>/<style>.py."""
    pattern = f"{module}/*.py" if module else "*/*.py"
    return sorted(ALTERNATIVES.glob(pattern))


def mutant_info(path: Path) -> tuple[str, str, str]:
    """(module, the rule it breaks, the grader test that must catch it) of a mutant file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = (ast.get_docstring(tree) or "").strip().splitlines()[0]
    caught_by = next(
        node.value.value for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CAUGHT_BY"
    )
    return path.parent.name, doc, caught_by


def mutant_folder(path: Path, into: Path) -> Path:
    """A folder holding the reference solutions with one module swapped for `path` (a mutant
    or an alternative)."""
    folder = into / f"{path.parent.name}-{path.stem}"
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(path, folder / f"{path.parent.name}.py")
    return folder


def full_marks_in(g: Grade, module: str) -> bool:
    """True when `module` got every one of its points (a correct alternative must)."""
    score, max_score = g.score_of(module)
    return max_score > 0 and score == max_score


def caught(g: Grade, module: str, caught_by: str) -> bool:
    """True when the mutant lost points in its module, on the test meant to catch it."""
    score, max_score = g.score_of(module)
    wanted = [t for t in g.results.get("tests", []) if t["name"].startswith(module + ":")
              and t["status"] == "failed" and t["extra_data"]["test"] == caught_by]
    return max_score > 0 and score < max_score and bool(wanted)
