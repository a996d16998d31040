"""Write the student repository: what a student clones, works in and grades.

    python -m classroom.release DEST [--lang zh_CN]        (nox -s release -- DEST)

DEST gets exercises/ (the stubs), graders/ without graders/hidden/, a noxfile with only the
`grade` and `lint` sessions (copied from the kit's noxfile, so they stay the same), a
pyproject.toml with the grading dependencies, the student README, .gitignore and
.github/workflows/grade.yml. Nothing else: no solutions, no kit tests or broken variants, no
hidden graders, no instructor docs or scripts. DEST may exist (a clone of the template
repository, whose .git is kept): the files above are replaced, nothing else is touched.
The release is checked for leaks (any line that only a reference solution holds) before
this script reports success.

--lang zh_CN writes the student README in Simplified Chinese (classroom/student-README.zh_CN.md)
and makes Chinese the repository's feedback language (`grading_lang` in its pyproject.toml;
`nox -s grade -- --lang en` still grades in English there).
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
from pathlib import Path

from classroom import kitfiles
from classroom.kitfiles import HERE, KIT
from graders import harness, i18n

# copied from the kit's noxfile: functions, and constants with the comment above them
SESSIONS = ["COMPILE", "install", "GRADER_PYTEST", "GRADER_ENV", "pytest_args", "grade", "lint"]

NOXFILE_HEAD = '''"""Sessions of the exercises repository.

  nox -s grade                        grade exercises/ (the default session)
  nox -s grade -- -k tickets -x       everything after -- goes to pytest
  nox -s lint                         ruff

Venvs are made with uv where it is installed, plain venv otherwise, and reused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["grade"]

ROOT = Path(__file__).resolve().parent
GRADE_DEPS = nox.project.load_toml(ROOT / "pyproject.toml")["project"]["dependencies"]
'''

# What the release writes; on a re-release into the same folder these are replaced.
WRITTEN = ["exercises", "graders", "noxfile.py", "pyproject.toml", "README.md", ".gitignore",
           ".github/workflows/grade.yml"]


def student_noxfile() -> str:
    """The kit's `grade` and `lint` sessions (and their helpers), with a student header."""
    source = (KIT / "noxfile.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in SESSIONS:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found[node.name] = "\n".join(lines[first - 1:node.end_lineno])
        elif (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id in SESSIONS):
            first = node.lineno
            while first > 1 and lines[first - 2].startswith("#"):
                first -= 1
            found[node.targets[0].id] = "\n".join(lines[first - 1:node.end_lineno])
    missing = [name for name in SESSIONS if name not in found]
    if missing:
        raise SystemExit(f"noxfile.py has no {', '.join(missing)}: cannot write the release")
    text = NOXFILE_HEAD + "".join(f"\n\n{found[name]}\n" for name in SESSIONS)
    undefined = undefined_names(text)
    if undefined:
        raise SystemExit(f"the student noxfile would use {', '.join(undefined)} without "
                         f"defining them: add them to SESSIONS or NOXFILE_HEAD")
    return text


def undefined_names(source: str) -> list[str]:
    """Global names that the functions of `source` use but nothing defines (a NameError the
    first time a student runs the session)."""
    import builtins
    import symtable

    top = symtable.symtable(source, "noxfile.py", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    missing: set[str] = set()
    todo = list(top.get_children())
    while todo:
        scope = todo.pop()
        todo += scope.get_children()
        missing |= {s.get_name() for s in scope.get_symbols()
                    if s.is_global() and s.is_referenced()}
    return sorted(missing - defined - set(dir(builtins)))


def check_dest(dest: Path) -> None:
    if dest == KIT or KIT in dest.parents or dest in KIT.parents:
        raise SystemExit(f"{dest}: the release must go outside the kit ({KIT})")
    if dest.exists() and not dest.is_dir():
        raise SystemExit(f"{dest} is a file")
    if (dest / "solutions").exists() or (dest / "tests" / "mutants").exists():
        raise SystemExit(f"{dest} holds solutions/ or tests/mutants/: not a student repository")


def readme(lang: str | None) -> Path:
    """The student README in `lang` (English without one)."""
    if lang and lang != "en":
        return HERE / f"student-README.{lang}.md"
    return HERE / "student-README.md"


def release(dest: Path, lang: str | None = None) -> list[str]:
    """Write the student repository into dest, its README and feedback in `lang` (default
    English); return what leaked (empty when all is well)."""
    dest = dest.expanduser().resolve()
    check_dest(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in WRITTEN:
        path = dest / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    kitfiles.copy_exercises(dest)
    kitfiles.copy_graders(dest, hidden=False)
    (dest / "noxfile.py").write_text(student_noxfile(), encoding="utf-8")
    (dest / "pyproject.toml").write_text(kitfiles.student_pyproject(lang), encoding="utf-8")
    shutil.copy(readme(lang), dest / "README.md")
    shutil.copy(HERE / "gitignore", dest / ".gitignore")
    (dest / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "grade.yml", dest / ".github" / "workflows" / "grade.yml")
    return kitfiles.find_leaks(dest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path, help="folder of the student repository")
    ap.add_argument("--lang", choices=i18n.languages(), default="en",
                    help="the language of the README and the feedback (default: en)")
    args = ap.parse_args(argv)
    leaks = release(args.dest, args.lang)
    if leaks:
        print("LEAK: the release holds what students must not see:", *leaks, sep="\n  ",
              file=sys.stderr)
        return 1
    dest = args.dest.expanduser().resolve()
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")
                   if p.is_file() and ".git" not in p.relative_to(dest).parts[:1])
    print(f"student repository written to {dest} ({len(files)} files); no leak found")
    print(f"  exercises: {len(list((dest / 'exercises').glob('*.py')))} stubs; graders without "
          f"hidden/; sessions: grade, lint; workflow: .github/workflows/grade.yml")
    print(f"  graders sha256 {harness.fingerprint(dest / 'graders')} (students' reports show it)")
    print(f"  language: {args.lang} (README.md and the feedback)")
    print(f"  check it: cd {dest} && nox -s grade   (the stubs score 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
