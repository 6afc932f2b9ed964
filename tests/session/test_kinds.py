"""The reserved workflow kinds cover every kind the code appends, and nothing more.

The kinds are read from the source: every ``.append(channel, kind, sender, body)`` under
``hub/`` (the ``Writer.append`` of a workflow's transaction), with ``kind`` resolved
through string literals, f-strings (their literal prefix), a module-level mapping
subscripted (``MESSAGE_KIND[action]``) and parameters passed on by the callers in the same
module (``_publish(..., "speaker.requested", ...)``).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from hub.channels import parse_channel
from hub.errors import Forbidden
from hub.session.channels import check_raw_publish
from hub.session.kinds import FAMILIES, family, is_reserved
from hub.session.members import Member

HUB = Path(__file__).resolve().parents[2] / "hub"
TRANSPORT = {"node.py", "store/log.py"}  # the appending machinery itself, not a workflow


class Unresolved(Exception):
    pass


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(HUB.parent).with_suffix("").parts)


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    """Calls of the function ``name`` (plain or as an attribute) in ``tree``."""
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            f = n.func
            if (isinstance(f, ast.Name) and f.id == name) or (
                isinstance(f, ast.Attribute) and f.attr == name
            ):
                out.append(n)
    return out


def _enclosing(tree: ast.AST, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef:
    for f in ast.walk(tree):
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            n is node for n in ast.walk(f)
        ):
            inner = [
                g
                for g in ast.walk(f)
                if g is not f
                and isinstance(g, ast.FunctionDef | ast.AsyncFunctionDef)
                and any(n is node for n in ast.walk(g))
            ]
            if not inner:
                return f
    raise Unresolved("not inside a function")


def _resolve(tree: ast.Module, module: str, expr: ast.expr, depth: int = 0) -> set[str]:
    """The kinds ``expr`` can be; an f-string gives its literal prefix."""
    if depth > 5:
        raise Unresolved("passed on too deep")
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.JoinedStr):
        head = expr.values[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str) and head.value:
            return {head.value}
        raise Unresolved(f"f-string without a literal prefix: {ast.unparse(expr)}")
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
        mapping = getattr(importlib.import_module(module), expr.value.id)
        return {str(v) for v in mapping.values()}
    if isinstance(expr, ast.Name):
        fn = _enclosing(tree, expr)
        params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
        if expr.id not in params:
            raise Unresolved(f"{expr.id} is not a parameter of {fn.name}")
        i = params.index(expr.id)
        out: set[str] = set()
        callers = _calls(tree, fn.name)
        if not callers:
            raise Unresolved(f"{fn.name} is called nowhere in its module")
        for call in callers:
            given = [k.value for k in call.keywords if k.arg == expr.id]
            arg = given[0] if given else call.args[i]
            out |= _resolve(tree, module, arg, depth + 1)
        return out
    raise Unresolved(ast.unparse(expr))


def appended_kinds() -> dict[str, str]:
    """Every kind appended under hub/ -> where (path:line)."""
    found: dict[str, str] = {}
    for path in sorted(HUB.rglob("*.py")):
        rel = path.relative_to(HUB).as_posix()
        if rel in TRANSPORT or rel.startswith("migrations/"):
            continue
        tree = ast.parse(path.read_text())
        for call in _calls(tree, "append"):
            if len(call.args) != 4:
                continue  # list.append and friends take one argument
            where = f"hub/{rel}:{call.lineno}"
            try:
                kinds = _resolve(tree, _module_name(path), call.args[1])
            except Unresolved as e:
                pytest.fail(f"{where}: cannot tell which kind is appended ({e})")
            for k in kinds:
                found.setdefault(k, where)
    return found


def test_every_appended_kind_is_reserved() -> None:
    """Every kind a workflow appends is in a reserved family."""
    found = appended_kinds()
    assert len(found) > 40, sorted(found)  # the reader still finds the workflows' appends
    loose = {k: w for k, w in found.items() if not is_reserved(k)}
    assert not loose, f"kinds appended but not reserved in hub/session/kinds.py: {loose}"


def test_every_reserved_family_is_appended() -> None:
    """No reserved family is left over from a workflow that no longer publishes it."""
    used = {family(k) for k in appended_kinds()}
    assert set(FAMILIES) - used == set()


@pytest.mark.parametrize("role", ["secretariat", "deputy", "supervisor"])
def test_reserved_kind_is_refused_for_every_role(role: str) -> None:
    """A reserved kind is `forbidden` raw even where the role may publish; others pass."""
    me = Member(7, "x", role, meetings=frozenset({1}))
    for ch in ("meeting:1", "desk:1", "deputy:7"):
        for kind in ("notice", "notice.tally", "opinion.submitted", "presence.changed"):
            with pytest.raises(Forbidden) as e:
                check_raw_publish(me, parse_channel(ch), kind)
            if role == "secretariat":
                assert "reserved for the hub's workflows" in e.value.message
    sec = Member(7, "x", "secretariat")
    for kind in ("bulletin", "noticeboard", "notices.x", "probe"):
        check_raw_publish(sec, parse_channel("desk:1"), kind)
