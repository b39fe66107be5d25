"""Every chapter is a .py/.ipynb pair, in sync, committed without outputs, presentable."""

import json
import re
from pathlib import Path

import jupytext
import pytest

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
NOTEBOOKS = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
SCRIPTS = sorted(CHAPTERS.glob("[0-9][0-9]_*.py"))
ids = [p.stem for p in NOTEBOOKS]


def test_chapters_exist_and_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers and numbers == list(range(len(numbers))), numbers


def test_every_py_has_its_notebook():
    assert {p.stem for p in SCRIPTS} == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids)
def test_notebook_has_its_py_pair_in_sync(nb):
    py = nb.with_suffix(".py")
    assert py.exists(), f"{nb.name} has no paired {py.name}"
    assert jupytext.writes(jupytext.read(nb), fmt="py:percent") == py.read_text(), (
        f"{nb.name} and {py.name} differ: run `make sync`"
    )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids)
def test_notebook_committed_without_outputs(nb):
    cells = json.loads(nb.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{nb.name}: cells {dirty} carry outputs or execution counts"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids)
def test_notebook_imports_lib_and_is_seeded(nb):
    source = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
    assert "transformer_course" in source, f"{nb.name} does not import the shared lib"
    if "torch" in source and nb.name[:2] != "00":
        assert re.search(r"manual_seed\(", source), f"{nb.name} uses torch without a seed"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids)
def test_notebook_has_slide_metadata(nb):
    cells = json.loads(nb.read_text())["cells"]
    kinds = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in cells]
    assert kinds[0] == "slide", f"{nb.name}: the first cell must open a slide"
    assert kinds.count("slide") >= 3, f"{nb.name}: fewer than 3 slides"
    missing = [i for i, k in enumerate(kinds) if not k]
    assert not missing, f"{nb.name}: cells {missing} lack a slide type"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids)
def test_notebook_has_kernelspec(nb):
    meta = json.loads(nb.read_text())["metadata"]
    assert meta.get("kernelspec", {}).get("name") == "python3"
