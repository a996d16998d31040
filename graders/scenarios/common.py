"""Scenarios shared by every exercise."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import traceback


def _is_stub(func) -> bool:
    """True when the body (after a docstring) is only `raise NotImplementedError...`."""
    try:
        tree = ast.parse(inspect.getsource(func).lstrip())
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    fn = tree.body[0]
    body = [
        s for s in fn.body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    name = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(name, ast.Name) and name.id == "NotImplementedError"


def probe(module: str) -> dict:
    """Import the student module; report whether it exists and which functions are stubs."""
    impl = os.path.abspath(os.sys.path[0])
    if not os.path.exists(os.path.join(impl, module + ".py")):
        return {"state": "missing"}
    try:
        mod = importlib.import_module(module)
    except BaseException as e:  # noqa: BLE001 - any failure at import is the finding
        tb = traceback.extract_tb(e.__traceback__)
        mine = [f for f in tb if os.path.abspath(f.filename).startswith(impl)]
        detail = "".join(traceback.format_list(mine[-3:]))
        if isinstance(e, SyntaxError):
            detail = f'  File "{e.filename}", line {e.lineno}\n    {(e.text or "").strip()}\n'
        return {"state": "broken", "error": f"{type(e).__name__}: {e}", "where": detail}
    functions, stubs = [], []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        members = [obj]
        if inspect.isclass(obj):
            members = [
                v.fget if isinstance(v, property) else v
                for k, v in vars(obj).items()
                if inspect.isfunction(v) or isinstance(v, property)
            ]
        for f in members:
            if inspect.isfunction(f):
                functions.append(f.__qualname__)
                if _is_stub(f):
                    stubs.append(f.__qualname__)
    return {"state": "ok", "functions": functions, "stubs": stubs}
