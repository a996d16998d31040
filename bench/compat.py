"""Grade with every CPython 3.10+ on this machine: the reference, the stubs, broken variants.

    python bench/compat.py [--python PATH ...] [--jobs J] [--workers W] [--list]

Finds the interpreters in pyenv's versions folder ($PYENV_ROOT/versions, else
~/.pyenv/versions) and every python3.X / python3 / python on PATH, keeps the CPython 3.10+
ones once each (same real path or same version: the first found), makes a venv with the
kit's grading dependencies for each under .nox/compat/<version> (uv when installed, else
`python -m venv`; reused while it holds them, as the noxfile's install() does), and with each
interpreter grades:

- solutions/ with every grader (hidden ones too): full marks, exit status 0;
- exercises/ (the stubs): 0 points, exit status 1;
- VARIANTS below, each the reference with one module swapped for a broken variant and graded
  with that module's graders only (graders/test_<module>.py): caught by its CAUGHT_BY test.

Prints one line per grading (interpreter, implementation, expected, got, seconds), then a
summary. Exit status 1 on any wrong verdict, a venv that could not be made, or fewer than two
interpreters found (--python PATH, repeatable, grades with those only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import kit  # noqa: E402

# At least one per module: the races and the start-method ones, then each module's variant
# that was caught fastest here (none runs into a time limit; zombies needs ~8 s whatever).
VARIANTS = [
    "shared_state/threads_unlocked",  # a thread race, shown by perturbation
    "shared_state/processes_module_lock",  # a lock per process under spawn and forkserver
    "shared_state/processes_global_counter",  # processes do not share memory
    "shared_state/processes_value_no_lock",  # a race between processes
    "counter/counter_no_lock",  # a thread race
    "tickets/sell_course_global_mutex",  # a module-global mutex, unshared under spawn
    "zombies/run_children_no_join",
    "daemons/guardian_thread",
    "queues/drain_get_nowait",
    "ipc/ipc_none_sentinel",
    "producer_consumer/kitchen_no_join",
    "threads/start_thread_daemon_inherited",
    "echo_server/open_server_busy_port_fallback",
]
VENVS = kit.KIT / ".nox" / "compat"
PROBE = (
    "import json, platform, sys, sysconfig;"
    "print(json.dumps([platform.python_implementation(), list(sys.version_info[:2]),"
    " platform.python_version() + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''),"
    " sys.executable]))"
)


@dataclass
class Interpreter:
    version: str  # e.g. 3.12.1, 3.13.0t for a free-threaded build
    executable: Path  # its real path
    found_as: str  # the path it was found under
    venv_python: Path | None = None
    setup_error: str = ""
    rows: list = field(default_factory=list)  # (implementation, expected, got, seconds, ok, why)


def candidates() -> list[Path]:
    """Every path that may be a Python interpreter: pyenv's versions, then PATH, in order."""
    found: list[Path] = []
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if root.is_dir():
        for version in sorted(root.iterdir()):
            for name in ("python3", "python"):
                if (version / "bin" / name).exists():
                    found.append(version / "bin" / name)
                    break
    names = [f"python3.{minor}" for minor in range(10, 30)] + ["python3", "python"]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        for name in names:
            path = Path(folder or ".") / name
            if os.name == "nt":
                path = path.with_suffix(".exe")
            if path.is_file() and os.access(path, os.X_OK):
                found.append(path)
    return found


def probe(path: Path) -> tuple[str, tuple[int, int], str, Path] | None:
    """(implementation, (major, minor), version, real executable), or None if it will not run
    (a pyenv shim for a version that is not selected, a broken link)."""
    try:
        out = subprocess.run([str(path), "-c", PROBE], capture_output=True, text=True,
                             timeout=20, stdin=subprocess.DEVNULL)
        impl, (major, minor), version, executable = json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError, TypeError):
        return None
    return impl, (major, minor), version, Path(os.path.realpath(executable))


def discover(paths: list[Path] | None = None) -> tuple[list[Interpreter], list[str]]:
    """The CPython 3.10+ interpreters, once each, sorted by version; and what was left out."""
    found: list[Interpreter] = []
    left_out: list[str] = []
    by_path: dict[Path, Interpreter] = {}
    by_version: dict[str, Interpreter] = {}
    for path in paths or candidates():
        info = probe(path)
        if info is None:
            left_out.append(f"{path}: does not run")
            continue
        impl, major_minor, version, real = info
        if impl != "CPython" or major_minor < (3, 10):
            left_out.append(f"{path}: {impl} {version} (not CPython 3.10+)")
            continue
        same = by_path.get(real) or by_version.get(version)
        if same is not None:  # the same binary again is no news; another of one version is
            if real != same.executable:
                left_out.append(f"{path}: {version} again, {real} (kept {same.executable})")
            continue
        interp = Interpreter(version, real, str(path))
        by_path[real] = by_version[version] = interp
        found.append(interp)
    found.sort(key=lambda i: [int(x) if x.isdigit() else x
                              for x in re.split(r"(\d+)", i.version)])
    return found, left_out


def grade_deps() -> list[str]:
    """[project] dependencies of pyproject.toml."""
    text = (kit.KIT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: the array is plain enough for a pattern
        block = re.search(r"^\[project\].*?^dependencies\s*=\s*\[(.*?)\]\s*(?:#.*)?$", text,
                          re.S | re.M)
        lines = [line.split("#", 1)[0] for line in (block.group(1) if block else "").splitlines()]
        return re.findall(r"[\"']([^\"']+)[\"']", "\n".join(lines))
    return list(tomllib.loads(text)["project"]["dependencies"])


def uv_command() -> list[str] | None:
    if shutil.which("uv"):
        return [shutil.which("uv")]
    try:
        subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True,
                       check=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return [sys.executable, "-m", "uv"]


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def make_venv(interp: Interpreter, deps: list[str], uv: list[str] | None) -> None:
    """A venv for `interp` holding `deps` at .nox/compat/<version>, reused when its stamp (the
    same as the noxfile's install() writes) says it holds exactly them."""
    folder = VENVS / interp.version
    python = venv_python(folder)
    stamp = folder / ".kit-deps"
    want = hashlib.sha256("\n".join(sorted(deps)).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and python.exists():
        info = probe(python)  # still this interpreter's (its base may have been removed)
        if info and info[2] == interp.version:
            interp.venv_python = python
            return
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if uv:
        steps = [[*uv, "venv", "--quiet", "--python", str(interp.executable), str(folder)],
                 [*uv, "pip", "install", "--quiet", "--python", str(python), *deps]]
    else:
        steps = [[str(interp.executable), "-m", "venv", str(folder)],
                 [str(python), "-m", "pip", "install", "--quiet",
                  "--disable-pip-version-check", *deps]]
    for cmd in steps:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                             stdin=subprocess.DEVNULL)
        if out.returncode:
            interp.setup_error = (f"{' '.join(cmd[:4])} ... failed ({out.returncode}): "
                                  + (out.stderr or out.stdout).strip()[-500:])
            return
    stamp.write_text(want)
    interp.venv_python = python


def judge(python: Path, kind: str, name: str, tmp: Path,
          workers: int) -> tuple[str, str, float, bool, str]:
    """Grade one implementation: (expected, got, seconds, right?, why when wrong)."""
    if kind == "solutions":
        spread = ["-n", str(workers)] if workers > 1 else ["-n", "0"]
        g = kit.grade(kit.SOLUTIONS, *spread, python=python)
        score = f"{g.results.get('score', 0):g}/{g.results.get('max_score', 0):g}"
        ok = g.full_marks and g.exit_code == 0
        got = "full marks" if g.full_marks else score
        why = f"exit {g.exit_code}; failed:{feedback(g) or ' nothing'}"
        return "full marks", f"{got}, exit {g.exit_code}", g.seconds, ok, why + tail(g)
    if kind == "stubs":
        g = kit.grade(kit.EXERCISES, "-n", "0", python=python)
        score = g.results.get("score")
        ok = score == 0 and g.results.get("max_score", 0) > 0 and g.exit_code == 1
        got = f"{score if score is None else format(score, 'g')} points, exit {g.exit_code}"
        return "0 points, exit 1", got, g.seconds, ok, tail(g)
    path = kit.MUTANTS / f"{name}.py"
    module, _rule, caught_by = kit.mutant_info(path)
    with tempfile.TemporaryDirectory(dir=tmp) as here:
        g = kit.grade(kit.mutant_folder(path, Path(here)), modules=[module], python=python)
    ok = kit.caught(g, module, caught_by) and g.exit_code == 1
    got = f"caught, exit {g.exit_code}" if ok else (
        f"not by it, exit {g.exit_code}" if g.failed() else f"escaped, exit {g.exit_code}")
    why = f"failed:{feedback(g) or ' nothing'}"
    return f"caught by {caught_by}", got, g.seconds, ok, why + tail(g)


def feedback(g: kit.Grade) -> str:
    """Each failed test with the first line of its feedback, one per line."""
    return "".join(f"\n  {t['name']}: {(t['output'].strip().splitlines() or [''])[0][:300]}"
                   for t in g.results.get("tests", []) if t["status"] == "failed")


def tail(g: kit.Grade) -> str:
    """The end of the grading's output, for a verdict that went wrong without results."""
    return "" if g.results else "\n" + g.output.strip()[-1500:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", type=Path, metavar="PATH",
                    help="grade with this interpreter (repeatable) instead of looking")
    ap.add_argument("--jobs", type=int, default=1,
                    help="gradings at once, over all interpreters (default 1)")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                    help="pytest-xdist workers for the full grading of solutions/ "
                         "(default: as nox -s grade, up to 4 cores)")
    ap.add_argument("--list", action="store_true", help="only show the interpreters found")
    args = ap.parse_args(argv)

    started = time.monotonic()
    interps, left_out = discover(args.python)
    print(f"{len(interps)} CPython 3.10+ interpreter(s) found:", flush=True)
    for i in interps:
        print(f"  {i.version:<9} {i.executable}  (found as {i.found_as})")
    for line in left_out:
        print(f"  left out: {line}")
    if args.list:
        return 0 if len(interps) >= 2 else 1

    deps, uv = grade_deps(), uv_command()
    print(f"venvs in {VENVS} with {'uv' if uv else 'python -m venv'}: {' '.join(deps)}",
          flush=True)
    for i in interps:
        t0 = time.monotonic()
        make_venv(i, deps, uv)
        state = f"failed: {i.setup_error}" if i.setup_error else f"{i.venv_python}"
        print(f"  {i.version:<9} {state} ({time.monotonic() - t0:.1f} s)", flush=True)

    rows = [("solutions", "solutions"), ("stubs", "exercises (stubs)")]
    rows += [("variant", v) for v in VARIANTS]
    jobs = [(i, kind, name) for i in interps if i.venv_python for kind, name in rows]

    header = f"{'python':<9} {'implementation':<44} {'expected':<47} {'got':<18} {'s':>6}"
    print(f"\n{header}\n{'-' * len(header)}", flush=True)

    def run(job):
        interp, kind, name = job
        expected, got, seconds, ok, why = judge(interp.venv_python, kind, name, Path(tmp),
                                                args.workers)
        interp.rows.append((name, expected, got, seconds, ok, why))
        print(f"{interp.version:<9} {name:<44} {expected:<47} {got:<18} {seconds:>6.1f}"
              + ("" if ok else "   WRONG"), flush=True)
        if not ok:
            print("    " + why.strip().replace("\n", "\n    "), flush=True)

    with tempfile.TemporaryDirectory(prefix="compat-") as tmp, \
            ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(run, jobs))

    total = time.monotonic() - started
    wrong = sum(not r[4] for i in interps for r in i.rows)
    broken = [i for i in interps if i.setup_error]
    print("\nsummary:")
    for i in interps:
        if i.setup_error:
            print(f"  {i.version:<9} NOT GRADED: no venv ({i.setup_error.splitlines()[0]})")
            continue
        right = sum(r[4] for r in i.rows)
        print(f"  {i.version:<9} {right}/{len(i.rows)} verdicts right, "
              f"{sum(r[3] for r in i.rows):.1f} s of grading")
    print(f"{len(interps)} interpreter(s), {len(jobs)} gradings, {wrong} wrong verdict(s), "
          f"{len(broken)} interpreter(s) without a venv; {total:.1f} s in all "
          f"(jobs={args.jobs}, workers={args.workers})")
    if len(interps) < 2:
        print("FAILED: fewer than two CPython 3.10+ interpreters found; nothing to compare")
    return 1 if wrong or broken or len(interps) < 2 else 0


if __name__ == "__main__":
    sys.exit(main())
