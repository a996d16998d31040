"""The pages, looked at as a person would: in real headless Chromium (Debian's `chromium`).

A small class (the reference, the stubs, a broken variant) is graded by grade-all with
`-k tickets`; its dashboard (reports/class/index.html) and each student's report page are
opened in Chromium, which must log no console message and fetch nothing, and the numbers
in the rendered page (after its script ran) must be the gradebook's and the results files'.
`nox -s grade`'s own page is checked on a grading with a hang, for its stacks. Screenshots
go to reports/screenshots/ for a person to look at.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import kit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = kit.KIT / "reports" / "screenshots"
BROKEN = kit.MUTANTS / "tickets" / "buy_drops_other_keys.py"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=1",  # console messages reach stderr as ...:CONSOLE
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # nothing resolves: no request leaves here

pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="no chromium (apt-get install chromium); CI has it")


# -------------------------------------------------------------------------- the browser


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag, self.attrs, self.parts = tag, attrs, []

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


class Dom(HTMLParser):
    """Every element of a page as Chromium rendered it: tag, attributes, text within."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                break

    def handle_data(self, data):
        for element in self.open:
            element.parts.append(data)

    def all(self, tag: str | None = None, **attrs: str | None) -> list[Element]:
        """Elements of `tag` having each attribute (name with _ for -), of that value unless
        None."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.elements if (tag is None or e.tag == tag) and
                all(k in e.attrs and (v is None or e.attrs[k] == v) for k, v in want.items())]

    def one(self, tag: str | None = None, **attrs: str | None) -> Element:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class Look:
    """What Chromium showed of one page: its DOM after scripts ran, its console, the time."""

    def __init__(self, url: str, dom: Dom, html: str, console: list[str], seconds: float):
        self.url, self.dom, self.html = url, dom, html
        self.console, self.seconds = console, seconds


def chromium(*args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    assert CHROMIUM, "chromium is not installed: apt-get install -y chromium (.ci/run does)"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        started = time.monotonic()
        proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return proc, time.monotonic() - started


def look(page: Path, fragment: str = "") -> Look:
    """Open `page` from disk in headless Chromium; its rendered DOM and console."""
    url = page.resolve().as_uri() + fragment
    proc, seconds = chromium("--dump-dom", url)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return Look(url, Dom(proc.stdout), proc.stdout, console, seconds)


def screenshot(page: Path, name: str) -> Path:
    """A 1280x2000 screenshot of `page` in reports/screenshots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    proc, _seconds = chromium(f"--screenshot={shot}", "--window-size=1280,2000",
                              "--hide-scrollbars", page.resolve().as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-3000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, len(data)  # not blank
    return shot


def assert_renders_clean(seen: Look) -> None:
    """No console message (an error, a failed load, a log) and nothing outside the page."""
    assert seen.console == [], "\n".join(seen.console)
    assert "<script src" not in seen.html and "<link" not in seen.html
    for e in seen.dom.elements:
        for name in ("src", "href", "xlink:href", "srcset", "action", "data"):
            value = e.attrs.get(name, "")
            assert not re.match(r"(?i)\s*([a-z][a-z0-9+.-]*:|//)", value) or \
                value.startswith("file:"), (e.tag, name, value)
    assert not re.search(r"url\(\s*['\"]?(https?:|//)|@import", seen.html), "a style fetches"


def number(text: str) -> float:
    return float(text.strip().split()[0].replace("−", "-"))


# ------------------------------------------------------------------------ the class


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, list[dict], str]:
    """grade-all over three students with -k tickets: the reference, the stubs (as a
    repository holding exercises/) and a broken variant of tickets."""
    klass = tmp_path_factory.mktemp("class")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(kit.SOLUTIONS, klass / "ann-reference", ignore=ignore)
    shutil.copytree(kit.EXERCISES, klass / "bob-stubs" / "exercises", ignore=ignore)
    kit.mutant_folder(BROKEN, tmp_path_factory.mktemp("variant")).rename(klass / "cy-broken")
    out = tmp_path_factory.mktemp("graded")
    proc = subprocess.run([sys.executable, "-m", "classroom.grade_all", str(klass), "--out",
                           str(out), "--", "-k", "tickets"], cwd=kit.KIT, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "class dashboard: " in proc.stdout, proc.stdout
    with open(out / "gradebook.csv", newline="") as f:
        return out, list(csv.DictReader(f)), proc.stdout


def failing_students(out: Path, rows: list[dict]) -> dict[str, set[str]]:
    """Test (nodeid without its parameters) -> the students who failed it, from the
    results files themselves."""
    found: dict[str, set[str]] = {}
    for row in rows:
        for t in json.loads((out / f"{row['student']}.json").read_text())["tests"]:
            if t["status"] == "failed":
                found.setdefault(t["extra_data"]["nodeid"].split("[")[0], set()).add(
                    row["student"])
    return found


def test_class_dashboard_shows_the_gradebook(graded):
    out, rows, _stdout = graded
    page = out / "index.html"
    seen = look(page)
    assert_renders_clean(seen)
    dom = seen.dom
    assert dom.one("table", id="students").attrs.get("data-sortable") == "yes"  # script ran
    exercises = [k for k in rows[0] if k not in ("student", "total", "max", "note")]
    assert exercises == ["tickets"]
    # one row per student, as in the gradebook, ordered by total (then name)
    shown = [tr.attrs["data-student"] for tr in dom.all("tr", data_student=None)]
    by_total = sorted(rows, key=lambda r: (-float(r["total"]), r["student"]))
    assert shown == [r["student"] for r in by_total] == ["ann-reference", "cy-broken",
                                                         "bob-stubs"]
    for row in rows:
        cells = [e for e in dom.all("td") if e in _cells_of(dom, row["student"])]
        points = {c.attrs["data-exercise"]: number(c.text) for c in cells
                  if "data-exercise" in c.attrs}
        assert points == {e: float(row[e]) for e in exercises}, row
        total = next(c for c in cells if "data-total" in c.attrs)
        assert number(total.text) == float(row["total"]), row
        tone = "full" if float(row["total"]) == float(row["max"]) else \
            "none" if float(row["total"]) == 0 else None
        if tone:
            assert f"tone-{tone}" in total.attrs["class"], (row, total.attrs)
        link = next(e for e in dom.all("a") if e.text == row["student"])
        assert link.attrs["href"] == f"pages/{row['student']}.html"
        assert (out / link.attrs["href"]).is_file()
    summary = dom.one("section", id="summary")
    assert summary and number(dom.one("strong", data_count="students").text) == len(rows)
    assert number(dom.one("strong", data_count="full").text) == 1
    mean = sum(float(r["total"]) for r in rows) / len(rows)
    assert number(dom.one("strong", data_stat="mean").text) == pytest.approx(mean, abs=0.05)
    # a chart per exercise, drawn (an <svg> with a bar per band), counting every student
    for exercise in exercises:
        figure = dom.one("figure", data_exercise=exercise)
        counts = [int(c) for c in figure.attrs["data-counts"].split(",")]
        assert sum(counts) == len(rows) and counts[0] == 1 and counts[-1] == 1, counts
        assert f"{exercise}: mean" in figure.text and "points" in figure.text
    assert len(dom.all("svg")) >= len(exercises)
    # the failed tests: those the results files say, each with how many students failed it
    failing = failing_students(out, rows)
    ranked = dom.all(data_test=None)
    assert {e.attrs["data-test"] for e in ranked} == set(failing)
    for e in ranked:
        assert int(e.attrs["data-students"]) == len(failing[e.attrs["data-test"]]), e.attrs
    broken_by_cy = [e for e in dom.all("tr", data_test=None)]  # failed on their own account
    assert broken_by_cy and all("cy-broken" in e.text for e in broken_by_cy)
    assert [e.attrs["data-test"] for e in broken_by_cy][0] == \
        "graders/test_tickets.py::test_find_and_buy"  # 2 points, the most
    assert "lost the other keys" in broken_by_cy[0].text  # its representative message
    facts = {e.attrs["data-fact"]: e.text for e in dom.all("dd", data_fact=None)}
    sha = json.loads((out / "ann-reference.json").read_text())["extra_data"]["graders_sha256"]
    assert sha in facts["graders sha256"]
    assert facts["pytest arguments"].replace("--lang en", "").strip() == "-k tickets"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", facts["date"]) and " s" in facts["took"]
    assert facts["containment"] != "unknown"
    shot = screenshot(page, "class-index")
    print(f"\nclass dashboard: {page.stat().st_size} bytes, rendered in {seen.seconds:.2f} s "
          f"(Chromium start included); screenshot {shot}")


def _cells_of(dom: Dom, student: str) -> list[Element]:
    """The <td> elements of a student's row (they come after its <tr> and before the next)."""
    rows = [e for e in dom.elements if e.tag == "tr"]
    start = dom.elements.index(dom.one("tr", data_student=student))
    later = [dom.elements.index(r) for r in rows if dom.elements.index(r) > start]
    end = min(later) if later else len(dom.elements)
    return [e for e in dom.elements[start:end] if e.tag == "td"]


def test_class_dashboard_sorts_by_a_column(graded):
    out, rows, _stdout = graded
    seen = look(out / "index.html", "#sort=student")
    assert_renders_clean(seen)
    shown = [tr.attrs["data-student"] for tr in seen.dom.all("tr", data_student=None)]
    assert shown == sorted(r["student"] for r in rows)
    heads = {th.attrs["data-key"]: th.attrs.get("aria-sort") for th in
             seen.dom.all("th", data_key=None)}
    assert heads["student"] == "ascending" and heads["total"] is None
    seen = look(out / "index.html", "#sort=-tickets")
    shown = [tr.attrs["data-student"] for tr in seen.dom.all("tr", data_student=None)]
    assert shown == ["ann-reference", "cy-broken", "bob-stubs"]


@pytest.mark.parametrize("student", ["ann-reference", "bob-stubs", "cy-broken"])
def test_student_page_shows_the_results_file(graded, student):
    out, rows, _stdout = graded
    row = next(r for r in rows if r["student"] == student)
    results = json.loads((out / f"{student}.json").read_text())
    page = out / "pages" / f"{student}.html"
    seen = look(page)
    assert_renders_clean(seen)
    assert_page_matches(seen.dom, results)
    assert number(seen.dom.one(id="total").attrs["data-score"]) == float(row["total"])
    back = seen.dom.one("a", class_="back")
    assert back.attrs["href"] == "../index.html" and (page.parent / back.attrs["href"]).is_file()
    if student == "cy-broken":
        screenshot(page, f"student-{student}")


def assert_page_matches(dom: Dom, results: dict) -> None:
    """The numbers of a report page are its results.json's, and each failed test is there
    with its feedback."""
    total = dom.one(id="total")
    assert number(total.attrs["data-score"]) == results["score"]
    assert number(total.attrs["data-max"]) == results["max_score"]
    assert f"{results['score']:g} / {results['max_score']:g} points" in total.text
    per: dict[str, list[float]] = {}
    for t in results["tests"]:
        per.setdefault(t["tags"][0], [0.0, 0.0])
        per[t["tags"][0]][0] += t["score"]
        per[t["tags"][0]][1] += t["max_score"]
    for exercise, (score, most) in per.items():
        cell = next(e for e in dom.all("td", data_score=None)
                    if e in _exercise_cells(dom, exercise))
        assert (number(cell.attrs["data-score"]), number(cell.attrs["data-max"])) == \
            (score, most), exercise
        assert cell.text == f"{score:g} / {most:g}"
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    articles = dom.all("article", data_nodeid=None)
    assert [a.attrs["data-nodeid"] for a in articles] == \
        [t["extra_data"]["nodeid"] for t in failed]
    for a, t in zip(articles, failed, strict=True):
        first = t["output"].strip().splitlines()[0]
        assert " ".join(first.split()) in a.text and t["name"] in a.text
    verdict = dom.one(id="verdict").text
    assert (f"{len(failed)} of {len(results['tests'])} tests failed" in verdict if failed
            else "Full marks" in verdict)


def _exercise_cells(dom: Dom, exercise: str) -> list[Element]:
    start = dom.elements.index(dom.one("tr", data_exercise=exercise))
    return [e for e in dom.elements[start:start + 8] if e.tag == "td"]


# ------------------------------------------------------------- nox -s grade's own page

HANGING_FIND = '''

import threading as _threading


def _waiter(event):
    event.wait()


def find(name, db):
    event = _threading.Event()
    waiter = _threading.Thread(target=_waiter, args=(event,), name="waiter")
    waiter.start()
    waiter.join()
'''


def test_grade_writes_a_report_page_with_the_hang_stacks(tmp_path):
    """The grading plugin writes index.html beside results.json; a test that hung shows
    where each thread was stuck."""
    impl = tmp_path / "impl"
    impl.mkdir()
    source = (kit.SOLUTIONS / "tickets.py").read_text().replace("def find(", "def _find(")
    (impl / "tickets.py").write_text(source + HANGING_FIND)
    results_path = tmp_path / "reports" / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "graders/test_tickets.py", "--impl", str(impl),
         "--results", str(results_path), "-q", "-p", "no:cacheprovider",
         "-k", "find_and_buy or bad_database"],
        cwd=kit.KIT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "GRADER_TIMEOUT_SCALE": "0.1"})
    page = results_path.with_name("index.html")
    assert proc.returncode == 1 and page.is_file(), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"report page: {page}" in proc.stdout
    results = json.loads(results_path.read_text())
    assert any(t["status"] == "passed" for t in results["tests"])
    seen = look(page)
    assert_renders_clean(seen)
    assert_page_matches(seen.dom, results)
    stacks = seen.dom.all("pre", class_="stacks")
    assert stacks and "in _waiter" in stacks[0].text and "in find" in stacks[0].text
    summary = next(e for e in seen.dom.all("summary") if "hang stacks" in e.text)
    assert summary.text.startswith("Where each thread was stuck")
    facts = {e.attrs["data-fact"]: e.text for e in seen.dom.all("dd", data_fact=None)}
    assert facts["seed"].startswith(f"{results['extra_data']['seed']} (replay")
    assert facts["graders sha256"] == results["extra_data"]["graders_sha256"]
    shot = screenshot(page, "grade-report-hang")
    print(f"\nreport page: {page.stat().st_size} bytes, rendered in {seen.seconds:.2f} s; "
          f"screenshot {shot}")


def test_a_page_that_cannot_be_written_changes_nothing(tmp_path):
    """--page into a folder that cannot be made: one line, the same grade and exit status."""
    (tmp_path / "file").write_text("")
    results_path = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "graders/test_tickets.py", "--impl",
         str(kit.EXERCISES), "--results", str(results_path), "-q", "-p", "no:cacheprovider",
         "--page", str(tmp_path / "file" / "index.html")],
        cwd=kit.KIT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert [line for line in proc.stdout.splitlines()
            if line.startswith("report page not written: ")], proc.stdout[-2000:]
    assert json.loads(results_path.read_text())["score"] == 0
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines[-1].startswith("Next:")
