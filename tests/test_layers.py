"""The import graph of ``hub``: layers that import only downwards, no cycles, and a transport
that knows nothing of congresses (README "Where things live"; STYLE points 1 and 11).

Read from the source with :mod:`ast`, nothing imported: a new module, an upward import or
a congress word in a transport module fails here, not in review.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[1] / "hub"

# Lowest first; a module may import its own layer and those before it. A module listed
# nowhere fails test_every_module_has_a_layer: place it when adding it.
LAYERS: dict[str, tuple[str, ...]] = {
    "transport": (
        "hub.config",
        "hub.errors",
        "hub.params",
        "hub.shapes",
        "hub.clock",
        "hub.protocol",
        "hub.channels",
        "hub.auth",
        "hub.loops",
        "hub.metrics",
        "hub.limits",
        "hub.connection",
        "hub.node",
        "hub.broker",
        "hub.store",
        "hub.receipts",
        "hub.identity",
        "hub.revocation",
        "hub.devices",
        "hub.services",
        "hub.server",
        "hub.ws",
    ),
    # the congress: its members, channel rules and workflows, and reaching its people
    "session": ("hub.session", "hub.reach"),
    "supervision": ("hub.supervision",),
    "demo": ("hub.demo", "hub.demo_city"),
    "api": ("hub.api",),
    "app": ("hub.app", "hub.assets", "hub.cli", "hub.tables", "hub.migrations", "hub.__main__"),
}

# Words of the congress's domain; none may name anything in a transport module (an
# identifier, an attribute, an imported name, a string that is not a docstring).
CONGRESS = re.compile(
    r"delegation|meeting|deput|secretariat|supervis|congress|opinion|notice|sitting|member"
    r"|(?:^|_|\b)units?(?:$|_|\b)",
    re.IGNORECASE,
)


def _module(path: Path) -> str:
    parts = path.relative_to(HUB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module(p): p for p in sorted(HUB.rglob("*.py")) if "migrations/versions" not in p.as_posix()
}


def layer_of(module: str) -> int:
    if module == "hub":  # the package itself: its version, nothing else
        return 0
    for rank, prefixes in enumerate(LAYERS.values()):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise LookupError(module)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(tree: ast.Module, top_level_only: bool = False) -> Iterator[str]:
    """The hub modules a module imports (``from hub.x import y`` names ``hub.x.y`` when
    that is a module). ``top_level_only``: those run at import time, outside functions and
    ``if TYPE_CHECKING:``."""

    def walk(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            yield node
            if top_level_only:
                if isinstance(node, ast.If) and not _is_type_checking(node):
                    yield from walk(node.body + node.orelse)
                elif isinstance(node, ast.Try):
                    yield from walk(node.body + node.orelse + node.finalbody)
                continue
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from walk([child])

    for node in walk(tree.body):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "hub")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "hub":
                continue
            yield node.module
            for a in node.names:
                if f"{node.module}.{a.name}" in MODULES:
                    yield f"{node.module}.{a.name}"


TREES = {m: ast.parse(p.read_text(), str(p)) for m, p in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    """Every hub module is placed in exactly one layer."""
    unplaced = []
    for m in MODULES:
        try:
            layer_of(m)
        except LookupError:
            unplaced.append(m)
    assert unplaced == [], "place these modules in LAYERS"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_downwards(module: str) -> None:
    """A module imports only its own layer and the layers below it (anywhere in the module,
    function-local imports too): the transport never reaches up into the congress."""
    mine = layer_of(module)
    upward = sorted({m for m in imports(TREES[module]) if m in MODULES and layer_of(m) > mine})
    assert upward == [], f"{module} ({list(LAYERS)[mine]}) imports upwards"


def test_no_import_cycles() -> None:
    """No two modules import each other, directly or around a loop, at import time."""
    graph = {
        m: {d for d in imports(t, top_level_only=True) if d in MODULES} for m, t in TREES.items()
    }
    # a package is imported before its modules: that edge is not a cycle
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(d) :], d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
        # a constant's own docstring (``X = 1`` followed by ``\"\"\"...\"\"\"``)
        if hasattr(node, "body") and isinstance(node.body, list):
            for a, b in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(a, ast.Assign | ast.AnnAssign)
                    and isinstance(b, ast.Expr)
                    and isinstance(b.value, ast.Constant)
                    and isinstance(b.value.value, str)
                ):
                    ids.add(id(b.value))
    return ids


def congress_words(tree: ast.Module) -> list[str]:
    """Each identifier, attribute, imported name and non-docstring string in ``tree`` that
    says a congress word."""
    docs = _docstrings(tree)
    said: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.arg) or (isinstance(node, ast.keyword) and node.arg):
            names = [node.arg]
        elif isinstance(node, ast.alias):
            names = [node.name, node.asname or ""]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        ):
            names = [node.value]
        said += [n for n in names if n and CONGRESS.search(n)]
    return said


TRANSPORT = sorted(
    m for m in MODULES if any(m == p or m.startswith(p + ".") for p in LAYERS["transport"])
)


@pytest.mark.parametrize("module", TRANSPORT)
def test_transport_names_no_congress_concept(module: str) -> None:
    """A transport module names no congress concept (delegations, meetings, deputies, units,
    roles …) in its code: channel kinds, roles and memberships belong to the session layer,
    which registers them (a committee's channel touches no transport file)."""
    assert congress_words(TREES[module]) == []


def test_the_congress_check_sees_what_it_must() -> None:
    """The word check finds a congress concept in each place one could hide (an attribute,
    a role literal, an argument, an import, a keyword) and passes a docstring and a word
    that merely contains one (``community``)."""
    caught = [
        "ok = p.meetings",
        'if p.role == "deputy": pass',
        "def f(unit_id: int) -> None: pass",
        "from hub.session.members import Member",
        "f(delegation=1)",
    ]
    for src in caught:
        assert congress_words(ast.parse(src)), src
    assert congress_words(ast.parse('"""Which meeting."""\nx = p.id + len(community)')) == []
