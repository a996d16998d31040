"""The class dashboard that grade-all writes: reports/class/index.html, and pages/<student>.html.

index.html shows, for the class graded into DIR (its gradebook.csv rows and each student's
<student>.json):
  - per exercise, how the scores spread over the class (a bar chart, inline SVG drawn by
    pygal: students per band of points);
  - the tests the class failed most, ranked by how many students failed them, with their
    points and one representative feedback message;
  - one row per student: the points per exercise as coloured cells, the total, a link to
    the student's report page (the page `nox -s grade` writes, graders/pages.py); ordered by
    total, and sorted by any column with a click (a few lines of inline script; #sort=COLUMN
    in the address sorts on opening);
  - the run's facts: graders fingerprint, seeds, containment, date, how long it took.
One file each, style and charts inline, nothing fetched: it opens from disk.

Jinja2 is a grading dependency; pygal is the kit's `pages` extra, which `nox -s grade-all`
installs. Without pygal the page is written with each chart as a small table of counts.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from graders import pages

HERE = Path(__file__).resolve().parent
FIXED = ["student", "total", "max", "note"]  # the gradebook's columns besides the exercises
BAR_COLOURS = {"none": "#d0574b", "some": "#ec9a3a", "most": "#d9b526", "full": "#3b9a5a",
               "na": "#9aa3ad"}


def run_file(shard: tuple[int, int] | None) -> str:
    """Where grade-all keeps a run's facts (date, duration, pytest arguments)."""
    return f"run-shard-{shard[0]}-of-{shard[1]}.json" if shard else "run.json"


def load_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def bands(max_points: float) -> list[tuple[float, float, str]]:
    """The x axis of an exercise's chart: (low, high, label) with low < score <= high, plus
    0 and full marks on their own. One band per point up to 8 points, else 4 between."""
    if max_points <= 0:
        return [(-math.inf, math.inf, "0")]
    if max_points <= 8 and float(max_points).is_integer():
        top = int(max_points)
        return [(-math.inf, 0, "0")] + [(k - 1, k, f"{k:g}") for k in range(1, top)] + \
            [(top - 1, math.inf, f"{top:g} (full)")]
    edges = [max_points * i / 4 for i in range(5)]
    out = [(-math.inf, 0, "0")]
    for lo, hi in zip(edges, edges[1:], strict=False):
        top = hi if hi < max_points else max_points - 1e-9
        whole = float(max_points).is_integer()
        first = math.floor(lo) + 1 if whole else lo
        last = math.floor(top) if whole else top
        label = f"{first:g}–{last:g}" if first < last else f"{first:g}"
        out.append((lo, top, label))
    out.append((max_points - 1e-9, math.inf, f"{max_points:g} (full)"))
    return out


def band_counts(scores: list[float], max_points: float) -> list[dict]:
    out = []
    for lo, hi, label in bands(max_points):
        if max_points <= 0:
            tone = "na"
        elif hi <= 0:
            tone = "none"
        elif hi >= max_points:
            tone = "full"
        else:
            tone = "some" if hi <= max_points / 2 else "most"
        out.append({"label": label, "count": sum(lo < s <= hi for s in scores), "tone": tone})
    return out


def chart_svg(title: str, counts: list[dict]) -> str | None:
    """A bar chart of students per band of points, as an inline <svg> (None without pygal)."""
    try:
        import pygal
        from pygal.style import Style
    except ImportError:
        return None
    style = Style(background="white", plot_background="white", foreground="#1d2430",
                  foreground_strong="#1d2430", foreground_subtle="#d9dee5",
                  font_family="system-ui, 'DejaVu Sans', sans-serif", title_font_size=15,
                  label_font_size=11, major_label_font_size=11, value_font_size=12,
                  colors=("#3b9a5a",), opacity=".95", opacity_hover="1", transition="0s")
    top = max([c["count"] for c in counts] + [1])
    step = max(1, math.ceil(top / 5))
    chart = pygal.Bar(
        width=380, height=230, style=style, title=title, show_legend=False,
        x_title="points", y_title="students", print_values=True, explicit_size=False,
        js=[], disable_xml_declaration=True, margin=6, spacing=4, tooltip_border_radius=3,
        y_labels=list(range(0, top + step, step)), show_minor_y_labels=True,
        x_label_rotation=0, truncate_label=-1)
    chart.x_labels = [c["label"] for c in counts]
    chart.add("students", [{"value": c["count"], "color": BAR_COLOURS[c["tone"]],
                            "label": f"{c['count']} student{'s' if c['count'] != 1 else ''}"}
                           for c in counts])
    return chart.render(is_unicode=True)


def normalised(text: str) -> str:
    """The first line of a message with its numbers blanked, to find the usual one."""
    return re.sub(r"\d+", "#", text.strip().splitlines()[0] if text.strip() else "")


# What graders/harness.py's Student.require() says of a module before any test runs.
NOT_STARTED = re.compile(r"^\w+\.py is (?:still the stub|missing from)")
NO_IMPORT = re.compile(r"^importing \w+\.py (?:failed|did not finish)")


def whole_failures(results: dict[str, dict]) -> dict[tuple[str, str], str]:
    """(student, exercise) -> "not started" (a stub or no module) or "does not import", for
    each exercise a student failed as a whole before any test ran: every test failed with
    what Student.require() says. Feedback in another language than English is recognised by
    its shape: two or more tests, all failed with the same first line."""
    found = {}
    for student, r in results.items():
        english = (r.get("extra_data") or {}).get("lang", "en") in ("", "en")
        by: dict[str, list[dict]] = {}
        for t in r.get("tests") or []:
            by.setdefault(pages.exercise_of(t), []).append(t)
        for exercise, tests in by.items():
            if not all(t.get("status") == "failed" for t in tests):
                continue
            firsts = [pages.feedback(t.get("output", ""))[0].split("\n", 1)[0] for t in tests]
            if all(NOT_STARTED.match(f) for f in firsts):
                found[(student, exercise)] = "not started"
            elif all(NO_IMPORT.match(f) for f in firsts):
                found[(student, exercise)] = "does not import"
            elif not english and len(tests) > 1 and len({normalised(f) for f in firsts}) == 1:
                found[(student, exercise)] = ("not started" if "NotImplementedError" in firsts[0]
                                              else "does not import")
    return found


def failures(results: dict[str, dict]) -> list[dict]:
    """The tests the class failed, one per grader test (its start methods together), ranked
    by how many students failed it on its own account (not for a stub, a missing module or
    one that does not import), then by how many failed it at all, then by its points. Its
    representative message is the most usual one of those failures."""
    whole = whole_failures(results)
    found: dict[str, dict] = {}
    for student, r in sorted(results.items()):
        for t in r.get("tests") or []:
            nodeid = (t.get("extra_data") or {}).get("nodeid", t.get("name", "?"))
            key = nodeid.split("[", 1)[0]
            entry = found.setdefault(key, {
                "key": key, "exercise": pages.exercise_of(t),
                "name": re.sub(r" \([^()]*\)$", "", t.get("name", "?")) if "[" in nodeid
                else t.get("name", "?"),
                "variants": {}, "failed_by": {}, "hidden": False})
            entry["variants"][nodeid] = float(t.get("max_score", 0))
            entry["hidden"] |= t.get("visibility", "visible") != "visible"
            if t.get("status") == "failed":
                entry["failed_by"].setdefault(student, []).append(
                    (t.get("output", ""), whole.get((student, entry["exercise"]), "")))
    ranked = []
    for entry in found.values():
        if not entry["failed_by"]:
            continue
        messages = [(student, out, pages.feedback(out), kind) for student, outs in
                    entry["failed_by"].items() for out, kind in outs]
        own = [m for m in messages if not m[3]] or messages
        usual = Counter(normalised(fb[0]) for _s, _o, fb, _k in own)
        common = usual.most_common(1)[0][0]
        student, _out, (message, sections), _kind = next(m for m in own
                                                         if normalised(m[2][0]) == common)
        why: dict[str, set] = {}
        for who, _o, _fb, kind in messages:
            why.setdefault(kind, set()).add(who)
        broke = why.get("", set())
        ranked.append({
            **{k: entry[k] for k in ("key", "exercise", "name", "hidden")},
            "students": len(entry["failed_by"]), "broke": len(broke),
            "module_level": {k: len(v - broke) for k, v in sorted(why.items())
                             if k and v - broke},
            "points": sum(entry["variants"].values()), "variants": len(entry["variants"]),
            "message": message[:1500], "stuck": any(s["stuck"] for s in sections),
            "from": student, "same": usual[common], "failures": len(own),
            "who": sorted(entry["failed_by"]),
        })
    ranked.sort(key=lambda e: (-e["broke"], -e["students"], -e["points"], e["exercise"],
                               e["name"]))
    return ranked


def not_started(results: dict[str, dict], exercise: str) -> list[str]:
    """The students whose every test of `exercise` failed for a stub or a missing module."""
    return sorted(student for (student, e), kind in whole_failures(results).items()
                  if e == exercise and kind == "not started")


def _float(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def exercise_maxima(rows: list[dict], results: dict[str, dict],
                    names: list[str]) -> dict[str, float]:
    """Each exercise's full marks: from the results files, else the best score seen."""
    best: dict[str, float] = {}
    for r in results.values():
        for e in pages.exercises(r.get("tests") or []):
            best[e["name"]] = max(best.get(e["name"], 0.0), e["max"])
    for name in names:
        if name not in best:
            best[name] = max([_float(row.get(name)) for row in rows] + [0.0])
    return best


def combine_runs(paths: list[Path]) -> dict:
    """The facts of the run(s) of a gradebook: its run.json, or each of its shards' (those
    missing are left out)."""
    runs = [data for path in paths if (data := load_json(path))]
    if not runs:
        return {}
    merged = len(runs) > 1 or "shard" in runs[0]
    return {
        "started": min(r.get("started", time.time()) for r in runs),
        "seconds": max(r.get("seconds", 0.0) for r in runs),
        "busy": sum(r.get("seconds", 0.0) for r in runs),
        "shards": len(runs) if merged else 0,
        "jobs": sorted({r.get("jobs") for r in runs if r.get("jobs")}),
        "pytest_args": sorted({" ".join(r.get("pytest_args") or []) for r in runs}),
        "submissions": sorted({r.get("submissions", "") for r in runs} - {""}),
    }


def context(out: Path, rows: list[dict], run: dict, title: str = "") -> dict:
    """What class.html shows."""
    names = sorted({k for row in rows for k in row} - set(FIXED))
    results = {row["student"]: r for row in rows
               if (r := load_json(out / f"{row['student']}.json")) is not None}
    maxima = exercise_maxima(rows, results, names)
    students = []
    for row in rows:
        total, full = _float(row.get("total")), _float(row.get("max"))
        page = out / "pages" / f"{row['student']}.html"
        r = results.get(row["student"]) or {}
        students.append({
            "name": row["student"], "total": total, "max": full,
            "tone": pages.tone(total, full), "note": row.get("note", ""),
            "page": f"pages/{quote(row['student'])}.html" if page.exists() else "",
            "seed": (r.get("extra_data") or {}).get("seed", ""),
            "cells": [{"exercise": n, "score": _float(row.get(n)), "max": maxima[n],
                       "tone": pages.tone(_float(row.get(n)), maxima[n])} for n in names],
        })
    students.sort(key=lambda s: (-s["total"], s["name"]))
    charts = []
    for n in names:
        scores = [_float(row.get(n)) for row in rows]
        counts = band_counts(scores, maxima[n])
        mean = statistics.fmean(scores) if scores else 0.0
        charts.append({
            "exercise": n, "max": maxima[n], "mean": mean, "counts": counts,
            "full": sum(s >= maxima[n] > 0 for s in scores), "zero": sum(s <= 0 for s in scores),
            "not_started": len(not_started(results, n)),
            "svg": chart_svg(f"{n}: mean {mean:.1f} of {maxima[n]:g}", counts),
        })
    totals = [s["total"] for s in students]
    extras = [r.get("extra_data") or {} for r in results.values()]
    fingerprints = sorted({e.get("graders_sha256", "") for e in extras} - {""})
    containment = Counter(re.sub(r"uid \d+", "uid", pages.containment_text(e["containment"]))
                          for e in extras if e.get("containment"))  # each run has its own uid
    seconds = [float(r.get("execution_time", 0)) for r in results.values()]
    facts = [
        ("graded", f"{len(rows)} students" + (f" from {', '.join(run['submissions'])}"
                                              if run.get("submissions") else "")),
        ("date", pages.when(run.get("started")) if run.get("started") else "unknown"),
        ("took", (f"{run['seconds']:.1f} s" + (f" (the longest of {run['shards']} shards; "
                                               f"{run['busy']:.1f} s together)"
                                               if run.get("shards") else "")
                  if run else "unknown") + (f"; gradings {sum(seconds):.1f} s in all, "
                                            f"median {statistics.median(seconds):.1f} s"
                                            if seconds else "")),
        ("graders sha256", ", ".join(fingerprints) or "unknown"),
        ("seeds", "one per student, on each student's page (replay one with nox -s grade -- "
                  "--impl FOLDER --seed N)" if results else "unknown"),
        ("containment", "; ".join(f"{text} ({k} student{'s' if k != 1 else ''})"
                                  if len(containment) > 1 else text
                                  for text, k in containment.most_common()) or "unknown"),
        ("pytest arguments", "; ".join(a or "(none)" for a in run.get("pytest_args", []))
         or "unknown"),
    ]
    if fingerprints and len(fingerprints) > 1:
        facts.insert(4, ("warning", "the students were graded with different graders"))
    return {
        "title": title or "Class dashboard", "students": students, "exercises": names,
        "maxima": maxima, "charts": charts, "failures": failures(results),
        "graded": sum(bool(r.get("tests")) for r in results.values()),
        "missing": [row["student"] for row in rows if row["student"] not in results],
        "mean": statistics.fmean(totals) if totals else 0.0,
        "median": statistics.median(totals) if totals else 0.0,
        "max": max([s["max"] for s in students] + [0.0]),
        "not_graded": sum(bool(s["note"]) for s in students),
        "full": sum(s["tone"] == "full" for s in students),
        "facts": facts, "pygal": all(c["svg"] is not None for c in charts),
    }


def write_student_pages(out: Path, rows: list[dict]) -> int:
    """pages/<student>.html from each <student>.json, each linking back to the dashboard."""
    written = 0
    for row in rows:
        path = out / f"{row['student']}.json"
        data = load_json(path)
        if data is None:
            continue
        pages.write_report(data, out / "pages" / f"{row['student']}.html",
                           title=f"Grade report: {row['student']}", back="../index.html",
                           graded_at=path.stat().st_mtime)
        written += 1
    return written


def write_class(out: Path, rows: list[dict], runs: list[Path], title: str = "") -> Path:
    """index.html and the students' pages for the class graded into `out` (`rows`: its
    gradebook; `runs`: the run files of that gradebook, see run_file)."""
    write_student_pages(out, rows)
    env = pages.environment(HERE / "templates")
    html = env.get_template("class.html").render(**context(out, rows, combine_runs(runs),
                                                           title))
    return pages.write_html(out / "index.html", html)
