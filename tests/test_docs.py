"""The kit carries its own copy of the contract and the course notes (docs/), so an
instructor who clones it alone has them; next to ../shared the copies must not drift."""

from __future__ import annotations

import pytest

from tests import kit

DOCS = kit.KIT / "docs"
SHARED = kit.KIT.parent / "shared"
COPIES = {  # the kit's copy -> the shared original, relative to docs/ and ../shared/
    "EXERCISES.md": "EXERCISES.md",
    "course/notes.zh.txt": "course/notes.zh.txt",
}


def test_docs_are_in_the_kit():
    for name in COPIES:
        assert (DOCS / name).is_file(), f"docs/{name} is missing from the kit"


def test_contract_copy_matches_shared():
    """docs/EXERCISES.md and docs/course/notes.zh.txt are byte-identical to ../shared's."""
    if not (SHARED / "EXERCISES.md").is_file():
        pytest.skip(f"no ../shared next to the kit ({SHARED}): nothing to compare the "
                    f"copies in docs/ with")
    differ = []
    for mine, theirs in COPIES.items():
        original = SHARED / theirs
        if not original.is_file():
            differ.append(f"../shared/{theirs} is missing (docs/{mine} has nothing to match)")
        elif (DOCS / mine).read_bytes() != original.read_bytes():
            differ.append(f"docs/{mine} differs from ../shared/{theirs}: copy it again "
                          f"(cp {original} {DOCS / mine})")
    assert not differ, "\n".join(differ)
