"""The stubs match the reference solutions, and both match the contract (docs/EXERCISES.md).

Everything is derived from the files, read as source with ast (nothing is imported or run):
every `solutions/<m>.py` is a module to check, with its public top-level functions and
classes (and their public methods and properties) and the UPPER_CASE constants the contract
names. So a new module is checked as soon as its solution exists, without editing a list.

For each module:
- `exercises/<m>.py` has the same public names, the same signatures (parameters, kinds,
  defaults, annotations and decorators as source text), the same docstrings (module,
  functions, classes, methods), the same class bases and the same contract constants; the
  body of every function and method there is `raise NotImplementedError("<a hint>")`.
- docs/EXERCISES.md has a "### `<m>.py`" section that names every public function, class
  and method of the solution in a code span; every signature it writes in a code span
  (`name(params) -> ...`, `class Name(Base)`) has the solution's parameter names, kinds and
  defaults (what ../shared/tools/contract_check.py checks against its hand-written table);
  a method it says is overridden (overrides `run`) or a property (`value` (property)) is one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import kit

CONTRACT = kit.KIT / "docs" / "EXERCISES.md"
MODULES = sorted(p.stem for p in kit.SOLUTIONS.glob("*.py") if not p.stem.startswith("_"))
CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*")
SECTION = re.compile(r"^### `(\w+)\.py`", re.MULTILINE)
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)


def public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def src(node: ast.AST | None) -> str | None:
    return None if node is None else ast.unparse(node)


def signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict:
    """Everything of a def line, as source text: kind, name, annotation and default of each
    parameter, the return annotation, decorators, async."""
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params = [("positional-only" if i < len(a.posonlyargs) else "positional", p.arg,
               src(p.annotation), src(d))
              for i, (p, d) in enumerate(zip(positional, defaults, strict=True))]
    if a.vararg:
        params.append(("*", a.vararg.arg, src(a.vararg.annotation), None))
    params += [("keyword-only", p.arg, src(p.annotation), src(d))
               for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        params.append(("**", a.kwarg.arg, src(a.kwarg.annotation), None))
    return {"params": params, "returns": src(fn.returns),
            "decorators": [src(d) for d in fn.decorator_list],
            "async": isinstance(fn, ast.AsyncFunctionDef)}


def shown(sig: dict) -> str:
    parts = []
    for kind, name, ann, default in sig["params"]:
        text = {"*": "*", "**": "**"}.get(kind, "") + name + (f": {ann}" if ann else "")
        if default is not None:
            text += f" = {default}" if ann else f"={default}"
        parts.append(text)
    deco = "".join(f"@{d} " for d in sig["decorators"])
    ret = f" -> {sig['returns']}" if sig["returns"] else ""
    return f"{deco}{'async ' if sig['async'] else ''}({', '.join(parts)}){ret}"


@dataclass
class Module:
    """The public surface of one module file, read with ast."""

    path: Path
    tree: ast.Module
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    constants: dict[str, ast.expr] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Module:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        m = cls(path, tree)
        for node in tree.body:
            if isinstance(node, FUNCTION_NODES) and public(node.name):
                m.functions[node.name] = node
            elif isinstance(node, ast.ClassDef) and public(node.name):
                m.classes[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and CONSTANT.fullmatch(t.id):
                        m.constants[t.id] = node.value
        return m

    def methods(self, cls_name: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
        return {n.name: n for n in self.classes[cls_name].body
                if isinstance(n, FUNCTION_NODES) and public(n.name)}

    def callables(self) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
        """Qualified name -> def of every public function and method."""
        found: dict = dict(self.functions)
        for c in self.classes:
            found.update({f"{c}.{name}": fn for name, fn in self.methods(c).items()})
        return found


def contract_sections() -> dict[str, str]:
    """Module -> the text of its "### `<m>.py`" section of docs/EXERCISES.md."""
    text = CONTRACT.read_text(encoding="utf-8")
    heads = list(SECTION.finditer(text))
    sections = {}
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        nxt = re.search(r"^#{1,3} ", text[h.end():end], re.MULTILINE)
        sections[h.group(1)] = text[h.start():h.end() + nxt.start() if nxt else end]
    return sections


def code_spans(text: str) -> list[str]:
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", text)]


def stub_problem(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """"" when the body (after its docstring) is `raise NotImplementedError("<hint>")`."""
    body = fn.body[1:] if ast.get_docstring(fn, clean=False) is not None else fn.body
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        exc = body[0].exc
        if (isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name)
                and exc.func.id == "NotImplementedError"):
            if (len(exc.args) == 1 and not exc.keywords and isinstance(exc.args[0], ast.Constant)
                    and isinstance(exc.args[0].value, str) and exc.args[0].value.strip()):
                return ""
            return "raises NotImplementedError without a hint string (NotImplementedError(\"...\"))"
    shown_body = "; ".join(ast.unparse(s).splitlines()[0] for s in body[:2])
    return f"has a body ({shown_body[:80]}) instead of raise NotImplementedError(\"<hint>\")"


# ------------------------------------------------------------------------------ the tests


def test_every_solution_has_a_stub_and_a_grader():
    stubs = sorted(p.stem for p in kit.EXERCISES.glob("*.py") if not p.stem.startswith("_"))
    assert MODULES, "no solutions/*.py found"
    assert stubs == MODULES, f"solutions/ holds {MODULES}, exercises/ holds {stubs}"
    graders = [m for m in MODULES if not (kit.KIT / "graders" / f"test_{m}.py").exists()]
    assert not graders, f"no graders/test_<m>.py for {graders}"


@pytest.mark.parametrize("module", MODULES)
def test_stub_matches_solution(module):
    """exercises/<m>.py: same names, signatures, docstrings and constants; stub bodies."""
    sol = Module.read(kit.SOLUTIONS / f"{module}.py")
    stub = Module.read(kit.EXERCISES / f"{module}.py")
    where = f"exercises/{module}.py"
    problems = []
    if ast.get_docstring(sol.tree) != ast.get_docstring(stub.tree):
        problems.append(f"{where}: the module docstring differs from the solution's")
    for kind, mine, theirs in (("function", stub.functions, sol.functions),
                               ("class", stub.classes, sol.classes)):
        for name in sorted(set(theirs) - set(mine)):
            problems.append(f"{where}: missing {kind} {name}")
        for name in sorted(set(mine) - set(theirs)):
            problems.append(f"{where}: public {kind} {name} that solutions/{module}.py lacks")
    for name in sorted(set(sol.classes) & set(stub.classes)):
        a, b = sol.classes[name], stub.classes[name]
        if [src(x) for x in a.bases + a.keywords] != [src(x) for x in b.bases + b.keywords]:
            problems.append(f"{where}: class {name} has bases ({', '.join(map(src, b.bases))})"
                            f", the solution ({', '.join(map(src, a.bases))})")
        if [src(d) for d in a.decorator_list] != [src(d) for d in b.decorator_list]:
            problems.append(f"{where}: class {name} is decorated otherwise than the solution")
        if ast.get_docstring(a) != ast.get_docstring(b):
            problems.append(f"{where}: the docstring of class {name} differs from the solution's")
        for m in sorted(set(sol.methods(name)) - set(stub.methods(name))):
            problems.append(f"{where}: class {name} has no method {m}")
        for m in sorted(set(stub.methods(name)) - set(sol.methods(name))):
            problems.append(f"{where}: class {name} has a public method {m} the solution lacks")
    theirs, mine = sol.callables(), stub.callables()
    for name in sorted(set(theirs) & set(mine)):
        want, got = signature(theirs[name]), signature(mine[name])
        if want != got:
            problems.append(f"{where}: {name}{shown(got)}; the solution has {name}{shown(want)}")
        if ast.get_docstring(theirs[name]) != ast.get_docstring(mine[name]):
            problems.append(f"{where}: the docstring of {name} differs from the solution's")
    for name, fn in sorted(mine.items()):
        why = stub_problem(fn)
        if why:
            problems.append(f"{where}: {name} {why}")
    named = set(code_spans(contract_sections().get(module, "")))
    named = {w for span in named for w in re.findall(r"\w+", span)}
    for const in sorted(c for c in sol.constants if c in named):
        if const not in stub.constants:
            problems.append(f"{where}: missing the constant {const} the contract names")
        elif src(stub.constants[const]) != src(sol.constants[const]):
            problems.append(f"{where}: {const} = {src(stub.constants[const])}; the solution "
                            f"has {src(sol.constants[const])}")
    assert not problems, "\n".join(problems)


def _contract_signature(span: str) -> tuple[str, ast.AST] | None:
    """A code span that writes a signature: `name(params) -> ret` or `name(p: T, ...)` (a
    call such as `SafeCounter(start, latency)` has no annotation and no arrow, and is not
    one), or `class Name` / `class Name(Base)`. Returns (name, parsed def or class)."""
    m = re.fullmatch(r"(class )?([A-Za-z_]\w*)(\(.*\))?( -> .+)?", span)
    if not m:
        return None
    if m.group(1):
        try:
            return m.group(2), ast.parse(f"{span}: pass").body[0]
        except SyntaxError:
            return None
    if not m.group(3):
        return None
    try:
        fn = ast.parse(f"def {span}: pass").body[0]
    except SyntaxError:
        return None
    annotated = any(p.annotation for p in fn.args.args + fn.args.kwonlyargs)
    return (m.group(2), fn) if (fn.returns or annotated) else None


def _params(sig: dict, skip_self: bool) -> list[tuple[str, str, str | None]]:
    """(kind, name, default) of each parameter: what a contract signature must agree on."""
    params = [(kind, name, default) for kind, name, _ann, default in sig["params"]]
    return params[1:] if skip_self and params else params


def _shown_params(params: list[tuple[str, str, str | None]]) -> str:
    return ", ".join({"*": "*", "**": "**"}.get(kind, "") + name + (f"={d}" if d else "")
                     for kind, name, d in params)


@pytest.mark.parametrize("module", MODULES)
def test_contract_section_matches_solution(module):
    """docs/EXERCISES.md has a ### `<m>.py` section naming every public function, class and
    method, and its signatures agree with the solution's (names, kinds and defaults)."""
    section = contract_sections().get(module)
    assert section is not None, f"docs/EXERCISES.md has no \"### `{module}.py`\" section"
    sol = Module.read(kit.SOLUTIONS / f"{module}.py")
    spans = code_spans(section)
    words = {w for span in spans for w in re.findall(r"\w+", span)}
    problems = []
    for name in sorted([*sol.functions, *sol.classes,
                        *(m for c in sol.classes for m in sol.methods(c) if m != "__init__")]):
        if name not in words:
            problems.append(f"`{name}` of solutions/{module}.py appears in no code span of the "
                            f"contract's {module}.py section")
    methods = {m: (c, fn) for c in sol.classes for m, fn in sol.methods(c).items()}
    checked = 0
    for span in spans:
        found = _contract_signature(span)
        if found is None:
            continue
        name, node = found
        if isinstance(node, ast.ClassDef):
            if name not in sol.classes:
                problems.append(f"the contract writes `{span}`; solutions/{module}.py has no "
                                f"class {name}")
            elif [src(b) for b in node.bases] not in ([], [src(b) for b in
                                                           sol.classes[name].bases]):
                problems.append(f"the contract writes `{span}`; the solution's bases are "
                                f"({', '.join(map(src, sol.classes[name].bases))})")
            checked += 1
            continue
        want = _params(signature(node), skip_self=False)
        if name in sol.functions:
            got = _params(signature(sol.functions[name]), skip_self=False)
        elif name in sol.classes:  # the constructor: Name(params)
            init = sol.methods(name).get("__init__")
            got = _params(signature(init), skip_self=True) if init else []
        elif name in methods:
            got = _params(signature(methods[name][1]), skip_self=True)
        else:
            problems.append(f"the contract writes the signature `{span}`; solutions/{module}.py"
                            f" has no function, class or method {name}")
            continue
        checked += 1
        if got != want:
            problems.append(f"the contract writes `{span}`; solutions/{module}.py takes "
                            f"({_shown_params(got)})")
    for name in re.findall(r"overrides `(\w+)`", section):
        if name not in methods:
            problems.append(f"the contract says a class overrides `{name}`; no class of "
                            f"solutions/{module}.py defines it")
    for name in re.findall(r"`(\w+)` \(property\)", section):
        decorators = signature(methods[name][1])["decorators"] if name in methods else []
        if "property" not in decorators:
            problems.append(f"the contract says `{name}` is a property; no class of "
                            f"solutions/{module}.py has it as a @property")
    if not checked:
        problems.append(f"no signature of the {module}.py section was recognised")
    assert not problems, "\n".join(problems)
