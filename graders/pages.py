"""The report page of one grading: what results.json says, as a page to look at.

The grading plugin (graders/conftest.py) writes it after results.json, as reports/index.html
(beside results.json; --page PATH for elsewhere), from that file's data alone; grade-all
writes the same page for every student of a class from their <student>.json. It shows the
points per exercise, each failed test's feedback with its sections (the stacks where each
thread was stuck, tracebacks, what the code printed) and the run's facts (seed, graders
fingerprint, containment). One HTML file: its style inline, no script, nothing fetched, so
it opens from disk anywhere.

Needs Jinja2 (a grading dependency); the plugin skips the page with one line without it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from pathlib import Path

from graders import i18n
from graders.i18n import N_, _, ngettext

TEMPLATES = Path(__file__).resolve().parent / "templates"
STUCK = N_("where each thread was stuck")
# The sections the graders append to a failure message (harness._section), in no order: their
# titles in English or in the run's language (the grading translates them).
SECTIONS = (STUCK, N_("traceback"), N_("raised at"), N_("your code printed"), N_("stderr"),
            N_("where"))
OPEN = {STUCK, "traceback", "raised at", "where"}  # shown unfolded


def environment(*folders: Path):
    """A Jinja2 environment over `folders` and graders/templates, escaping everything, with
    Jinja2's i18n extension over graders.i18n (the templates say their texts through _())."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader([*map(str, folders), str(TEMPLATES)]),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    i18n.install_jinja(env)
    env.filters["pts"] = points
    env.filters["npoints"] = npoints
    return env


def points(x) -> str:
    """12.0 -> "12", 1.5 -> "1.5"."""
    return f"{float(x or 0):g}"


def npoints(x) -> str:
    """1 -> "1 point", 2.5 -> "2.5 points", in the run's language."""
    return ngettext("{n} point", "{n} points", 1 if float(x or 0) == 1 else 2).format(
        n=points(x))


def tone(score: float, max_score: float | None) -> str:
    """The colour class of a score: none, some (under half), most, full; na without a max."""
    if not max_score:
        return "na"
    if score >= max_score:
        return "full"
    if score <= 0:
        return "none"
    return "some" if score < max_score / 2 else "most"


def percent(score: float, max_score: float | None) -> float:
    return round(100 * min(1.0, score / max_score), 1) if max_score else 0.0


def feedback(output: str) -> tuple[str, list[dict]]:
    """A failure's text as (message, sections): each section a dict with title, text,
    stuck (the hang stacks) and open (shown unfolded)."""
    key = {}  # a title as the output says it (English or translated) -> its English
    for s in SECTIONS:
        key.setdefault(_(s), s)
        key[s] = s
    pattern = re.compile(r"\n\n(" + "|".join(re.escape(t) for t in sorted(key, key=len,
                                                                           reverse=True))
                         + r"):\n")
    parts = pattern.split((output or "").strip())
    sections = [{"title": _(key[title]), "text": text.strip("\n"),
                 "stuck": key[title] == STUCK, "open": key[title] in OPEN}
                for title, text in zip(parts[1::2], parts[2::2], strict=True)]
    return parts[0].strip(), sections


# A frame of the stacks or a traceback: `File "path", line N` (a traceback adds ", in f")
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+')


def yours(line: str) -> bool:
    """Whether a line of stacks or a traceback is a frame of the student's code (not of
    Python's library, of the graders or of generated code)."""
    found = _FRAME.match(line)
    if not found:
        return False
    path = found.group(1)
    return not (path.startswith("<") or "/graders/" in path or "/lib/python" in path
                or "site-packages" in path)


def marked(text: str):
    """Section text as markup, the student's own frames in <mark> (escaped otherwise)."""
    from markupsafe import Markup, escape

    return Markup("\n").join(Markup("<mark>%s</mark>") % line if yours(line) else escape(line)
                             for line in text.splitlines())


def exercise_of(test: dict) -> str:
    tags = test.get("tags") or []
    return tags[0] if tags else test.get("name", "?").split(":", 1)[0]


def exercises(tests: list[dict]) -> list[dict]:
    """Per exercise (in name order): tests passed and run, points and their max."""
    table: dict[str, dict] = {}
    for t in tests:
        row = table.setdefault(exercise_of(t), {"passed": 0, "total": 0, "score": 0.0,
                                                "max": 0.0})
        row["total"] += 1
        row["max"] += float(t.get("max_score", 0))
        row["score"] += float(t.get("score", 0))
        row["passed"] += t.get("status") == "passed"
    return [{"name": name, **row, "tone": tone(row["score"], row["max"]),
             "percent": percent(row["score"], row["max"])}
            for name, row in sorted(table.items())]


def containment_text(c: dict | None) -> str:
    """What contained the student code, as the grading run's header says it."""
    if not c:
        return _("unknown")
    text = " + ".join(c.get("rungs") or []) or _("none")
    if c.get("weak"):
        text += " " + _("(WEAK: a process that leaves its session and the process tree can "
                        "outlive its test)")
    missing = c.get("not_available") or []
    return text + (_("; not available: {what}").format(what="; ".join(missing)) if missing
                   else "")


def when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(seconds or time.time()))


TIMELINE = re.compile(r"(\S+/timelines/[^\s;]+\.html)")


def timeline_link(output: str, page_dir: Path | None) -> str:
    """The drawn interleaving a failure names (reports/timelines/...), as a link from the page."""
    found = TIMELINE.search(output)
    if not found or not Path(found.group(1)).exists():
        return ""
    target = Path(found.group(1)).resolve()
    return os.path.relpath(target, page_dir) if page_dir else target.as_uri()


def report_context(results: dict, *, title: str | None = None, back: str | None = None,
                   graded_at: float | None = None, page_dir: Path | None = None) -> dict:
    """What report.html shows, from a results.json."""
    tests = list(results.get("tests") or [])
    extra = results.get("extra_data") or {}
    failed = []
    for i, t in enumerate(tests):
        if t.get("status") != "failed":
            continue
        message, sections = feedback(t.get("output", ""))
        for section in sections:
            section["html"] = marked(section["text"])
        failed.append({"name": t.get("name", "?"), "exercise": exercise_of(t),
                       "max_score": t.get("max_score", 0), "nodeid": (t.get("extra_data") or {})
                       .get("nodeid", ""), "hidden": t.get("visibility", "visible") != "visible",
                       "message": message, "sections": sections, "anchor": f"test-{i}",
                       "timeline": timeline_link(t.get("output", ""), page_dir)})
    score = float(results.get("score", 0))
    max_score = float(results.get("max_score", sum(float(t.get("max_score", 0))
                                                   for t in tests)))
    impl = extra.get("impl", "")
    if not tests:
        verdict = _("No test was graded.")
    elif not failed:
        verdict = _("Full marks: all {n} tests passed.").format(n=len(tests))
    else:
        verdict = _("{failed} of {n} tests failed; each is explained below.").format(
            failed=len(failed), n=len(tests))
    seed = extra.get("seed")
    return {
        "title": title or _("Grade report: {name}").format(name=Path(impl).name
                                                             or _("submission")),
        "lang": str(extra.get("lang") or "en").replace("_", "-"),  # the feedback's language
        "back": back, "score": score, "max_score": max_score,
        "percent": percent(score, max_score), "tone": tone(score, max_score),
        "verdict": verdict, "output": results.get("output", ""),
        "exercises": exercises(tests), "tests": tests, "failed": failed,
        "passed": [t for t in tests if t.get("status") == "passed"],
        "stuck": sum(any(s["stuck"] for s in t["sections"]) for t in failed),
        # (key, label, value): the key (data-fact) is the same in every language
        "facts": [(k, _(k), v) for k, v in [
            (N_("graded"), impl),
            (N_("date"), when(graded_at)),
            (N_("took"), f"{float(results['execution_time']):.1f} s"
             if "execution_time" in results else ""),
            (N_("seed"), _("{seed} (replay: nox -s grade -- --seed {seed})").format(seed=seed)
             if seed is not None else ""),
            (N_("graders sha256"), extra.get("graders_sha256", "")),
            (N_("containment"), containment_text(extra.get("containment")) if extra else ""),
            (N_("python"), extra.get("python", "")),
            (N_("start methods"), ", ".join(extra.get("start_methods") or [])),
        ] if v],
    }


@contextlib.contextmanager
def speaking(lang: str | None):
    """The page's texts in `lang` (the language its feedback is in: results.json's lang) while
    rendering it, when it has a catalog; the language in force again afterwards."""
    before = i18n.language
    lang = i18n.normalize(lang) if lang else None
    if not lang or lang == before:
        yield
        return
    i18n.activate(lang)
    try:
        yield
    finally:
        i18n.activate(before)


_REPORT: dict = {}  # the report page's template, loaded once per process
_LOADING = threading.Lock()


def _report_template():
    with _LOADING:
        if "template" not in _REPORT:
            _REPORT["template"] = environment().get_template("report.html")
        return _REPORT["template"]


def warm() -> None:
    """Import Jinja2 and compile the report page's template in a background thread, while the
    tests run: the grading process mostly waits on its children meanwhile, so the 0.09 s they
    cost is off the grading's wall time. report_html() takes the lock the thread holds."""
    def load():
        with contextlib.suppress(Exception):  # report_html() meets the same error, and says it
            _report_template()

    threading.Thread(target=load, name="report-page", daemon=True).start()


def report_html(results: dict, **kwargs) -> str:
    with speaking((results.get("extra_data") or {}).get("lang")):
        return _report_template().render(**report_context(results, **kwargs))


def write_html(path: Path, html: str) -> Path:
    """Write a page whole (a reader never sees half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_report(results: dict, path: Path, **kwargs) -> Path:
    """The report page of `results` (a results.json's data) at `path`."""
    return write_html(path, report_html(results, page_dir=Path(path).resolve().parent, **kwargs))


def page_path(results_path: Path) -> Path:
    """Where the plugin puts the page by default: index.html beside a results.json,
    <name>.html beside a results file of another name."""
    results_path = Path(results_path)
    if results_path.name == "results.json":
        return results_path.with_name("index.html")
    return results_path.with_suffix(".html")
