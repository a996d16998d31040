"""Correct implementations written otherwise than the reference get full marks.

The graders judge behaviour, not style: each file in tests/alternatives/<module>/ is a
correct implementation of that module as another student could write it (a docstring line
says how it differs). Graded with the rest of its folder being the reference, it must get
every point of its module.
"""

from __future__ import annotations

import ast

import pytest

from tests import kit


@pytest.mark.parametrize("path", kit.alternatives(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_alternative_gets_full_marks(path, tmp_path):
    module = path.parent.name
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert doc.startswith("ALTERNATIVE:"), f"{path.name}: say how it differs in its docstring"
    g = kit.grade(kit.mutant_folder(path, tmp_path), modules=[module])
    assert kit.full_marks_in(g, module) and g.exit_code == 0, (
        f"{path.name} is correct but lost points: {g.failed()}\n" + g.output[-3000:])


def test_alternatives_exist():
    have = {p.parent.name for p in kit.alternatives()}
    assert {"tickets", "producer_consumer", "echo_server"} <= have
