"""The feedback in Simplified Chinese (graders/i18n.py, graders/locale/): the catalog is
complete and keeps every placeholder; a Chinese run of the stubs and of broken variants says
everything in Chinese (results.json, the table, the GitHub summary, the Classroom result), an
English run says nothing in Chinese; the language comes from --lang, else the environment;
test ids stay the same in every language; and a few sample failures, in both languages, are
kept under tests/golden/ so that a change of wording shows in review.

After changing a message: `nox -s catalogs`, translate what it lists in
graders/locale/zh_CN/LC_MESSAGES/graders.po (docs/TRANSLATING.md), and, when a sample changed
on purpose, `KIT_UPDATE_GOLDEN=1 nox -s tests -- tests/test_i18n.py`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import string
from pathlib import Path

import pytest

from classroom import grade_all
from graders import i18n
from tests import kit

PO = kit.KIT / "graders" / "locale" / "zh_CN" / "LC_MESSAGES" / "graders.po"
POT = kit.KIT / "graders" / "locale" / "graders.pot"
GOLDEN = kit.KIT / "tests" / "golden"
CJK = re.compile(r"[\u4e00-\u9fff]")
NO_LOCALE = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}  # so that LANG decides


# ------------------------------------------------------------------------------ the catalog


def extracted() -> dict[str, list[str]]:
    """Every message of the graders and the stubs, extracted now as babel.cfg says (not the
    committed template, which may be stale): msgid -> where it is."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(kit.KIT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for folder in ("graders", "exercises"):
        for path, lineno, message, _comments, _context in extract_from_dir(
                kit.KIT / folder, method_map, options_map):
            msgid = message[0] if isinstance(message, tuple) else message
            found.setdefault(msgid, []).append(f"{folder}/{path}:{lineno}")
    return found


def catalog():
    from babel.messages.pofile import read_po

    with open(PO, "rb") as f:
        return read_po(f, locale="zh_CN")


def fields(text: str) -> set[tuple[str, str, str]]:
    """The {placeholders} of a str.format text: (name, conversion, format spec)."""
    return {(name, conversion or "", spec or "")
            for _lit, name, spec, conversion in string.Formatter().parse(text)
            if name is not None}


def test_every_message_has_a_chinese_translation():
    """A message in the code (a _() call, N_, a test's title, a stub's hint) with no
    translation, or only a fuzzy one, fails here."""
    po = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog() if m.id}
    missing = []
    for msgid, where in extracted().items():
        m = po.get(msgid)
        strings = (m.string if isinstance(m.string, tuple) else (m.string,)) if m else ()
        if m is None or m.fuzzy or not all(strings):
            state = "not in the catalog" if m is None else "fuzzy" if m.fuzzy else "untranslated"
            missing.append(f"{where[0]} ({state}): {msgid[:120]}")
    assert not missing, (f"{len(missing)} message(s) without a Chinese translation; run "
                         f"`nox -s catalogs` and translate them in {PO.relative_to(kit.KIT)}:\n"
                         + "\n".join(missing))


PERCENT = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")  # %(name)s, %(num)d


class _Zeros(dict):
    def __missing__(self, key):
        return 0


def test_translations_keep_every_placeholder():
    """A translation that drops, renames or adds a {placeholder}, changes its format spec or
    breaks the braces would fail (or say something else) at .format() time; one of a page's
    template (Jinja2's newstyle gettext fills `%(name)s` placeholders with %) likewise."""
    wrong = []
    for m in catalog():
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = set().union(*(fields(i) for i in ids))
        template = any(path.endswith(".html") for path, _line in m.locations)
        want_percent = set().union(*(PERCENT.findall(i) for i in ids))
        for text in strings:
            if not text:
                continue
            if template:
                try:
                    text % _Zeros()
                except (ValueError, TypeError) as e:
                    wrong.append(f"{ids[0][:80]!r}: the translation does not %-format ({e})")
                if set(PERCENT.findall(text)) != want_percent:
                    wrong.append(f"{ids[0][:80]!r}: placeholders {sorted(want_percent)} "
                                 f"became {sorted(PERCENT.findall(text))}")
            try:
                got = fields(text)
            except ValueError as e:
                wrong.append(f"{ids[0][:80]!r}: the translation does not parse ({e})")
                continue
            if got != want:
                wrong.append(f"{ids[0][:80]!r}: placeholders {sorted(want)} became "
                             f"{sorted(got)}")
    assert not wrong, "\n".join(wrong)


def test_the_template_is_up_to_date():
    """graders/locale/graders.pot holds every message the code says now (nox -s catalogs
    writes it; a message the code no longer says goes at the next extraction)."""
    from babel.messages.pofile import read_po

    with open(POT, "rb") as f:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f) if m.id}
    new = sorted(set(extracted()) - template)
    assert not new, f"graders.pot is stale: run `nox -s catalogs` (new: {new[:5]})"


TRANSLATE = {"_", "ngettext", "N_"}


def _calls(tree: ast.AST, names: set[str]):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names:
            yield node


PROSE = re.compile(r"[A-Za-z]{2,}[,.:;]?\s+[A-Za-z(]")  # two words: a sentence, not a key


def _english(node: ast.AST) -> list[str]:
    """String literals that read as English words, outside any _()/ngettext()/N_() call."""
    found = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) in TRANSLATE:
            return
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and PROSE.search(n.value):
            found.append(n.value)
            return
        if isinstance(n, ast.JoinedStr):
            text = " ".join(v.value for v in n.values if isinstance(v, ast.Constant))
            if PROSE.search(text):
                found.append(text)
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


GRADER_FILES = sorted([*(kit.KIT / "graders").glob("test_*.py"),
                       *(kit.KIT / "graders" / "hidden").glob("test_*.py"),
                       kit.KIT / "graders" / "harness.py", kit.KIT / "graders" / "conftest.py"])


@pytest.mark.parametrize("path", GRADER_FILES, ids=lambda p: p.name)
def test_feedback_goes_through_the_catalog(path):
    """Every fail(...) says its words through _() (no English literal beside it), with named
    placeholders filled by .format() after the translation: never an f-string or % inside
    _(), which the extraction cannot see and a translator cannot move."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for call in _calls(tree, TRANSLATE):
        for arg in call.args:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) \
                    and not isinstance(arg, (ast.Name, ast.Subscript, ast.Attribute)):
                bad.append(f"line {call.lineno}: {call.func.id}() of {ast.unparse(arg)[:60]}")
    for call in _calls(tree, {"fail"}):
        bad += [f"line {call.lineno}: English outside _(): {text[:60]!r}"
                for arg in call.args for text in _english(arg)]
    assert not bad, "\n".join(bad)


def test_language_choice():
    env = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}
    assert i18n.choose("zh_CN", None, env)[0] == "zh_CN"
    assert i18n.choose("en", "zh_CN", env)[0] == "en"  # --lang beats the repository default
    assert i18n.choose(None, "zh_CN", {**env, "LANG": "C.UTF-8"})[0] == "zh_CN"
    assert i18n.choose(None, None, {**env, "LANG": "zh_CN.UTF-8"}) == ("zh_CN",
                                                                       "LANG=zh_CN.UTF-8")
    assert i18n.choose(None, None, {**env, "LANG": "C.UTF-8"})[0] == "en"
    assert i18n.choose(None, None, env) == ("en", "default")
    assert i18n.choose("fr", None, env)[0] == "en"  # no catalog: English
    # gettext's order: LANGUAGE (a list, the first with a catalog), LC_ALL, LC_MESSAGES, LANG
    assert i18n.from_environment({"LANGUAGE": "fr:zh_CN", "LANG": "C"}) == "zh_CN"
    assert i18n.from_environment({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.from_environment({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C"}) == "zh_CN"
    assert i18n.from_environment({"LANG": "de_DE.UTF-8"}) == "en"
    for name in ("zh", "zh_CN", "zh-CN", "zh_CN.GB2312", "zh_SG", "zh_Hans_CN", "zh_CN@x"):
        assert i18n.normalize(name) == "zh_CN", name
    assert i18n.normalize("zh_TW") is None  # Traditional Chinese: no catalog


def test_a_changed_catalog_is_compiled_again(tmp_path, monkeypatch):
    """The .mo is compiled from the .po when it is missing or the .po changed (its SHA-256
    is kept beside it), and a read-only kit compiles into the user's cache."""
    locale = tmp_path / "locale"
    (locale / "zh_CN" / "LC_MESSAGES").mkdir(parents=True)
    po = locale / "zh_CN" / "LC_MESSAGES" / "graders.po"
    po.write_bytes(PO.read_bytes())
    monkeypatch.setattr(i18n, "LOCALEDIR", locale)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        assert i18n.activate("zh_CN") == "zh_CN"
        assert CJK.search(i18n._("Full marks: every graded test passed."))
        mo = po.with_suffix(".mo")
        assert mo.is_file()
        text = po.read_text(encoding="utf-8").replace("满分：", "全部满分：")
        po.write_text(text, encoding="utf-8")
        i18n.activate("zh_CN")
        assert i18n._("Full marks: every graded test passed.").startswith("全部满分")
        if os.geteuid() != 0:  # root writes anywhere: read-only folders mean nothing to it
            mo.unlink()
            os.chmod(po.parent, 0o555)
            try:
                assert i18n.activate("zh_CN") == "zh_CN"
                assert list((tmp_path / "cache").rglob("graders.mo"))
            finally:
                os.chmod(po.parent, 0o755)
    finally:
        i18n.activate("en")


# -------------------------------------------------------------------- gradings in each language


def broken_folder(into: Path) -> Path:
    """The reference with two broken variants swapped in (tickets without a lock, a guardian
    that is not a daemon) and the threads stub (the contract says what a stub gets)."""
    folder = kit.mutant_folder(kit.MUTANTS / "tickets" / "buy_no_lock.py", into)
    (folder / "daemons.py").write_bytes(
        (kit.MUTANTS / "daemons" / "guardian_not_daemon.py").read_bytes())
    (folder / "threads.py").write_bytes((kit.EXERCISES / "threads.py").read_bytes())
    return folder


MODULES = ["tickets", "daemons", "threads"]


def graded(tmp: Path, lang: str) -> tuple[kit.Grade, str, dict]:
    """A grading of the broken folder in `lang`, with its GitHub summary and Classroom result."""
    summary, classroom = tmp / f"summary-{lang}.md", tmp / f"classroom-{lang}.json"
    g = kit.grade(broken_folder(tmp / lang), "--lang", lang, "--classroom", str(classroom),
                  "--seed", "1414", modules=MODULES,
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert g.results, g.output[-3000:]
    return g, summary.read_text(encoding="utf-8"), json.loads(classroom.read_text())


@pytest.fixture(scope="module")
def chinese(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("zh"), "zh_CN")


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("en"), "en")


@pytest.mark.slow
def test_a_chinese_run_says_everything_in_chinese(chinese):
    g, summary, classroom = chinese
    failed = [t for t in g.results["tests"] if t["status"] == "failed"]
    assert {t["tags"][0] for t in failed} == set(MODULES)
    for t in failed:
        assert CJK.search(t["output"]), t
    for t in g.results["tests"]:
        assert CJK.search(t["name"]) and t["name"].split(":")[0] in MODULES, t["name"]
        assert not CJK.search(t["extra_data"]["id"]), t["extra_data"]
    assert CJK.search(g.results["output"])
    assert g.results["extra_data"]["lang"] == "zh_CN"
    out = g.output
    assert "合计" in out and "练习" in out
    assert [line for line in out.splitlines() if line.strip()][-1].startswith("下一步：")
    assert summary.startswith("## 成绩：") and "### 需要修改的地方" in summary
    assert all(CJK.search(line) for line in summary.splitlines() if line.startswith("- **"))
    assert all(CJK.search(t["message"]) for t in classroom["tests"] if t["status"] == "fail")


@pytest.mark.slow
def test_an_english_run_says_nothing_in_chinese(english):
    g, summary, classroom = english
    assert g.failed()
    for t in g.results["tests"]:
        assert not CJK.search(t["name"] + t["output"]), t
        assert t["extra_data"]["id"] == t["name"]
    assert not CJK.search(json.dumps(g.results, ensure_ascii=False))
    assert not CJK.search(g.output), [line for line in g.output.splitlines() if CJK.search(line)]
    assert not CJK.search(summary) and not CJK.search(json.dumps(classroom, ensure_ascii=False))


@pytest.mark.slow
def test_test_ids_and_the_gradebook_do_not_depend_on_the_language(chinese, english):
    zh, en = chinese[0].results, english[0].results
    ids = {t["extra_data"]["nodeid"]: t["extra_data"]["id"] for t in zh["tests"]}
    assert ids == {t["extra_data"]["nodeid"]: t["name"] for t in en["tests"]}
    zh_row, en_row = grade_all.row_of("s", zh), grade_all.row_of("s", en)
    assert list(zh_row) == list(en_row) and zh_row["max"] == en_row["max"]
    # the same results with the English names give the same row: names play no part in it
    as_english = {**zh, "tests": [{**t, "name": t["extra_data"]["id"]} for t in zh["tests"]]}
    assert grade_all.row_of("s", as_english) == zh_row
    untagged = {**zh, "tests": [{k: v for k, v in t.items() if k != "tags"} for t in zh["tests"]]}
    assert grade_all.row_of("s", untagged) == zh_row  # without tags: the id's exercise


@pytest.mark.slow
@pytest.mark.parametrize("lang, chinese_expected", [("zh_CN.UTF-8", True), ("C.UTF-8", False)])
def test_the_environment_chooses_without_lang(lang, chinese_expected):
    """LANG=zh_CN.UTF-8 without --lang grades the stubs of every exercise in Chinese (each
    test's title and feedback, the table); LANG=C.UTF-8 in English."""
    g = kit.grade(kit.EXERCISES, env={**NO_LOCALE, "LANG": lang})
    assert {t["tags"][0] for t in g.results["tests"]} == set(kit.MODULES)
    assert ("合计" in g.output) is chinese_expected
    assert all(bool(CJK.search(t["name"])) is chinese_expected for t in g.results["tests"])
    text = g.output + json.dumps(g.results, ensure_ascii=False)
    assert bool(CJK.search(text)) is chinese_expected, g.output[-2000:]
    assert all(bool(CJK.search(t["output"])) is chinese_expected for t in g.results["tests"])


# --------------------------------------------------------------------------- golden samples

# (file stem, nodeid): failures whose wording is kept under tests/golden/, in both languages
SAMPLES = [
    ("stub", "graders/test_threads.py::test_start_thread"),
    ("no_lock", "graders/test_tickets.py::test_no_ticket_sold_twice[spawn]"),
    ("not_daemon", "graders/test_daemons.py::test_start_guardian[spawn]"),
    ("daemon_keeps_main_alive", "graders/test_daemons.py::test_guardian_ends_with_main[spawn]"),
]


def normalized(text: str, folder: str) -> str:
    """A failure's feedback without what changes from run to run: the folder graded, temporary
    paths, numbers (pids, counts, seconds)."""
    text = text.replace(folder, "<impl>")
    text = re.sub(r"/tmp/[\w.\-/]+", "<tmp>", text)
    return re.sub(r"\d+(?:\.\d+)?", "N", text).rstrip() + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_golden_samples(lang, chinese, english):
    """The sample failures say what tests/golden/<sample>.<lang>.txt says (numbers, paths
    and pids aside). KIT_UPDATE_GOLDEN=1 writes the files instead: review the diff."""
    g = (english if lang == "en" else chinese)[0]
    by_nodeid = {t["extra_data"]["nodeid"]: t for t in g.results["tests"]}
    update = os.environ.get("KIT_UPDATE_GOLDEN") == "1"
    differ = []
    for stem, nodeid in SAMPLES:
        t = by_nodeid.get(nodeid)
        assert t is not None and t["status"] == "failed", (nodeid, t)
        got = normalized(f"{t['name']}\n\n{t['output']}", g.results["extra_data"]["impl"])
        path = GOLDEN / f"{stem}.{lang}.txt"
        if update:
            path.parent.mkdir(exist_ok=True)
            path.write_text(got, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != got:
            differ.append(f"--- {path.relative_to(kit.KIT)} (expected)\n"
                          f"{path.read_text(encoding='utf-8') if path.exists() else ''}"
                          f"--- now\n{got}")
    assert not differ, ("the wording of a sample failure changed; if on purpose, run "
                        "KIT_UPDATE_GOLDEN=1 nox -s tests -- tests/test_i18n.py and commit "
                        "tests/golden/:\n" + "\n".join(differ))


# ------------------------------------------------- release, Gradescope, grade-all in Chinese


def run(*cmd: str, cwd: Path, env: dict | None = None):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, *cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL,
                          env={**os.environ, **NO_LOCALE, "LANG": "C.UTF-8", **(env or {})})
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_a_release_in_chinese(tmp_path):
    """nox -s release -- DEST --lang zh_CN: the Chinese README, Chinese by default in the
    repository (whatever the locale), English with --lang en; its catalog holds nothing only
    the hidden graders say, and nothing compiled."""
    dest = tmp_path / "repo"
    run("-m", "classroom.release", str(dest), "--lang", "zh_CN", cwd=kit.KIT)
    assert (dest / "README.md").read_text(encoding="utf-8") == \
        (kit.KIT / "classroom" / "student-README.zh_CN.md").read_text(encoding="utf-8")
    assert 'grading_lang = "zh_CN"' in (dest / "pyproject.toml").read_text()
    locale = dest / "graders" / "locale"
    assert not list(locale.rglob("*.mo")) and not list(locale.rglob("*.sha256"))
    catalog = (locale / "zh_CN" / "LC_MESSAGES" / "graders.po").read_text(encoding="utf-8")
    for hidden in (kit.KIT / "graders" / "hidden").glob("test_*.py"):
        for node in ast.walk(ast.parse(hidden.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                title = ast.get_docstring(node).strip().splitlines()[0]
                assert title not in catalog, title
    for args, chinese_expected in (((), True), (("--lang", "en"), False)):
        results = tmp_path / f"results-{len(args)}.json"
        proc = run("-m", "pytest", "graders/test_zombies.py", "--impl", "exercises",
                   "--results", str(results), "-q", *args, cwd=dest)
        data = json.loads(results.read_text())
        assert data["tests"] and all(bool(CJK.search(t["output"])) is chinese_expected
                                     for t in data["tests"]), proc.stdout[-2000:]
        assert bool(CJK.search(proc.stdout)) is chinese_expected


def test_a_gradescope_zip_in_chinese(tmp_path):
    """nox -s gradescope -- --lang zh_CN: compiled catalogs (hidden graders' messages in
    them) and Chinese as the zip's default."""
    import zipfile

    out = tmp_path / "autograder.zip"
    run("-m", "classroom.gradescope", "--out", str(out), "--lang", "zh_CN", cwd=kit.KIT)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        pyproject = zf.read("pyproject.toml").decode()
        po = zf.read("graders/locale/zh_CN/LC_MESSAGES/graders.po")
        stamp = zf.read("graders/locale/zh_CN/LC_MESSAGES/graders.mo.sha256").decode()
    assert "graders/locale/zh_CN/LC_MESSAGES/graders.mo" in names
    import hashlib

    assert stamp.strip() == hashlib.sha256(po).hexdigest()  # fresh: never compiled again
    assert 'grading_lang = "zh_CN"' in pyproject
    assert "40 buyer processes" in po.decode()  # the hidden tests' titles are translated too


@pytest.mark.slow
def test_grade_all_in_chinese(tmp_path):
    """nox -s grade-all -- SUBMISSIONS --lang zh_CN: every student's feedback in Chinese, the
    same gradebook as in English."""
    klass = tmp_path / "class"
    (klass / "bob").mkdir(parents=True)
    (klass / "bob" / "zombies.py").write_bytes((kit.EXERCISES / "zombies.py").read_bytes())
    books = {}
    for lang in ("zh_CN", "en"):
        out = tmp_path / lang
        run("-m", "classroom.grade_all", str(klass), "--out", str(out), "--lang", lang, "--",
            "-k", "zombies", cwd=kit.KIT)
        data = json.loads((out / "bob.json").read_text(encoding="utf-8"))
        assert data["tests"] and all(bool(CJK.search(t["output"])) is (lang == "zh_CN")
                                     for t in data["tests"])
        books[lang] = (out / "gradebook.csv").read_text(encoding="utf-8")
    assert books["zh_CN"] == books["en"]
