"""What the classroom scripts share: the kit's paths, its dependencies, the files they copy,
and the leak check (no line of the reference solutions may reach a student)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
HERE = KIT / "classroom"
SOLUTIONS = KIT / "solutions"
EXERCISES = KIT / "exercises"
GRADERS = KIT / "graders"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def grade_dependencies() -> list[str]:
    """The `[project] dependencies` of the kit's pyproject.toml (what grading needs)."""
    text = (KIT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the array is plain strings, a Python literal
        found = re.search(r"^dependencies\s*=\s*(\[.*?\])", text, re.S | re.M)
        if not found:
            raise SystemExit("pyproject.toml has no [project] dependencies") from None
        return list(ast.literal_eval(found.group(1)))
    return list(tomllib.loads(text)["project"]["dependencies"])


def student_pyproject(lang: str | None = None) -> str:
    """The pyproject.toml of the student repository: its dependencies, pytest and ruff; with
    `lang` (e.g. zh_CN), the language its gradings speak unless --lang says otherwise."""
    deps = "".join(f'    "{d}",\n' for d in grade_dependencies())
    template = (HERE / "student-pyproject.toml").read_text(encoding="utf-8")
    text = template.replace("@DEPENDENCIES@\n", deps)
    if lang and lang != "en":
        text = text.replace('addopts = "-p no:cacheprovider"\n',
                            f'addopts = "-p no:cacheprovider"\n'
                            f'# the feedback\'s language (graders/i18n.py); --lang en for English\n'
                            f'grading_lang = "{lang}"\n')
    return text


COMPILED = shutil.ignore_patterns("*.mo", "*.mo.sha256")  # built from the .po by a grading


def copy_graders(dest: Path, hidden: bool) -> None:
    """graders/ into dest/graders, with or without graders/hidden/ (without it, the message
    catalogs lose what only the hidden graders say: their test titles would tell what the
    hidden tests check). Compiled catalogs are never copied: gradings compile them."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = set(IGNORED(folder, names)) | set(COMPILED(folder, names))
        if not hidden and Path(folder).resolve() == GRADERS:
            skip.add("hidden")
        return skip

    shutil.copytree(GRADERS, dest / "graders", ignore=ignore)
    if not hidden:
        strip_hidden_messages(dest / "graders" / "locale")


def strip_hidden_messages(locale: Path) -> None:
    """Drop from the catalogs (template and .po files) under `locale` every message that only
    graders/hidden/ uses, and the hidden graders from the others' locations."""
    from babel.messages.pofile import read_po, write_po

    hidden = "graders/hidden/"
    for path in [*locale.glob("*.pot"), *locale.glob("*/LC_MESSAGES/*.po")]:
        lang = None if path.suffix == ".pot" else path.parent.parent.name
        with open(path, "rb") as f:
            catalog = read_po(f, locale=lang)
        for m in list(catalog):
            if not m.id:
                continue
            if m.locations and all(p.startswith(hidden) for p, _line in m.locations):
                del catalog[m.id]
            else:
                m.locations = [(p, n) for p, n in m.locations if not p.startswith(hidden)]
        with open(path, "wb") as f:
            write_po(f, catalog, width=0, sort_by_file=True)


def copy_exercises(dest: Path) -> None:
    """The stubs, exercises/*.py, into dest/exercises."""
    (dest / "exercises").mkdir(parents=True, exist_ok=True)
    for path in sorted(EXERCISES.glob("*.py")):
        shutil.copy2(path, dest / "exercises" / path.name)


def _grader_text() -> str:
    """What the graders say, code and message catalogs (a message there is one the graders'
    code already says, with its lines joined)."""
    paths = [*sorted(GRADERS.rglob("*.py")), *sorted((GRADERS / "locale").rglob("*.po*"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def distinctive_lines(min_chars: int = 24) -> dict[str, list[str]]:
    """Per solution file, the lines that only it holds: in no stub and in no grader.

    Finding one of them in a tree means reference code leaked into it."""
    graders = _grader_text()
    stubs = "\n".join(p.read_text(encoding="utf-8") for p in sorted(EXERCISES.glob("*.py")))
    found: dict[str, list[str]] = {}
    for path in sorted(SOLUTIONS.glob("*.py")):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if (len(line) >= min_chars and not line.startswith("#") and line not in stubs
                    and line not in graders and line not in lines):
                lines.append(line)
        found[path.name] = lines
    return found


def find_leaks(tree: Path) -> list[str]:
    """Files under `tree` that hold a distinctive line of a reference solution, or that are
    kit-only material (solutions/, tests/, graders/hidden/); empty when nothing leaked."""
    leaks = []
    for name in ("solutions", "tests", "bench", "classroom", "graders/hidden"):
        if (tree / name).exists():
            leaks.append(f"{name}/ is in the tree")
    wanted = distinctive_lines()
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for solution, lines in wanted.items():
            hit = next((line for line in lines if line in text), None)
            if hit:
                leaks.append(f"{path.relative_to(tree)} holds a line of solutions/{solution}: "
                             f"{hit!r}")
    return leaks
