"""Build the Gradescope autograder: a zip to upload as a "Zip file upload" autograder.

    python -m classroom.gradescope [--out dist/autograder.zip] [--lang zh_CN]
                                                                   (nox -s gradescope)

At the zip's root, as Gradescope wants: setup.sh (installs Python and the grading
dependencies into /autograder/venv when the image is built) and run_autograder (grades
/autograder/submission into /autograder/results/results.json); next to them the kit's
graders/ WITH graders/hidden/, pyproject.toml and requirements.txt. A submission may be a
folder of modules or a repository holding exercises/ (a GitHub upload), as --impl accepts.
The message catalogs are compiled into the zip; --lang zh_CN makes the students' feedback
Chinese (`grading_lang` in the zip's pyproject.toml).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

from classroom import kitfiles
from classroom.kitfiles import HERE, KIT
from graders import i18n

EXECUTABLE = 0o100755 << 16  # zip external attributes of a regular file, mode 755
REGULAR = 0o100644 << 16


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = EXECUTABLE if executable else REGULAR
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build(out: Path, lang: str | None = None) -> list[str]:
    """Write the autograder zip to `out`, its feedback in `lang` (default English); return
    the names it holds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        staging = Path(tmp)
        kitfiles.copy_graders(staging, hidden=True)
        for po in (staging / "graders" / "locale").glob(f"*/LC_MESSAGES/{i18n.DOMAIN}.po"):
            i18n.compile_catalog(po, po.with_suffix(".mo"))
        files = sorted(p for p in (staging / "graders").rglob("*") if p.is_file())
        partial = out.with_name(out.name + ".part")
        with zipfile.ZipFile(partial, "w") as zf:
            _add(zf, "setup.sh", (HERE / "setup.sh").read_bytes(), executable=True)
            _add(zf, "run_autograder", (HERE / "run_autograder").read_bytes(), executable=True)
            _add(zf, "requirements.txt",
                 "".join(f"{d}\n" for d in kitfiles.grade_dependencies()).encode())
            _add(zf, "pyproject.toml", kitfiles.student_pyproject(lang).encode())
            for path in files:
                _add(zf, path.relative_to(staging).as_posix(), path.read_bytes())
        partial.replace(out)
    with zipfile.ZipFile(out) as zf:
        return zf.namelist()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=KIT / "dist" / "autograder.zip",
                    help="where the zip goes (default: dist/autograder.zip)")
    ap.add_argument("--lang", choices=i18n.languages(), default="en",
                    help="the language of the students' feedback (default: en)")
    args = ap.parse_args(argv)
    out = args.out.expanduser().resolve()
    names = build(out, args.lang)
    hidden = sorted(n for n in names if n.startswith("graders/hidden/test_"))
    print(f"{out}: {len(names)} files, {out.stat().st_size // 1024} KiB")
    print(f"  setup.sh, run_autograder, requirements.txt, pyproject.toml, graders/ "
          f"({len(hidden)} hidden grader modules: "
          f"{', '.join(Path(n).stem[len('test_'):] for n in hidden)})")
    print(f"  feedback language: {args.lang}")
    print("  upload it in Gradescope: Configure Autograder > Zip file upload, base image "
          "Ubuntu 22.04 or newer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
