"""Grader for zombies.py: reaping children, and orphans made by a double fork (section 1)."""

import os

import pytest

from graders.harness import fail
from graders.scenarios import zombies as sc

# orphan() is POSIX only (EXERCISES.md): where os.fork is missing its tests are skipped, with
# this reason in the report, never failed.
NEEDS_FORK = pytest.mark.skipif(
    not hasattr(os, "fork"),
    reason="orphan() is not available on Windows (nor anywhere without os.fork): it needs "
           "os.fork, which is POSIX only; this test is skipped here, not failed, and graded on "
           "Linux and macOS")


@pytest.mark.points(3)
def test_run_children(student, start_method):
    """run_children starts all targets at once, returns their exit codes, leaves no zombie"""
    r = student.run(sc.children_codes, start_method=start_method, timeout=30,
                    what="run_children()")
    if r["type"] != "list":
        fail(f"run_children() returned a {r['type']} ({r['codes']}); expected a list of exit "
             f"codes, one per target, in the order of the targets.")
    codes, expected, what = r["codes"], r["expected"], r["what"]
    if len(codes) != len(expected):
        fail(f"run_children() returned {len(codes)} exit codes for {len(expected)} targets "
             f"({codes}); expected one per target, in the order of the targets.")
    if sc.GAVE_UP in codes:
        alone = sum(c == sc.GAVE_UP for c in codes)
        fail(f"{alone} of {len(codes)} targets gave up waiting for the others (exit code "
             f"{sc.GAVE_UP} after {sc.BARRIER_WAIT:g} s at a barrier that every target must "
             f"reach): the targets did not run at the same time. Start every process before "
             f"joining any (one loop that starts them all, then one loop that joins them).")
    if r["running"] or r["zombies"]:
        parts = []
        if r["running"]:
            parts.append(f"{len(r['running'])} still running")
        if r["zombies"]:
            parts.append(f"{len(r['zombies'])} zombie(s), finished but never reaped")
        fail(f"when run_children() returned, child processes were left behind: "
             f"{' and '.join(parts)}. Join (reap) every process you started before returning: "
             f"join() waits for the child and collects its exit status.")
    if r["methods"] and r["methods"] != [r["start_method"]]:
        fail(f"run_children() started its processes with the {' and '.join(r['methods'])} "
             f"start method, but the graders chose {r['start_method']}: use "
             f"multiprocessing.Process (or multiprocessing.get_context() with no argument), "
             f"never a start method of your own, so the code works under each of them.")
    wrong = [f"the target that {w} gave {c} (expected {e})"
             for w, c, e in zip(what, codes, expected, strict=True) if c != e]
    if wrong:
        fail(f"run_children() returned {codes}; expected {expected}: {'; '.join(wrong)}. "
             f"Return each process's exitcode after joining it, in the order of the targets "
             f"(0 normal return, 1 uncaught exception, N for sys.exit(N)/os._exit(N), -S when "
             f"killed by signal S).")


@pytest.mark.points(3)
@NEEDS_FORK
def test_orphan(student):
    """orphan forks C, which forks G and exits; G is re-parented, reports and exits 0"""
    r = student.run(sc.orphan_run, timeout=30, what="orphan()")
    g = r["returned"]
    if not isinstance(g, int) or g <= 0:
        fail(f"orphan() returned {g}; expected the grandchild G's pid (an int), which C "
             f"sends to the caller (e.g. through a pipe).")
    if r["left_zombies"] or r["left_running"]:
        fail(f"when orphan() returned, its child C was still the caller's child "
             f"({'a zombie' if r['left_zombies'] else 'still running'}; pid "
             f"{(r['left_zombies'] or r['left_running'])[0]}): the caller must reap C with "
             f"os.waitpid(C, 0) before returning, so C leaves no zombie.")
    report, me, c = r["report"], r["me"], r["c"]
    if report is None:
        if r["seconds"] >= 4:
            fail(f"orphan() took {r['seconds']:g} s and G never wrote its report: G was never "
                 f"re-parented because C waited for it. C must exit at once after forking G, "
                 f"without waiting for it (G is then an orphan).")
        if r["g_still_running"]:
            fail("G was still running 8 s after orphan() returned and never wrote its report: "
                 "G must poll os.getppid() (about every 10 ms, at most 5 s) until its parent "
                 "is no longer C, then write the report and exit.")
        fail(f"G never wrote the report file (G ended with exit status {r['g_status']}): once "
             f"its parent is no longer C, G must write \"<G's pid> <new parent pid>\" to the "
             f"report file and exit 0.")
    if r["torn"]:
        fail(f"the report file was read while incomplete ({r['torn'][0]}): write it to a "
             f"temporary file in the same folder, then os.replace() it onto `report`, so a "
             f"reader sees all of it or nothing.")
    if r["in_place"]:
        fail(f"G opened the report file itself for writing (pid {r['in_place'][0]}): until the "
             f"write is done a reader finds it empty or half-written. Write the text to a "
             f"temporary file in the same folder, then os.replace() it onto `report`, so it "
             f"appears complete or not at all.")
    m = sc.REPORT.fullmatch(report.strip())
    if not m:
        fail(f"the report holds {report!r}; expected \"<G's pid> <G's new parent pid>\", "
             f"e.g. \"{g} {me}\".")
    pid, ppid = int(m.group(1)), int(m.group(2))
    if pid != g:
        fail(f"the report names pid {pid} but orphan() returned {g}: both must be G's pid.")
    if c is not None and ppid == c:
        fail(f"G reported its parent {ppid}, which is C: G wrote the report before it was "
             f"re-parented. Poll os.getppid() until it is no longer C's pid.")
    if r["linux"] and ppid != me:
        fail(f"G reported {ppid} as its new parent, but it was re-parented to the grading "
             f"process ({me}), a child subreaper: report os.getppid() as seen after the "
             f"change.")
    if r["g_still_running"]:
        fail("G wrote its report but was still running 8 s after orphan() returned: G must "
             "exit (os._exit(0)) right after writing the report.")
    if r["linux"] and r["g_status"] is None:
        fail("G ended, but not as a child of the grading process, its new parent: it was "
             "reaped by someone else. Leave G alone once C has exited.")
    if r["linux"] and r["g_status"] != 0:
        fail(f"G ended with exit status {r['g_status']}; expected 0 after writing the "
             f"report. G must leave with os._exit(0), never return into the caller's code.")


@NEEDS_FORK
def test_orphan_gives_up(student):
    """orphan's G, never re-parented within 5 s, writes nothing and exits 1"""
    r = student.run(sc.orphan_not_reparented, timeout=30, what="orphan()")
    g, hold = r["returned"], r["hold"]
    if not isinstance(g, int) or g <= 0:
        fail(f"orphan() returned {g}; expected the grandchild G's pid (an int).")
    if r["report"] is not None:
        fail(f"C was kept alive for {hold:g} s after forking G (by the graders), so G was not "
             f"re-parented within 5 s, yet G wrote {r['report']!r} to the report: G must poll "
             f"for at most 5 s, then give up, write nothing and exit 1.")
    if r["g_still_running"]:
        fail(f"G was still running {hold:g} s after C forked it and 2 s after C ended: when it "
             f"is not re-parented within 5 s, G must give up and exit 1.")
    if r["linux"] and r["g_status"] != 1:
        fail(f"G, not re-parented within 5 s, ended with exit status {r['g_status']}; "
             f"expected 1 (it gave up and wrote nothing).")
