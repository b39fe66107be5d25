"""One set of pins: what `make` installs is what environment.yml installs."""

import json
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock line is not an exact pin: {line!r}"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_environment_yml_installs_the_lock_and_the_package():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- -r requirements\.lock\s*$", text, re.M)
    assert re.search(r"^\s*- -e \.\s*$", text, re.M)
    python = re.search(r"^\s*- python=(\d+\.\d+)\s*$", text, re.M).group(1)
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert tuple(map(int, python.split("."))) >= tuple(map(int, floor.removeprefix(">=").split(".")))


def test_makefile_installs_the_lock():
    assert "-r requirements.lock -e ." in (ROOT / "Makefile").read_text()


def test_lock_pins_the_course_packages():
    pins = lock_pins()
    assert pins["torch"] == "2.13.0"  # a range would pull a multi-GB CUDA build
    for name in ["jupyterlab", "ipywidgets", "plotly", "nbval", "jupytext", "numpy", "tqdm", "pytest"]:
        assert name in pins, f"{name} is not pinned in requirements.lock"


def test_every_dependency_is_pinned_within_its_range():
    from packaging.requirements import Requirement

    pins = lock_pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]
    for spec in map(Requirement, wanted):
        name = spec.name.lower()
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock"
        assert spec.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {spec.specifier}"


def test_installed_versions_match_the_lock():
    from importlib.metadata import version

    pins = lock_pins()
    for name in ["torch", "plotly", "ipywidgets", "jupyterlab", "nbval", "jupytext"]:
        assert version(name).split("+")[0] == pins[name], f"{name} installed != lock: run `make env`"


def test_make_env_keeps_jupyterlab_offline():
    """`make env` tells JupyterLab not to ask about fetching news or check for updates."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("runs inside the .venv that `make env` creates")
    overrides = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"]
    assert settings == {"fetchNews": "false", "checkForUpdates": False}
