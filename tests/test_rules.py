"""docs/RULES.md maps every sentence of the contract (docs/EXERCISES.md) to its rules, each
rule to the grader tests that fail when it is broken and to the broken variants in
tests/mutants that prove it. These tests keep that map from drifting (fast: nothing is
graded, every file is read as text or with ast):

- the sentences quoted in RULES.md are exactly the contract's, in order;
- every rule quotes words of its own sentence, and has a unique id;
- every test named exists (graders/ and tests/ files, parsed with ast), and every grader
  test is named by some rule;
- every variant named exists, and its CAUGHT_BY is one of its rule's tests in
  graders/test_<module>.py (the test that tests/test_mutants.py runs);
- every variant in tests/mutants is named by some rule (and by the rule its docstring names
  as "Rule: <id>", if it does);
- no rule is left MISSING a test or a variant (one failure lists them all).

`python tests/test_rules.py` prints the contract's sentences that RULES.md does not quote yet,
as blocks to paste into it.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
CONTRACT = KIT / "docs" / "EXERCISES.md"
RULES = KIT / "docs" / "RULES.md"
MUTANTS = KIT / "tests" / "mutants"

MISSING = "MISSING"
NOT_A_RULE = "not a rule:"
NONE = "—"
RULE_ID = re.compile(r"[a-z_]+(\.[a-z0-9_-]+)+")
TEST_REF = re.compile(r"((?:graders|tests)/[\w/]+\.py)::(\w+)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"(])")


def norm(text: str) -> str:
    return " ".join(text.split())


def contract_sentences(text: str | None = None) -> list[str]:
    """The contract, sentence by sentence. Headings are skipped; each paragraph and each
    bullet ("- " at the start of a line, with its indented continuation lines) is a block;
    a block is split after ".", "!" or "?" followed by white space and a capital letter, a
    backtick, a double quote or "(". Whitespace is collapsed."""
    text = CONTRACT.read_text(encoding="utf-8") if text is None else text
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            current = None
            continue
        if line.startswith("- ") or current is None:
            current = [line[2:] if line.startswith("- ") else line]
            blocks.append(current)  # type: ignore[arg-type]
        else:
            current.append(line)
    return [s for b in blocks for s in SENTENCE_END.split(norm(" ".join(b))) if s]


@dataclass
class Rule:
    id: str
    says: str  # the contract's words, fragments joined by " … "
    tests: str  # graders/...py::test_x, ... | MISSING | "not a rule: why"
    variants: str  # module/bug.py, ... | MISSING | —
    sentence: str
    line: int

    @property
    def is_rule(self) -> bool:
        return not self.tests.startswith(NOT_A_RULE)

    def test_refs(self) -> list[tuple[str, str]]:
        return TEST_REF.findall(self.tests)

    def variant_paths(self) -> list[str]:
        if self.variants in (MISSING, NONE):
            return []
        return [v.strip().strip("`") for v in self.variants.split(",") if v.strip()]


@dataclass
class RuleMap:
    sentences: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # rows that cannot be read

    def __repr__(self) -> str:
        return f"RuleMap({len(self.sentences)} sentences, {len(self.rules)} rows)"


def cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def read_rules(text: str | None = None) -> RuleMap:
    """RULES.md: each contract sentence as a "> " block quote, then a table whose rows
    (`rule | contract says | tests | variants`) are the rules of that sentence."""
    text = RULES.read_text(encoding="utf-8") if text is None else text
    m = RuleMap()
    quoting = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith(">"):
            quote = line[1:].strip()
            if quoting:
                m.sentences[-1] = norm(m.sentences[-1] + " " + quote)
            else:
                m.sentences.append(norm(quote))
            quoting = True
            continue
        quoting = False
        if not line.startswith("| `"):
            continue
        row = cells(line)
        if len(row) != 4:
            m.problems.append(f"RULES.md line {n}: {len(row)} cells, expected 4: {line[:80]}")
            continue
        if not m.sentences:
            m.problems.append(f"RULES.md line {n}: a rule before any quoted sentence")
            continue
        rid, says, tests, variants = row
        m.rules.append(Rule(rid.strip("`"), says, tests, variants, m.sentences[-1], n))
    return m


def top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def caught_by(path: Path) -> str | None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CAUGHT_BY"
                and isinstance(node.value, ast.Constant)):
            return node.value.value
    return None


def all_mutants() -> list[str]:
    return sorted(p.relative_to(MUTANTS).as_posix() for p in MUTANTS.glob("*/*.py"))


def grader_tests() -> list[tuple[str, str]]:
    found = []
    for path in sorted((KIT / "graders").rglob("test_*.py")):
        rel = path.relative_to(KIT).as_posix()
        found += [(rel, name) for name in sorted(top_level_names(path))
                  if name.startswith("test_")]
    return found


@pytest.fixture(scope="module")
def rule_map() -> RuleMap:
    m = read_rules()
    assert not m.problems, "\n".join(m.problems)
    return m


# ------------------------------------------------------------------------------ the tests


def test_every_contract_sentence_is_quoted_in_order(rule_map):
    """The "> " quotes of RULES.md are the contract's sentences, all of them, in order."""
    want, got = contract_sentences(), rule_map.sentences
    unquoted = [s for s in want if s not in got]
    stale = [s for s in got if s not in want]
    lines = [f"not in RULES.md (the contract says): {s}" for s in unquoted]
    lines += [f"in RULES.md but not (or no longer) in the contract: {s}" for s in stale]
    if not lines and want != got:
        lines.append("RULES.md quotes the contract's sentences in another order")
    assert not lines, "\n".join(lines) + "\n(python tests/test_rules.py prints the blocks)"


def test_every_sentence_has_rules_quoting_its_own_words(rule_map):
    quoted = {r.sentence for r in rule_map.rules}
    problems = [f"no rule row under: {s}" for s in rule_map.sentences if s not in quoted]
    for r in rule_map.rules:
        at = 0
        for fragment in (norm(f) for f in r.says.split("…")):
            where = r.sentence.find(fragment, at) if fragment else -1
            if where < 0:
                problems.append(f"{r.id} (line {r.line}): {fragment!r} is not in (or not in "
                                f"order in) its sentence: {r.sentence}")
                break
            at = where + len(fragment)
    assert not problems, "\n".join(problems)


def test_rule_ids_are_unique_and_well_formed(rule_map):
    ids = [r.id for r in rule_map.rules]
    bad = [i for i in ids if not RULE_ID.fullmatch(i)]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    assert not bad and not twice, f"malformed ids {bad}; ids used twice {twice}"


def test_named_tests_exist(rule_map):
    """Every file::name in RULES.md is a top-level def in that file; a rule names only
    grader tests (graders/test_*.py, graders/hidden/test_*.py) or says MISSING."""
    problems = []
    names: dict[str, set[str]] = {}
    for r in rule_map.rules:
        refs = r.test_refs()
        if r.is_rule:
            rest = TEST_REF.sub("", r.tests).replace(",", "").replace("`", "").strip()
            if rest not in ("", MISSING) or (not refs and rest != MISSING):
                problems.append(f"{r.id}: the tests cell must list graders/...::test_... or "
                                f"say {MISSING}, or start with {NOT_A_RULE!r}: {r.tests}")
            problems += [f"{r.id}: {f}::{t} is not a grader test" for f, t in refs
                         if not (re.fullmatch(r"graders/(hidden/)?test_\w+\.py", f)
                                 and t.startswith("test_"))]
        for f, t in refs:
            path = KIT / f
            if f not in names:
                names[f] = top_level_names(path) if path.is_file() else set()
            if t not in names[f]:
                problems.append(f"{r.id}: {f}::{t} does not exist")
    assert not problems, "\n".join(problems)


def test_every_grader_test_is_named_by_a_rule(rule_map):
    named = {ref for r in rule_map.rules if r.is_rule for ref in r.test_refs()}
    unnamed = [f"{f}::{t}" for f, t in grader_tests() if (f, t) not in named]
    assert not unnamed, ("grader tests no rule of docs/RULES.md names (add them to the rules "
                         "they check):\n" + "\n".join(unnamed))


def test_named_variants_exist_and_are_caught_by_their_rules_tests(rule_map):
    problems = []
    for r in rule_map.rules:
        if not r.is_rule:
            if r.variants != NONE:
                problems.append(f"{r.id}: not a rule, so its variants cell must be {NONE}")
            continue
        if r.variants == NONE:
            problems.append(f"{r.id}: a rule's variants cell lists variants or says {MISSING}")
        for v in r.variant_paths():
            path = MUTANTS / v
            if not re.fullmatch(r"\w+/\w+\.py", v) or not path.is_file():
                problems.append(f"{r.id}: no variant tests/mutants/{v}")
                continue
            module, test = path.parent.name, caught_by(path)
            visible = {t for f, t in r.test_refs() if f == f"graders/test_{module}.py"}
            if test not in visible:
                problems.append(f"{r.id}: {v} has CAUGHT_BY = {test!r}, which is not among "
                                f"the rule's tests in graders/test_{module}.py {sorted(visible)}")
    assert not problems, "\n".join(problems)


def test_a_variant_naming_its_rule_is_listed_under_it(rule_map):
    """A variant whose docstring says "Rule: <id>" is among that rule's variants."""
    by_id = {r.id: r for r in rule_map.rules}
    problems = []
    for v in all_mutants():
        doc = ast.get_docstring(ast.parse((MUTANTS / v).read_text(encoding="utf-8"))) or ""
        for rid in re.findall(r"^Rule: ([\w.-]+?)\.?(?=\s|$)", doc, re.MULTILINE):
            if rid not in by_id:
                problems.append(f"{v} names rule {rid}, which docs/RULES.md does not have")
            elif v not in by_id[rid].variant_paths():
                problems.append(f"{v} names rule {rid}, which does not list it")
    assert not problems, "\n".join(problems)


def test_every_variant_is_named_by_a_rule(rule_map):
    named = {v for r in rule_map.rules for v in r.variant_paths()}
    unnamed = [v for v in all_mutants() if v not in named]
    assert not unnamed, ("variants in tests/mutants that no rule of docs/RULES.md names "
                         "(add each to the rule its first docstring line breaks):\n"
                         + "\n".join(unnamed))


def test_no_rule_is_missing_a_test_or_a_variant(rule_map):
    """Every rule has a grader test that fails when it is broken, and a broken variant that
    proves it. Lists every rule still MISSING one, in one failure."""
    missing = [f"{r.id}: {'no grader test' if r.tests == MISSING else 'no variant'} "
               f"({r.says})"
               for r in rule_map.rules if r.is_rule and MISSING in (r.tests, r.variants)]
    if missing:
        pytest.fail(f"{len(missing)} rule(s) of docs/RULES.md MISSING a grader test or a broken "
                    f"variant in tests/mutants:\n" + "\n".join(missing), pytrace=False)


def main() -> int:
    """Print the contract's sentences RULES.md does not quote yet, ready to paste."""
    quoted = set(read_rules().sentences) if RULES.exists() else set()
    todo = [s for s in contract_sentences() if s not in quoted]
    for s in todo:
        print(f"> {s}\n\n| rule | contract says | tests | variants |\n|---|---|---|---|\n"
              f"| `module.function.rule` | {s} | {MISSING} | {MISSING} |\n")
    print(f"{len(todo)} sentence(s) of docs/EXERCISES.md not in docs/RULES.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
