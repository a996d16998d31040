"""How fast the graders are, and how reliably they judge.

    python bench/bench.py [--repeat R] [--hog] [--jobs J] [--only MODULE | --no-variants]
                          [--workers W] [--modules M [M ...]] [--check]
    python bench/bench.py [--profile [--top N]] [--versus] [--nox] [--repeat R] [--hog] ...

Grades solutions/ and the stubs (exercises/) R times each, every correct alternative in
tests/alternatives/ and every broken variant in tests/mutants/ R times (its own module only,
the rest of its folder being the reference). Prints one row per implementation: runs, how
many gave full marks (solutions, alternatives), 0 points (stubs) or were caught (variants),
and the median wall time of one grading. --hog keeps every core busy with a spinning
process meanwhile; --jobs grades J folders at once; --modules grades only those exercises
in the solutions and stubs rows.
With --check (what `nox -s verify` runs) the exit status is 1 on any false failure or escape.
While it runs, stderr shows a line per grading and, on a terminal, a progress bar (tqdm:
gradings done of all, time gone and left; classroom/progress.py).

Where the time goes (bench/speed.py tells how each figure is measured); these modes grade one
folder at a time and replace the rows above:
  --profile  grades solutions/ and the stubs R times each and prints, per test, its wall
             time, the CPU time of its grading children and all below them, the harness's
             own CPU, how many interpreters and forks it started, and its design wait
             (DESIGN_WAIT of the grader files); then the totals, and the floor (the design
             waits summed) beside the measured total. --top N: only the N slowest tests.
  --versus   the kit and bench/plain_grader (a plain pytest grader written from the contract)
             side by side, R pairs, on solutions/ and on a folder of correct alternatives:
             median wall and CPU of each.
  --nox      `nox -s grade` on the stubs and on solutions/, R runs each, nox's start included.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classroom.progress import Progress  # noqa: E402
from tests import kit  # noqa: E402


def spin() -> None:
    while True:
        pass


class Verdict(NamedTuple):
    """One grading of one implementation."""
    right: bool  # full marks for a correct one, 0 for the stubs, caught for a variant
    seconds: float
    why: str  # what went wrong, when not right
    score: float | None  # the total, or the swapped module's points (variant, alternative)
    failed: frozenset[str]  # the tests that failed: an unsteady row names those that varied


def judge(kind: str, path: Path, tmp: Path, workers: int, modules: list[str] | None) -> Verdict:
    """Grade one implementation once."""
    spread = ["-n", str(workers)] if workers > 1 else []
    if kind == "solutions":
        g = kit.grade(kit.SOLUTIONS, *spread, modules=modules)
        return Verdict(g.full_marks and g.exit_code == 0, g.seconds, "; ".join(g.failed()),
                       g.results.get("score"), frozenset(g.failed()))
    if kind == "stubs":
        g = kit.grade(kit.EXERCISES, *spread, modules=modules)
        return Verdict(g.results.get("score") == 0 and g.exit_code != 0, g.seconds, "",
                       g.results.get("score"), frozenset(g.failed()))
    module = path.parent.name  # a variant or an alternative: the reference with it swapped in
    with tempfile.TemporaryDirectory(dir=tmp) as here:
        g = kit.grade(kit.mutant_folder(path, Path(here)), modules=[module])
    score = g.score_of(module)[0] if g.results else None
    if kind == "alternative":  # correct, in another style: full marks in its module
        return Verdict(kit.full_marks_in(g, module), g.seconds, "; ".join(g.failed()), score,
                       frozenset(g.failed()))
    _module, _rule, caught_by = kit.mutant_info(path)
    return Verdict(kit.caught(g, module, caught_by), g.seconds, f"not caught by {caught_by}",
                   score, frozenset(g.failed()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--hog", action="store_true", help="keep every core busy meanwhile")
    ap.add_argument("--jobs", type=int, default=1, help="gradings run at once")
    ap.add_argument("--workers", type=int, default=2,
                    help="pytest-xdist workers when grading solutions/stubs (as nox -s grade)")
    ap.add_argument("--modules", nargs="+", metavar="M",
                    help="grade only these exercises in the solutions and stubs rows")
    ap.add_argument("--only", help="only this module's variants (and no solutions/stubs rows)")
    ap.add_argument("--no-variants", action="store_true", help="only solutions and stubs")
    ap.add_argument("--check", action="store_true", help="exit 1 on a false failure or escape")
    ap.add_argument("--profile", action="store_true",
                    help="per test: wall, CPU, interpreters, forks, design wait; the floor")
    ap.add_argument("--top", type=int, help="with --profile: only the N slowest tests")
    ap.add_argument("--versus", action="store_true",
                    help="the kit and bench/plain_grader side by side, R pairs")
    ap.add_argument("--nox", action="store_true",
                    help="`nox -s grade` on the stubs and the reference, R runs each")
    args = ap.parse_args(argv)
    if args.profile or args.versus or args.nox:
        return measure(args)

    rows: list[tuple[str, str, Path | None]] = []
    if not args.only:
        rows += [("solutions", "solutions", None), ("stubs", "stubs", None)]
    if not args.no_variants:
        rows += [("alternative", f"{p.parent.name}/{p.stem} (correct)", p)
                 for p in kit.alternatives(args.only)]
        rows += [("variant", f"{p.parent.name}/{p.stem}", p) for p in kit.mutants(args.only)]

    hogs = []
    if args.hog:
        hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(os.cpu_count())]
        for h in hogs:
            h.start()
    started = time.monotonic()
    jobs = [(kind, name, path) for kind, name, path in rows for _ in range(args.repeat)]
    bar = Progress(len(jobs), "gradings", stream=sys.stderr)

    def progress(job, verdict):
        """One line on stderr per grading, so a long verify shows it is moving."""
        bar.done(f"{job[1]}: {'right' if verdict.right else 'WRONG'} {verdict.seconds:.1f} s")
        return verdict

    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp, \
                ThreadPoolExecutor(args.jobs) as pool, bar:
            verdicts = list(pool.map(lambda j: progress(j, judge(j[0], j[2], Path(tmp),
                                                                 args.workers, args.modules)),
                                     jobs))
    finally:
        for h in hogs:
            h.kill()
    total = time.monotonic() - started

    false_failures = escapes = unsteady = 0
    print(f"\n{'implementation':<52} {'runs':>4} {'right':>6} {'median s':>9} {'score':>7}")
    for i, (kind, name, _path) in enumerate(rows):
        mine = verdicts[i * args.repeat:(i + 1) * args.repeat]
        right = sum(v.right for v in mine)
        scores = sorted({v.score for v in mine}, key=lambda x: (x is None, x))
        steady = len(scores) == 1
        unsteady += not steady  # the same submission must get the same score every run
        shown = f"{scores[0]:g}" if steady and scores[0] is not None else \
            "-".join("?" if x is None else f"{x:g}" for x in scores)
        if kind == "variant":
            escapes += args.repeat - right  # a broken variant that kept its points
        else:
            false_failures += args.repeat - right  # a correct one judged wrong (or stubs > 0)
        label = {"solutions": "full marks", "stubs": "0 points",
                 "alternative": "full marks"}.get(kind, "caught")
        median = statistics.median(v.seconds for v in mine)
        print(f"{name:<52} {args.repeat:>4} {right:>6} {median:>9.2f} {shown:>7}  {label}"
              + ("" if steady else "  UNSTEADY: not the same score every run"))
        for v in mine:
            if not v.right and v.why:
                print(f"    wrong verdict: {v.why}")
                break
        for test in sorted(set().union(*(v.failed for v in mine))):
            failing = sum(test in v.failed for v in mine)
            if failing < len(mine):  # failed in some runs only: what made the row unsteady
                print(f"    varied: {test} failed {failing} of {len(mine)} runs")
    print(f"\n{len(jobs)} gradings in {total:.1f} s (jobs={args.jobs}, "
          f"workers={args.workers}, hog={args.hog}, "
          f"modules={' '.join(args.modules) if args.modules else 'all'}); "
          f"false failures: {false_failures}, escapes: {escapes}, "
          f"unsteady scores: {unsteady}")
    return 1 if args.check and (false_failures or escapes or unsteady) else 0


def measure(args) -> int:
    """--profile, --versus, --nox: where the time goes, one grading at a time."""
    import speed

    hogs = []
    if args.hog:
        hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(os.cpu_count())]
        for h in hogs:
            h.start()
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) on "
          f"{os.cpu_count()} cores; hog={args.hog}")
    try:
        if args.profile:
            # -n auto, as `nox -s grade`: the plugin spreads the tests over up to 4 cores when
            # two or more exercises hold code (solutions), and not at all for the stubs
            cores = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else os.cpu_count() or 1)
            with tempfile.TemporaryDirectory(prefix="bench-acct-") as tmp, \
                    speed.Accounting(Path(tmp)) as acct:
                for label, impl, full, workers in (("solutions", kit.SOLUTIONS, True, cores),
                                                   ("stubs", kit.EXERCISES, False, 1)):
                    runs = []
                    for i in range(args.repeat):
                        runs.append(speed.profile(impl, ["-n", "auto"], acct, full,
                                                  args.modules))
                        print(f"  {label} {i + 1}/{args.repeat}: {runs[-1].wall:.1f} s wall, "
                              f"{runs[-1].cpu:.1f} s CPU", file=sys.stderr)
                    speed.report_profiles(f"{label} (pytest graders -n auto: {workers} "
                                          f"worker(s))", runs, workers, args.top)
        if args.versus:
            speed.versus(args.repeat)
        if args.nox:
            speed.nox_grades(args.repeat)
    finally:
        for h in hogs:
            h.kill()
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
