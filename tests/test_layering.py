"""Imports in lib flow one way: each module may import only modules listed before it.

A subpackage (``widgets/``, ``checks/``, ``figures/``) counts as one module of the order:
its files may import each other and anything earlier, never anything later.
"""

import ast
from pathlib import Path

import pytest
import transformer_course

PACKAGE = Path(transformer_course.__file__).parent
ORDER = [
    "_validate", "modes", "tokenizer", "embeddings", "positional", "kv_cache", "narrow_heads",
    "attention_inputs", "attention", "examples", "recurrence", "softmax", "cost", "masks", "torch_layers",
    "layers", "config",
    "stacks", "model_base", "model", "data", "story_world", "story_record", "story_ids", "stories", "pointer",
    "neighbours", "history", "lr_schedule", "training", "sampling", "logits_fns", "generation", "lm_training",
    "pronoun_heads", "alignment", "from_scratch",
    "assets", "figures", "widgets", "checks", "export", "lab_server", "workspace_lab", "workspace_advice",
    "workspace_backups", "workspace_folder", "workspace_git", "workspace_record", "workspace_sync",
    "workspace_status", "workspace_reset", "workspace", "kernel_memory",
]  # fmt: skip
MODULES = sorted(
    {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
)


def files_of(module: str) -> list[Path]:
    folder = PACKAGE / module
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{module}.py"]


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the package's modules that the file imports, at any depth of its code."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)  # e.g. ["widgets", "kit"]
    return imports_in(path.read_text(encoding="utf-8"), parts)


def imports_in(source: str, parts: list[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:  # relative: resolve it against the file's own place in the package
            target = parts[: len(parts) - node.level] + (node.module.split(".") if node.module else [])
            found |= {target[0]} if target else {a.name.split(".")[0] for a in node.names}
        elif (node.module or "").startswith("transformer_course."):
            found.add(node.module.split(".")[1])
        elif node.module == "transformer_course":
            found |= {a.name for a in node.names}
    return found


def test_every_module_has_a_place_in_the_order():
    assert set(MODULES) <= set(ORDER), f"add {sorted(set(MODULES) - set(ORDER))} to ORDER"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_earlier_modules(module):
    for path in files_of(module):
        later = {
            m
            for m in imported_modules(path) - {module}
            if m in ORDER and ORDER.index(m) > ORDER.index(module)
        }
        assert not later, f"{path.relative_to(PACKAGE)} imports {sorted(later)}, which come after {module}"


def test_the_check_resolves_imports_inside_a_subpackage():
    source = (
        "from .. import figures\nfrom ..masks import causal_mask\nfrom .view import FigureView\n"
        "from transformer_course.model import Transformer\nfrom transformer_course import data\n"
        "def f():\n    from ..training import train\n"
    )
    assert imports_in(source, ["widgets", "kit"]) == {
        "figures",
        "masks",
        "widgets",
        "model",
        "data",
        "training",
    }
    assert imports_in("from . import masks\nfrom .layers import EncoderLayer\n", ["model"]) == {
        "masks",
        "layers",
    }
