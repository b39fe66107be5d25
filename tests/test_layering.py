"""Imports in lib flow one way: each module may import only modules listed before it."""

import ast
from pathlib import Path

import pytest
import transformer_course

PACKAGE = Path(transformer_course.__file__).parent
ORDER = [
    "_validate",
    "tokenizer",
    "embeddings",
    "positional",
    "attention",
    "softmax",
    "cost",
    "masks",
    "layers",
    "model",
    "data",
    "pointer",
    "training",
    "generation",
    "figures",
    "widgets",
    "checks",
    "export",
]
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def lib_imports(module: str) -> set[str]:
    """Names of the package's modules that ``module`` imports, at any depth of its code."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformer_course."):
            found.add(node.module.split(".")[1])
    return found


def test_every_module_has_a_place_in_the_order():
    assert set(MODULES) <= set(ORDER), f"add {sorted(set(MODULES) - set(ORDER))} to ORDER"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_earlier_modules(module):
    later = {m for m in lib_imports(module) if m in ORDER and ORDER.index(m) >= ORDER.index(module)}
    assert not later, f"{module} imports {sorted(later)}, which come later in {ORDER}"
