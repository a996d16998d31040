"""Write a class of submissions to time `nox -s grade-all` on (issue 16's goal: 30 with --jobs 2).

    python bench/make_class.py DEST [--students 30]

Student i gets solutions/ with, for every third student, one module swapped for a correct
alternative (tests/alternatives/), for every third one module swapped for a broken variant
(tests/mutants/), in a fixed order, so every run times the same class; the rest hand in the
reference. Then:

    time python3 -m nox -s grade-all -- DEST --jobs 2
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--students", type=int, default=30)
    args = ap.parse_args(argv)
    alternatives = sorted((KIT / "tests" / "alternatives").glob("*/*.py"))
    mutants = sorted((KIT / "tests" / "mutants").glob("*/*.py"))
    args.dest.mkdir(parents=True, exist_ok=True)
    for i in range(args.students):
        folder = args.dest / f"student{i + 1:02d}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(KIT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
        pool = (None, alternatives, mutants)[i % 3]
        if pool:
            swapped = pool[(i * 7) % len(pool)]  # spread over the modules, same every run
            shutil.copy(swapped, folder / f"{swapped.parent.name}.py")
            print(f"{folder.name}: {swapped.parent.name} <- {swapped.relative_to(KIT)}")
        else:
            print(f"{folder.name}: the reference")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
