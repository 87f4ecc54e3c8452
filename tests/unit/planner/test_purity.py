"""The planner stays pure: standard library only, nothing from the rest of Paddock.

Why a test: the planner is only property-testable and benchmarkable alone if it cannot reach
the API server, and only readable alone if it does not depend on the operator's models. A
stray `import kopf` (or pydantic, or `from ..models import`) is easy to add and hard to spot.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PLANNER = Path(__file__).resolve().parents[3] / "operator" / "paddock" / "planner"
FORBIDDEN = {"kopf", "kubernetes", "pydantic"}
SOURCES = sorted(PLANNER.glob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(relative level, module) for every import in a file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is None:
            found.extend((node.level, alias.name) for alias in node.names)  # from . import x
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_the_planner_has_sources() -> None:
    assert {p.name for p in SOURCES} >= {"__init__.py", "snapshot.py", "decisions.py"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_imports_only_the_standard_library_and_itself(path: Path) -> None:
    for level, module in _imports(path):
        top = module.split(".")[0]
        if level == 0:
            assert top not in FORBIDDEN, f"{path.name} imports {module}"
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {module}, which is not in the standard library"
            )
        else:
            assert level == 1, f"{path.name} reaches outside the planner: {'.' * level}{module}"
            assert (PLANNER / f"{top}.py").exists(), f"{path.name} imports unknown .{module}"
