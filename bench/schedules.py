"""False alarms of the controlled scheduler: run the thread tests' schedule searches on the
reference and on every correct alternative of shared_state and counter, seed after seed,
until at least --total schedules really ran (a search skips a schedule it already ran: see
graders/schedule.Known; those are counted apart); every failing schedule is a false alarm.

    python bench/schedules.py [--total 10000] [--python PATH]

Prints one row per implementation (searches, schedules run, schedules sampled, false alarms,
seconds, the PCT bound each search reached) and exits 1 on any false alarm. An implementation
the scheduler cannot control (a ThreadPoolExecutor's threads) is named: its tests fall back
to the stress runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent

# One search in a fresh interpreter per implementation: the scenario the grader runs.
SEARCH = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
module, share = sys.argv[3], int(sys.argv[4])
from graders.scenarios import counter, shared_state
done, seed = 0, 0
while done < share:
    seed += 1
    if module == "shared_state":
        r = shared_state.threads_controlled(2, 2, seed, 30.0)
    else:
        r = counter.race_controlled(2, 1, 10, seed, 30.0)
    found = r.get("found")
    done += r["executions"]
    if r["uncontrolled"]:
        done = share  # nothing to count: the test falls back to its stress run
    print(json.dumps({"schedules": r["schedules"], "executions": r["executions"],
                      "bound": r["bound"],
                      "uncontrolled": r["uncontrolled"],
                      "alarm": found and found["complaint"]}), flush=True)
"""


def implementations() -> list[tuple[str, Path]]:
    found = [(m, KIT / "solutions" / f"{m}.py") for m in ("shared_state", "counter")]
    for m in ("shared_state", "counter"):
        found += [(m, p) for p in sorted((KIT / "tests" / "alternatives" / m).glob("*.py"))]
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total", type=int, default=12_000,
                    help="schedules to really run in all (the stress-only rows add none)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    impls = implementations()
    started = time.monotonic()
    total = alarms = lost = sampled = 0
    print(f"{'implementation':<42} {'searches':>8} {'run':>6} {'sampled':>7} {'alarms':>6} "
          f"{'bound':>6} {'s':>6}")
    import tempfile

    for module, path in impls:
        share = -(-args.total // len(impls))
        with tempfile.TemporaryDirectory(prefix="sched-bench-") as tmp:
            (Path(tmp) / f"{module}.py").write_text(path.read_text())
            t0 = time.monotonic()
            proc = subprocess.run([args.python, "-c", SEARCH, tmp, str(KIT), module,
                                   str(share)], capture_output=True, text=True, timeout=1800)
            rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode or not rows:
            print(f"{path}: the search crashed\n{proc.stderr[-2000:]}")
            return 1
        n = sum(r["executions"] for r in rows)
        m = sum(r["schedules"] for r in rows)
        sampled += m
        a = sum(bool(r["alarm"]) for r in rows)
        u = sum(bool(r["uncontrolled"]) for r in rows)
        total, alarms, lost = total + n, alarms + a, lost + u
        name = f"{module}/{path.parent.name if path.parent.name != 'solutions' else 'reference'}" \
               f"/{path.stem}"
        print(f"{name:<42} {len(rows):>8} {n:>6} {m:>7} {a:>6} "
              f"{min(r['bound'] for r in rows):>6.3f} "
              f"{time.monotonic() - t0:>6.1f}" + (f"  ({u} searches lost control)" if u else ""))
    print(f"total: {total} schedules run ({sampled} sampled), {alarms} false alarms, "
          f"{lost} searches without control, "
          f"{time.monotonic() - started:.0f} s")
    return 0 if alarms == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
