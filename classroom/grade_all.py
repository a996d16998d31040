"""Grade a whole class: every submission folder, each in its own pytest process.

    python -m classroom.grade_all SUBMISSIONS [--out DIR] [--shard I/N] [--jobs J]
                                  [--timeout S] [--lang zh_CN] [-- PYTEST ARGS]
    python -m classroom.grade_all --merge [--out DIR]
    (nox -s grade-all -- the same arguments)

SUBMISSIONS holds one folder per student (its name is the student's name in the gradebook),
each a folder of modules or a repository holding exercises/. Each is graded with every
grader, hidden ones included, in a fresh pytest process (with `-n auto`, as `nox -s grade`,
unless the pytest arguments choose -n); a submission that does not import,
loops at import, is empty or hangs costs its student the points, never the batch.

Written to DIR (default reports/class/): <student>.json (Gradescope results), logs/<student>.log
(pytest's output), gradebook.csv (student, points per exercise, total, max, note), index.html
(the class dashboard: charts, the tests most failed, a row per student; classroom/dashboard.py)
and pages/<student>.html (each student's report page), and run.json (the run's date,
duration and arguments). One line per student is printed as it finishes, with its score and
time; on a terminal a progress bar below them counts the students, the time gone and left.

--shard I/N grades only the submissions at positions I, I+N, I+2N, ... (0-based, in name
order), so N runners of a CI matrix share a class; each writes gradebook-shard-I-of-N.csv,
and --merge joins the N shard gradebooks found in DIR into gradebook.csv (it fails if one is
missing) and writes the dashboard of the whole class. --jobs J grades J submissions at once
(default 1: see the README for what it does to verdicts). --timeout S (default 1200) ends
a submission's grading after S seconds (it scores 0 with a note). --lang LANG writes every
student's feedback in LANG (zh_CN: Simplified Chinese; default: English, whatever the
locale); the gradebook is the same in every language (it keys on each test's exercise tag,
and a test's stable English id is in extra_data.id). Arguments after `--` go to pytest, e.g.
`-- -k tickets`.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from classroom.dashboard import FIXED, run_file
from classroom.kitfiles import KIT
from classroom.progress import Progress
from graders import i18n

SHARD_FILE = re.compile(r"gradebook-shard-(\d+)-of-(\d+)\.csv")


def submissions(folder: Path) -> list[Path]:
    """The student folders in `folder`, in name order (dot-folders are skipped)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def parse_shard(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"(\d+)/(\d+)", text)
    if not found or not int(found[1]) < int(found[2]):
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(found[1]), int(found[2])


def _kill_tree(pid: int) -> None:
    """Kill a grading process and everything below it (grading children, student code)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


def _fmt(x: float) -> str:
    return f"{x:g}"


def row_of(student: str, results: dict, note: str = "") -> dict[str, str]:
    """A gradebook row (strings, as in the CSV) from a Gradescope results.json."""
    row = {"student": student}
    points: dict[str, float] = {}
    for t in results.get("tests", []):
        stable = (t.get("extra_data") or {}).get("id") or t["name"]  # the same in any language
        exercise = (t.get("tags") or [stable.split(":", 1)[0]])[0]
        points[exercise] = points.get(exercise, 0.0) + float(t.get("score", 0))
    row.update({exercise: _fmt(p) for exercise, p in sorted(points.items())})
    row["total"] = _fmt(float(results.get("score", 0)))
    row["max"] = _fmt(float(results["max_score"])) if "max_score" in results else ""
    row["note"] = note
    return row


def grade_one(sub: Path, out: Path, pytest_args: list[str], timeout: float) -> dict[str, str]:
    """Grade one submission in its own pytest process; its row of the gradebook."""
    results = out / f"{sub.name}.json"
    log = out / "logs" / f"{sub.name}.log"
    results.unlink(missing_ok=True)
    note = ""
    with tempfile.TemporaryDirectory(prefix="grade-all-") as tmp, \
            open(log, "w", encoding="utf-8") as log_file:
        cmd = [sys.executable, "-m", "pytest", "graders", "--impl", str(sub.resolve()),
               "--results", str(results), f"--junitxml={Path(tmp) / 'junit.xml'}", "-q",
               "--page=",  # no page here: write_dashboard() writes each student's
               # -n auto as nox -s grade: an -n among pytest_args comes later and wins. Two
               # submissions at once with two workers each leave verdicts alone (a class of
               # 30: the same gradebook, 334 s instead of 415 s with -n 0, --jobs 2)
               "-p", "no:cacheprovider", "--assert=plain", "-n", "auto", *pytest_args]
        proc = subprocess.Popen(cmd, cwd=KIT, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc.pid)
            proc.wait()
            note = f"grading stopped after {timeout:g} s"
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if note or not isinstance(data, dict):
        note = note or f"no results (pytest exit status {proc.returncode}; see logs/{log.name})"
        data = {"score": 0, "output": f"Not graded: {note}.", "tests": []}
        results.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return row_of(sub.name, data, note)


def write_gradebook(path: Path, rows: list[dict[str, str]]) -> None:
    """rows sorted by student; a row without a max (not graded) gets the class's max."""
    exercises = sorted({k for row in rows for k in row} - set(FIXED))
    known = [float(row["max"]) for row in rows if row.get("max")]
    rows = sorted(rows, key=lambda row: row["student"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["student", *exercises, "total", "max", "note"])
        w.writeheader()
        for row in rows:
            full = {exercise: "0" for exercise in exercises}
            full.update(row)
            if not full.get("max") and known:
                full["max"] = _fmt(max(known))
            w.writerow(full)
    tmp.replace(path)


def read_gradebook(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def merge(out: Path) -> Path:
    """Join the shard gradebooks in `out` into gradebook.csv."""
    shards = {}
    for path in out.glob("gradebook-shard-*-of-*.csv"):
        found = SHARD_FILE.fullmatch(path.name)
        if found:
            shards[(int(found[1]), int(found[2]))] = path
    splits = sorted({n for _i, n in shards})
    if not splits:
        raise SystemExit(f"--merge: no gradebook-shard-I-of-N.csv in {out}")
    if len(splits) > 1:
        raise SystemExit(f"--merge: {out} holds shards of several splits (N = "
                         f"{', '.join(map(str, splits))}); keep one split's files only")
    n = splits[0]
    missing = [i for i in range(n) if (i, n) not in shards]
    if missing:
        raise SystemExit(f"--merge: shard(s) {', '.join(f'{i}/{n}' for i in missing)} "
                         f"missing from {out}")
    rows: list[dict[str, str]] = []
    for i in range(n):
        rows += read_gradebook(shards[(i, n)])
    names = [row["student"] for row in rows]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SystemExit(f"--merge: graded in more than one shard: {', '.join(twice)}")
    path = out / "gradebook.csv"
    write_gradebook(path, rows)
    print(f"merged {n} shards, {len(rows)} students: {path}")
    write_dashboard(out, read_gradebook(path), [out / run_file((i, n)) for i in range(n)])
    return path


def write_dashboard(out: Path, rows: list[dict[str, str]], runs: list[Path],
                    title: str = "") -> None:
    """index.html and pages/<student>.html in `out`; one line whatever happens (a page that
    cannot be written never fails the grading of a class)."""
    try:
        from classroom import dashboard

        path = dashboard.write_class(out, rows, runs, title=title)
        print(f"class dashboard: {path} (open it in a browser)", flush=True)
    except ImportError as e:
        print(f"class dashboard skipped: {e.name or e} is not installed (nox -s grade-all "
              f"installs it)", flush=True)
    except Exception as e:  # the gradebook is written: the pages are a convenience
        print(f"class dashboard not written: {type(e).__name__}: {e}", flush=True)


def grade_class(folder: Path, out: Path, shard: tuple[int, int] | None, jobs: int,
                timeout: float, pytest_args: list[str]) -> Path:
    everyone = submissions(folder)
    mine = everyone[shard[0]::shard[1]] if shard else everyone
    (out / "logs").mkdir(parents=True, exist_ok=True)
    where = f", shard {shard[0]}/{shard[1]}" if shard else ""
    extra = f", pytest args {' '.join(pytest_args)}" if pytest_args else ""
    print(f"grading {len(mine)} of {len(everyone)} submissions in {folder}{where}, "
          f"{jobs} at a time, hidden tests included{extra}; results in {out}", flush=True)
    width = max([len(p.name) for p in mine] + [7])
    rows, started, date = [], time.monotonic(), time.time()

    def one(sub: Path) -> tuple[dict[str, str], float]:
        t = time.monotonic()
        return grade_one(sub, out, pytest_args, timeout), time.monotonic() - t

    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            Progress(len(mine), "students") as progress:
        futures = [pool.submit(one, sub) for sub in mine]
        for future in as_completed(futures):
            row, seconds = future.result()
            rows.append(row)
            score = f"{row['total']}/{row['max'] or '?'}"
            progress.done(f"{row['student']:<{width}}  {score:>9}  {seconds:6.1f} s  "
                          f"{row['note']}".rstrip())
    name = f"gradebook-shard-{shard[0]}-of-{shard[1]}.csv" if shard else "gradebook.csv"
    path = out / name
    write_gradebook(path, rows)
    run = {"started": date, "seconds": round(time.monotonic() - started, 2), "jobs": jobs,
           "pytest_args": pytest_args, "submissions": str(folder), "students": len(rows)}
    if shard:
        run["shard"] = list(shard)
    (out / run_file(shard)).write_text(json.dumps(run, indent=2), encoding="utf-8")
    problems = sum(bool(row["note"]) for row in rows)
    print(f"graded {len(rows)} submissions in {time.monotonic() - started:.1f} s"
          f"{f' ({problems} not graded: see the note column)' if problems else ''}; "
          f"gradebook: {path}", flush=True)
    write_dashboard(out, read_gradebook(path), [out / run_file(shard)],
                    title=f"Class dashboard (shard {shard[0]}/{shard[1]})" if shard else "")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, pytest_args = argv[:at], argv[at + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("submissions", nargs="?", type=Path, help="one folder per student")
    ap.add_argument("--out", type=Path, default=KIT / "reports" / "class",
                    help="where results and gradebooks go (default: reports/class)")
    ap.add_argument("--shard", type=parse_shard, metavar="I/N",
                    help="grade only submissions I, I+N, I+2N, ... (0-based, name order)")
    ap.add_argument("--merge", action="store_true",
                    help="join gradebook-shard-*-of-N.csv in --out into gradebook.csv")
    ap.add_argument("--jobs", type=int, default=1, help="submissions graded at once (1)")
    ap.add_argument("--timeout", type=float, default=1200,
                    help="seconds one submission's grading may take (1200)")
    ap.add_argument("--lang", choices=i18n.languages(), default="en",
                    help="the language of the students' feedback (default: en)")
    args = ap.parse_args(argv)
    out = args.out.expanduser().resolve()
    if args.merge:
        if args.submissions or args.shard:
            ap.error("--merge takes only --out")
        merge(out)
        return 0
    if args.submissions is None or not args.submissions.is_dir():
        ap.error("SUBMISSIONS: a folder holding one folder per student is required")
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    grade_class(args.submissions.expanduser().resolve(), out, args.shard, args.jobs,
                args.timeout, ["--lang", args.lang, *pytest_args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
