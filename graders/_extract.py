"""Babel extraction method for the graders' catalog (babel.cfg names it; docs/TRANSLATING.md).

Besides the _(), ngettext() and N_() calls that Babel's own Python extractor finds, it takes
the texts a student reads that are not calls: the first docstring line of every test function
in a grader module (the test's title in the report) and the hint of every
`raise NotImplementedError("...")` in the stubs (shown when a stub is called).
"""

from __future__ import annotations

import ast
import io


def extract(fileobj, keywords, comment_tags, options):
    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            doc = ast.get_docstring(node)
            if doc and doc.strip():
                title = doc.strip().splitlines()[0].rstrip(".")
                yield (node.body[0].lineno, None, title,
                       ["TRANSLATORS: a test's title, shown as \"<exercise>: <title> (<start "
                        "method>)\""])
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                and getattr(node.exc.func, "id", "") == "NotImplementedError" \
                and node.exc.args and isinstance(node.exc.args[0], ast.Constant) \
                and isinstance(node.exc.args[0].value, str):
            yield (node.lineno, None, node.exc.args[0].value,
                   ["TRANSLATORS: the hint of a stub, shown when the student's code calls it"])


def report() -> int:
    """Compile every catalog (graders.mo, as a grading would) and list the messages still
    untranslated or fuzzy; the number of them (nox -s catalogs prints this last)."""
    from babel.messages.pofile import read_po

    from graders import i18n

    left = 0
    for lang in i18n.languages()[1:]:
        po = i18n.LOCALEDIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        with open(po, "rb") as f:
            catalog = read_po(f, locale=lang)
        todo = [m for m in catalog if m.id and (m.fuzzy or not all(
            m.string if isinstance(m.string, tuple) else (m.string,)))]
        total = sum(1 for m in catalog if m.id)
        i18n.compile_catalog(po, po.with_suffix(".mo"))
        print(f"{lang}: {total - len(todo)} of {total} messages translated ({po})")
        for m in todo:
            msgid = m.id[0] if isinstance(m.id, tuple) else m.id
            where = ", ".join(f"{p}:{n}" for p, n in m.locations[:2])
            print(f"  {'fuzzy' if m.fuzzy else 'to translate'} ({where}): {msgid}")
        left += len(todo)
    return left


if __name__ == "__main__":
    import sys

    sys.exit(1 if report() and "--check" in sys.argv else 0)
