"""Scenarios shared by every exercise."""

from __future__ import annotations

import multiprocessing
import os
import time


def _is_stub(func) -> bool:
    """True when the body (after a docstring) is only `raise NotImplementedError...`."""
    import ast
    import inspect
    import textwrap

    try:  # dedent, not lstrip: a method's decorators (@property) start the source
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    fn = tree.body[0] if tree.body else None
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # e.g. a property made from a lambda
    body = [
        s for s in fn.body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    name = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(name, ast.Name) and name.id == "NotImplementedError"


def _watched(builtin_names: dict | None = None) -> dict:
    """Builtins and standard-library functions that student code must not replace."""
    import builtins
    import json
    import threading

    names = builtin_names if builtin_names is not None else vars(builtins)
    found = {f"builtins.{k}": v for k, v in names.items() if not k.startswith("_")}
    for mod in (time, os, json, multiprocessing, threading):
        for k, v in vars(mod).items():
            if not k.startswith("_") and callable(v):
                found[f"{mod.__name__}.{k}"] = v
    return found


def _patched(before: dict) -> list[str]:
    """Names patched since `before`; builtins are put back first (comparing needs them)."""
    import builtins

    from graders._child import _restore_builtins

    now = builtins.__dict__.copy()  # a method call: works whatever was done to builtins
    _restore_builtins()
    return sorted(name for name, obj in _watched(now).items() if before.get(name) is not obj)


def probe(module: str) -> dict:
    """Import the student module; report whether it exists and which functions are stubs."""
    import importlib
    import inspect
    import traceback

    impl = os.path.abspath(os.sys.path[0])
    if not os.path.exists(os.path.join(impl, module + ".py")):
        return {"state": "missing"}
    watched = _watched()
    try:
        mod = importlib.import_module(module)
        patched = _patched(watched)
        if patched:  # the grading process says it in words (harness.Student.require)
            return {"state": "broken", "where": "", "error": "", "patched": patched}
    except BaseException as e:  # noqa: BLE001 - any failure at import is the finding
        patched = _patched(watched)
        if patched:
            return {"state": "broken", "where": "", "error": "", "patched": patched,
                    "then_failed": True}
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


def kill_children() -> list[int]:
    """Kill and reap every process below this one, except multiprocessing's own helpers.

    For a scenario that found the student's code stuck: it reports what it saw instead of
    waiting for the harness timeout, and leaves nothing behind."""
    from graders._child import _helper_pids, trusted_import

    psutil = trusted_import("psutil")

    helpers = _helper_pids()
    procs = [p for p in psutil.Process().children(recursive=True) if p.pid not in helpers]
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=2)
    multiprocessing.active_children()  # lets multiprocessing reap the ones it started
    for p in procs:  # re-parented orphans come to us (subreaper): reap them too
        try:
            os.waitpid(p.pid, os.WNOHANG)
        except (ChildProcessError, OSError):
            pass
    return [p.pid for p in procs]


def wait_for_progress(done, progress, stall: float, limit: float) -> str:
    """Wait until done() is true. Return "" then, "stalled" when progress() (a number) has
    not grown for `stall` s since it first moved, or "limit" after `limit` s."""
    start = last_move = time.monotonic()
    seen = progress()
    while not done():
        now = time.monotonic()
        current = progress()
        if current != seen:
            seen, last_move = current, now
        if seen and now - last_move > stall:
            return "stalled"
        if now - start > limit:
            return "limit"
        time.sleep(0.01)
    return ""


_PLAIN = (bool, int, float, str, type(None))


def plain(value, depth: int = 0):
    """`value` if it is built only of plain JSON types, checked by exact type, so an object
    that lies about equality or its repr cannot pass for one; otherwise a description of it.
    Scenarios hand student return values back through this, never as they are."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind in (list, tuple) and depth < 6:
        return [plain(v, depth + 1) for v in value]
    if kind is dict and depth < 6:
        return {(k if type(k) is str else repr(plain(k, depth + 1))): plain(v, depth + 1)
                for k, v in value.items()}
    return f"<a {kind.__module__}.{kind.__qualname__} object>"
