"""The layers point down only: schemas at the bottom, then sources, transforms, sinks, the run
(`contacts_etl`), and flows on top; nothing below flows imports Prefect. Read from every
import statement of the code (those inside functions included), so a new import that points
up fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Each layer may import the layers before it (and itself).
LAYERS = ("schemas", "sources", "transforms", "sinks", "contacts_etl", "flows")
# The sandbox stands in for Five9: a peer of the client, it knows none of the client's code.
PEERS = ("five9_sandbox",)
# Where a module reaches past its layer on purpose: the command line sits on top beside the
# flows (it runs a load as a flow when a Prefect server is set, and serves the sandbox); a load
# with nothing to load into starts the sandbox.
ALLOWED = {
    "contacts_etl/cli.py": {"flows", "five9_sandbox"},
    "contacts_etl/embedded_sandbox.py": {"five9_sandbox"},
}


def imports(path: Path) -> Iterator[str]:
    """The top-level package of every absolute import in a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_layers_are_all_found() -> None:
    for package in (*LAYERS, *PEERS):
        assert modules(package), package


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    below = set(LAYERS[: LAYERS.index(layer) + 1])
    ours = set(LAYERS) | set(PEERS)
    upward = []
    for path in modules(layer):
        relative = path.relative_to(ROOT).as_posix()
        allowed = below | ALLOWED.get(relative, set())
        upward += [f"{relative} imports {name}" for name in imports(path) if name in ours - allowed]
    assert upward == []


@pytest.mark.parametrize("package", [*LAYERS[:-1], *PEERS])
def test_nothing_below_flows_imports_prefect(package: str) -> None:
    found = [p.relative_to(ROOT).as_posix() for p in modules(package) if "prefect" in imports(p)]
    assert found == []


def test_the_sandbox_knows_none_of_the_client() -> None:
    found = [
        f"{path.relative_to(ROOT).as_posix()} imports {name}"
        for path in modules("five9_sandbox")
        for name in imports(path)
        if name in LAYERS
    ]
    assert found == []


def test_flows_do_not_import_the_command_line() -> None:
    for path in modules("flows"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        ]
        assert "contacts_etl.cli" not in names, path
