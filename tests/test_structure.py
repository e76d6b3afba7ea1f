"""The package's shape, as a maintainer relies on it: no module imports itself back
through a cycle (at import time or lazily inside a function), no module is longer
than 400 lines, and docs/architecture.md lists every module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "int360apply"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The package's modules that ``name`` imports when it runs, anywhere in its body
    (imports only a type checker reads, under ``if TYPE_CHECKING:``, are not run)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module ``pkg.mod`` when there is one;
            # a name defined in ``pkg`` itself is an edge to ``pkg``.
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = subs + ([base] if not all(sub in known for sub in subs) else [])
        else:
            continue
        for target in targets:
            if target in known and target != name:
                yield target


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` alone (not ``not TYPE_CHECKING``)."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(name, path, known)) for name, path in modules.items()}


def test_no_import_cycle_in_the_package() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_reader_sees_lazy_relative_and_typing_only_imports(tmp_path: Path) -> None:
    module = tmp_path / "int360apply" / "cli" / "thing.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import parser\n"
        "if TYPE_CHECKING:\n"
        "    from ..plan import Plan\n"
        "if not TYPE_CHECKING:\n"
        "    from ..guard import GuardLimits\n"
        "def run():\n"
        "    from ..render import report\n"
        "    from ..crm import AuditNote\n"
        "    import int360apply.engine\n",
        encoding="utf-8",
    )
    known = {"int360apply.cli.parser", "int360apply.plan", "int360apply.render.report"}
    known |= {"int360apply.engine", "int360apply.render", "int360apply.guard", "int360apply.crm"}
    found = set(_imports("int360apply.cli.thing", module, known))
    assert found == {
        "int360apply.cli.parser",  # a submodule: an edge to it, not to its package
        "int360apply.guard",  # under ``if not TYPE_CHECKING:``, which runs
        "int360apply.render.report",  # lazy, inside a function
        "int360apply.crm",  # a name the package itself defines
        "int360apply.engine",
    }


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_module_is_listed_in_the_architecture_guide() -> None:
    guide = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = {word for line in guide.splitlines() for word in line.split()[:1]}
    missing = sorted(
        rel for p in PACKAGE.rglob("*.py") if (rel := str(p.relative_to(PACKAGE))) not in listed
    )
    assert not missing, f"docs/architecture.md does not list: {missing}"
    gone = sorted(w for w in listed if w.endswith(".py") and not (PACKAGE / w).is_file())
    assert not gone, f"docs/architecture.md lists modules that no longer exist: {gone}"
