"""The layout of ``checks/``: modules stay short, and what learners write stays apart.

A checks module that grew keeps its learners' code (``by_hand``, the other correct answers, each
mistake's example) in a sibling ``<module>_learners.py``; the exercise module imports it, and the
sibling imports nothing from ``checks/``, so there is no cycle and no checker code in it.
"""

import ast
from pathlib import Path

import pytest
from transformer_course import checks

CHECKS = Path(checks.__file__).parent
LEARNERS = sorted(CHECKS.glob("*_learners.py"))


def test_no_checks_module_is_long():
    """ARCHITECTURE.md: about 350 lines at most (380 allowed here); split by idea when a module grows."""
    lengths = {path.name: len(path.read_text().splitlines()) for path in CHECKS.glob("*.py")}
    assert not {name: n for name, n in lengths.items() if n > 380}


@pytest.mark.parametrize("path", LEARNERS, ids=lambda path: path.stem)
def test_a_learners_module_belongs_to_its_exercise_and_imports_none_of_checks(path):
    exercise = CHECKS / f"{path.stem.removesuffix('_learners')}.py"
    assert exercise.exists()
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree)
    siblings = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1]
    assert not siblings, "a learners module imports nothing from checks/ (its exercise imports it)"
    assert f"from . import {path.stem} as learner" in exercise.read_text()
