"""Where a grading's time goes, and a yardstick to hold it against (issue 16).

bench/bench.py uses this for
  --profile  per test: wall, CPU, interpreters and forks started, the design wait; the floor
  --versus   the kit and bench/plain_grader side by side on the same submissions
  --nox      `nox -s grade` itself, nox's start included, on the stubs and the reference

How each figure is measured:
- wall per test: junit.xml's time (setup, call and teardown: the module's import probe too);
- CPU per test: the harness's own record of each run() (KIT_BENCH_LOG, graders/harness.py):
  RUSAGE_CHILDREN around the run, i.e. the grading child and every process below it (run()
  reaps them all, the PID namespace's included), plus the harness's own watching;
- interpreters and forks per test: the kernel's process accounting (acct(2), Linux, root):
  the kernel writes a record for every process of this PID namespace (and those below it)
  when it exits, however short-lived and however it ended, with its pid, its parent's pid
  and whether it ever exec'd. A process belongs to the run whose grading child (pid in the
  harness record) it descends from; an "interpreter" is an exec'd python (the grading child
  included), a "fork" a process that never exec'd (the worker, fork-method children, the
  forkserver's);
- CPU of a whole grading: RUSAGE_CHILDREN of this process around it (gradings run one at a
  time in these modes), pytest and its xdist workers included;
- design wait: DESIGN_WAIT of each grader file (graders/test_*.py, graders/hidden/), the
  seconds a test waits by design on a correct submission; their sum over the tests that
  passed is the floor.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import kit

PLAIN = kit.KIT / "bench" / "plain_grader"
AFORK = 0x01  # acct_v3 ac_flag: forked, never exec'd
ACCT_V3 = struct.Struct("<BBHIIIIIIf8H16s")  # struct acct_v3 of <linux/acct.h>: 64 bytes


def children_cpu() -> float:
    """CPU seconds of every child of this process reaped so far (and of what they reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------ the kernel's accounting


class Accounting:
    """BSD process accounting into a file of our own for as long as the `with` lasts: one
    record per process that exits in this PID namespace or below it. Needs root (or
    CAP_SYS_PACCT); without it `why_not` says so and every count is None."""

    def __init__(self, folder: Path):
        self.path = folder / "acct"
        self.why_not = ""
        self.on = False

    def __enter__(self) -> Accounting:
        if not sys.platform.startswith("linux"):
            self.why_not = "process accounting is Linux's acct(2)"
            return self
        self.path.touch()
        self.libc = ctypes.CDLL(None, use_errno=True)
        if self.libc.acct(str(self.path).encode()) != 0:
            self.why_not = f"acct(2): {os.strerror(ctypes.get_errno())} (needs root)"
        else:
            self.on = True
        return self

    def __exit__(self, *exc) -> None:
        if self.on:
            self.libc.acct(None)
            self.on = False

    def mark(self) -> int:
        """Where the next record will go: records() from here are the ones after now."""
        return self.path.stat().st_size if self.on else 0

    def records(self, since: int) -> list[tuple[int, int, bool, str]] | None:
        """(pid, parent pid, exec'd?, command) of every process that exited after `since`."""
        if not self.on:
            return None
        with open(self.path, "rb") as f:
            f.seek(since)
            data = f.read()
        out = []
        for offset in range(0, len(data) - ACCT_V3.size + 1, ACCT_V3.size):
            flag, version, *_, pid, ppid, _btime, _etime = ACCT_V3.unpack_from(data, offset)[:10]
            if version & 0x7F != 3:
                continue
            comm = ACCT_V3.unpack_from(data, offset)[-1].split(b"\0")[0].decode(errors="replace")
            out.append((pid, ppid, not flag & AFORK, comm))
        return out


def tally(records: list[tuple[int, int, bool, str]] | None, roots: set[int]) -> dict[int, dict]:
    """Per grading child (a pid in `roots`): the interpreters and forks of its tree."""
    found = {root: {"interpreters": 0, "forks": 0} for root in roots}
    if records is None:
        return {root: {"interpreters": None, "forks": None} for root in roots}
    parent = {pid: ppid for pid, ppid, _exec, _comm in records}
    for pid, _ppid, execd, comm in records:
        p, hops = pid, 0
        while p not in roots and p in parent and hops < 100:
            p, hops = parent[p], hops + 1
        if p in roots:
            if not execd:
                found[p]["forks"] += 1
            elif comm.startswith("python"):
                found[p]["interpreters"] += 1
    return found


# ------------------------------------------------------------------------------ per test


def design_waits() -> dict[str, float]:
    """"<module path>::<test function>" -> seconds waited by design (DESIGN_WAIT)."""
    waits = {}
    files = sorted((kit.KIT / "graders").glob("test_*.py")) + sorted(
        (kit.KIT / "graders" / "hidden").glob("test_*.py"))
    for path in files:
        rel = path.relative_to(kit.KIT)
        module = importlib.import_module(".".join(rel.with_suffix("").parts))
        for name, seconds in getattr(module, "DESIGN_WAIT", {}).items():
            waits[f"{rel.as_posix()}::{name}"] = float(seconds)
    return waits


def _junit_tests(junit) -> dict[str, dict]:
    """nodeid -> {"wall", "status"} from a junit.xml tree."""
    tests = {}
    if junit is None:
        return tests
    for case in junit.iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        status = "passed"
        if case.find("skipped") is not None:
            status = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            status = "failed"
        tests[f"{path}::{case.get('name')}"] = {"wall": float(case.get("time") or 0),
                                                 "status": status}
    return tests


@dataclass
class Profile:
    """One grading, measured."""

    wall: float
    cpu: float  # pytest and everything below it
    ok: bool  # the verdict the bench expects (full marks, or 0 for the stubs)
    tests: dict[str, dict] = field(default_factory=dict)  # nodeid -> its figures
    accounting: str = ""  # why interpreters are not counted, when they are not


def profile(impl: Path, pytest_args: list[str], acct: Accounting, expect_full: bool,
            modules: list[str] | None = None) -> Profile:
    """Grade `impl` once with the harness's records on and the kernel's accounting running."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        log = Path(tmp) / "runs.jsonl"
        since, cpu = acct.mark(), children_cpu()
        g = kit.grade(impl, *pytest_args, modules=modules, env={"KIT_BENCH_LOG": str(log)})
        cpu = children_cpu() - cpu
        runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    ok = g.full_marks if expect_full else g.results.get("score") == 0
    counts = tally(acct.records(since), {r["pid"] for r in runs if r["pid"]})
    tests = {nodeid: {**t, "cpu": 0.0, "grader_cpu": 0.0, "runs": 0, "interpreters": 0,
                      "forks": 0} for nodeid, t in _junit_tests(g.junit).items()}
    for r in runs:
        nodeid = r["test"].rsplit(" (", 1)[0]
        t = tests.setdefault(nodeid, {"wall": r["wall"], "status": "?", "cpu": 0.0,
                                      "grader_cpu": 0.0, "runs": 0, "interpreters": 0,
                                      "forks": 0})
        t["cpu"] += r["cpu"]
        t["grader_cpu"] += r["grader_cpu"]
        t["runs"] += 1
        for key, n in counts.get(r["pid"], {}).items():
            t[key] = None if n is None or t[key] is None else t[key] + n
    return Profile(g.seconds, cpu, ok, tests, acct.why_not)


def _short(nodeid: str) -> str:
    path, name = nodeid.split("::", 1)
    module = path.removeprefix("graders/").removesuffix(".py").replace("test_", "", 1)
    return f"{module}::{name}"


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) \
        else str(value)


def report_profiles(label: str, profiles: list[Profile], workers: int, top: int | None) -> None:
    """The per-test table (medians over the gradings), the totals and the floor."""
    waits = design_waits()
    nodeids = sorted({n for p in profiles for n in p.tests})
    rows = []
    missing = set()
    for nodeid in nodeids:
        seen = [p.tests[nodeid] for p in profiles if nodeid in p.tests]
        base = nodeid.split("[", 1)[0]
        if base not in waits:
            missing.add(base)
        passed = all(t["status"] == "passed" for t in seen)
        rows.append({
            "test": _short(nodeid), "status": seen[0]["status"] if passed else "failed",
            "wall": _median([t["wall"] for t in seen]), "cpu": _median([t["cpu"] for t in seen]),
            "grader_cpu": _median([t["grader_cpu"] for t in seen]),
            "runs": _median([t["runs"] for t in seen]),
            "interpreters": _median([t["interpreters"] for t in seen]),
            "forks": _median([t["forks"] for t in seen]),
            "design": waits.get(base, 0.0) if passed else 0.0,
        })
    rows.sort(key=lambda r: -(r["wall"] or 0))
    shown = rows[:top] if top else rows
    print(f"\n{label}: {len(profiles)} grading(s), medians per test "
          f"({'the ' + str(top) + ' slowest of ' if top and top < len(rows) else ''}"
          f"{len(rows)} tests)")
    print(f"{'test':<58} {'wall s':>7} {'CPU s':>6} {'harn.':>6} {'runs':>4} {'interp':>6} "
          f"{'forks':>5} {'design':>6}")
    for r in shown:
        print(f"{r['test'][:58]:<58} {_fmt(r['wall']):>7} {_fmt(r['cpu']):>6} "
              f"{_fmt(r['grader_cpu']):>6} {_fmt(r['runs'], 0):>4} "
              f"{_fmt(r['interpreters'], 0):>6} {_fmt(r['forks'], 0):>5} "
              f"{r['design']:>6.2f}{'' if r['status'] == 'passed' else '  ' + r['status']}")
    floor = sum(r["design"] for r in rows)
    longest = max((r["design"] for r in rows), default=0.0)
    spread = max(floor / workers, longest) if workers > 1 else floor
    total = {key: sum(r[key] or 0 for r in rows) for key in
             ("wall", "cpu", "grader_cpu", "runs", "interpreters", "forks")}
    print(f"{'sum over tests':<58} {total['wall']:>7.2f} {total['cpu']:>6.2f} "
          f"{total['grader_cpu']:>6.2f} {total['runs']:>4.0f} "
          f"{_fmt(None if profiles[0].accounting else total['interpreters'], 0):>6} "
          f"{_fmt(None if profiles[0].accounting else total['forks'], 0):>5} {floor:>6.2f}")
    wall = _median([p.wall for p in profiles])
    cpu = _median([p.cpu for p in profiles])
    right = sum(p.ok for p in profiles)
    print(f"grading (median of {len(profiles)}, {right} right): wall {wall:.2f} s, CPU "
          f"{cpu:.2f} s (pytest, its workers and every grading child); floor: {floor:.2f} s "
          f"of design wait summed over the passed tests"
          + (f", so at best {spread:.2f} s of wall on {workers} workers"
             if workers > 1 else ""))
    if profiles[0].accounting:
        print(f"interpreters and forks not counted: {profiles[0].accounting}")
    if missing:
        print(f"no DESIGN_WAIT entry (counted as 0): {', '.join(sorted(missing))}")


# ----------------------------------------------------------------------- side by side


def alternative_set(into: Path) -> tuple[Path, list[str]]:
    """The reference with every module replaced by its first correct alternative
    (tests/alternatives/<module>/, by name): one whole submission in another student's
    style. Returns the folder and the alternatives it holds."""
    folder = into / "alternatives"
    shutil.copytree(kit.SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    names = []
    for module in sorted(p.name for p in kit.ALTERNATIVES.iterdir() if p.is_dir()):
        chosen = kit.alternatives(module)
        if chosen:
            shutil.copy(chosen[0], folder / f"{module}.py")
            names.append(f"{module}/{chosen[0].stem}")
    return folder, names


def run_kit(impl: Path) -> tuple[float, float, bool, list[str]]:
    """One kit grading as `nox -s grade` runs pytest (-n auto): wall, CPU, full marks, the
    tests failed."""
    cpu = children_cpu()
    g = kit.grade(impl, "-n", "auto")
    return g.seconds, children_cpu() - cpu, g.full_marks and g.exit_code == 0, g.failed()


def run_plain(impl: Path) -> tuple[float, float, bool, list[str]]:
    """One plain grading (bench/plain_grader, in one pytest process): wall, CPU, all passed,
    the tests failed."""
    cpu, started = children_cpu(), time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", str(PLAIN), "--impl", str(impl), "-q",
                           "-p", "no:cacheprovider", "-rf"], cwd=kit.KIT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)
    failed = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    return time.monotonic() - started, children_cpu() - cpu, proc.returncode == 0, failed


def versus(pairs: int) -> None:
    """The kit and the plain grader on the same submissions, `pairs` times each, in turns."""
    with tempfile.TemporaryDirectory(prefix="bench-versus-") as tmp:
        alternatives, names = alternative_set(Path(tmp))
        folders = [("solutions", kit.SOLUTIONS), ("alternatives", alternatives)]
        rows = []
        for label, folder in folders:
            got: dict[str, list] = {"kit": [], "plain": []}
            for i in range(pairs):
                order = ("kit", "plain") if i % 2 == 0 else ("plain", "kit")
                for who in order:
                    result = (run_kit if who == "kit" else run_plain)(folder)
                    got[who].append(result)
                    print(f"  {label} {who}: {result[0]:.1f} s wall, {result[1]:.1f} s CPU, "
                          f"{'right' if result[2] else 'WRONG, failed: ' + '; '.join(result[3])}",
                          file=sys.stderr)
            rows.append((label, got))
    print(f"\nside by side ({pairs} pairs, taking turns; medians); alternatives: "
          f"{', '.join(names)}")
    print(f"{'submission':<14} {'grader':<34} {'runs':>4} {'right':>5} {'wall s':>7} "
          f"{'CPU s':>6}")
    for label, got in rows:
        med = {}
        for who, name in (("kit", "kit (pytest graders -n auto)"),
                          ("plain", "plain grader (bench/plain_grader)")):
            runs = got[who]
            med[who] = (statistics.median(r[0] for r in runs),
                        statistics.median(r[1] for r in runs))
            print(f"{label:<14} {name:<34} {len(runs):>4} {sum(r[2] for r in runs):>5} "
                  f"{med[who][0]:>7.2f} {med[who][1]:>6.2f}")
        print(f"{label:<14} {'kit / plain':<34} {'':>4} {'':>5} "
              f"{med['kit'][0] / med['plain'][0]:>6.1f}x {med['kit'][1] / med['plain'][1]:>5.1f}x")
        for who in ("kit", "plain"):
            failed = sorted({name for r in got[who] for name in r[3]})
            if failed:
                print(f"{'':<14} {who} failed a correct submission: {'; '.join(failed)}")


def nox_grades(runs: int) -> None:
    """`nox -s grade` on the stubs and on the reference, nox's own start included."""
    nox = shutil.which("nox")
    if nox is None:
        print("\nnox is not on PATH: no `nox -s grade` rows")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-nox-") as tmp:
        for label, extra, want_zero in (("stubs (exercises/)", [], True),
                                        ("reference (solutions/)", ["--impl", "solutions"],
                                         False)):
            got = []
            for _ in range(runs):
                cpu, started = children_cpu(), time.monotonic()
                proc = subprocess.run([nox, "-s", "grade", "--", "--results",
                                       str(Path(tmp) / "results.json"), *extra], cwd=kit.KIT,
                                      capture_output=True, text=True,
                                      stdin=subprocess.DEVNULL, timeout=600)
                wall, cpu = time.monotonic() - started, children_cpu() - cpu
                try:
                    data = json.loads((Path(tmp) / "results.json").read_text())
                except (OSError, ValueError):
                    data = {}
                ok = (data.get("score") == 0 and proc.returncode != 0) if want_zero else \
                    (proc.returncode == 0 and data.get("score") == data.get("max_score"))
                got.append((wall, cpu, ok))
                print(f"  nox -s grade, {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                      f"{'right' if ok else 'WRONG'}", file=sys.stderr)
            rows.append((label, got))
    print(f"\n`nox -s grade`, nox's start included ({runs} runs each; medians)")
    print(f"{'implementation':<24} {'runs':>4} {'right':>5} {'wall s':>7} {'CPU s':>6}")
    for label, got in rows:
        print(f"{label:<24} {len(got):>4} {sum(r[2] for r in got):>5} "
              f"{statistics.median(r[0] for r in got):>7.2f} "
              f"{statistics.median(r[1] for r in got):>6.2f}")
