"""One set of pins: what `make` installs is what environment.yml installs; one Python floor,
which `make` checks before it creates anything and which the README states; a failed
install leaves no half-built .venv."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FLOOR = PROJECT["requires-python"].removeprefix(">=")


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


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
    assert version(python) >= version(FLOOR)


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
    wanted = PROJECT["dependencies"] + [d for ds in PROJECT["optional-dependencies"].values() for d in ds]
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


def test_the_readme_states_the_floor_that_pyproject_and_make_use():
    readme = (ROOT / "README.md").read_text()
    stated = set(re.findall(r"Python (?:≥|>=) ?(\d+\.\d+)", readme))
    assert stated == {FLOOR}, f"README states Python >= {sorted(stated)}, pyproject.toml says {FLOOR}"
    assert "FLOOR  := $(shell sed" in (ROOT / "Makefile").read_text()  # make reads pyproject.toml


def test_the_wheel_lists_every_subpackage():
    """pyproject.toml lists the packages (to map assets/ into the wheel); a new one must be added."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    lib = ROOT / "lib"
    found = {str(p.parent.relative_to(lib)).replace(os.sep, ".") for p in lib.rglob("__init__.py")}
    assert found <= set(setuptools["packages"]), (
        f"add {sorted(found - set(setuptools['packages']))} to pyproject.toml"
    )
    assert setuptools["package-dir"]["transformer_course.diagrams"] == "assets"


# --- make env: the floor is checked first, a failed install leaves no .venv ----------------

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_env(folder: Path, *, floor: str = FLOOR, lock: str = "", **variables: str):
    """`make env` in a copy of the Makefile with its own pyproject.toml floor and lock."""
    shutil.copy2(ROOT / "Makefile", folder / "Makefile")
    text = (
        (ROOT / "pyproject.toml")
        .read_text()
        .replace(f'requires-python = ">={FLOOR}"', f'requires-python = ">={floor}"')
    )
    (folder / "pyproject.toml").write_text(text)
    (folder / "requirements.lock").write_text(lock)
    args = [f"{k}={v}" for k, v in {"PYTHON": sys.executable, **variables}.items()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(
        ["make", "-C", str(folder), "env", *args], capture_output=True, text=True, env=env, timeout=300
    )


@needs_make
def test_make_refuses_an_old_python_before_creating_anything(tmp_path):
    run = make_env(tmp_path, floor="3.99")
    assert run.returncode != 0
    assert "The course needs Python >= 3.99" in run.stderr and sys.version.split()[0] in run.stderr
    assert not (tmp_path / ".venv").exists()


@needs_make
def test_make_names_a_missing_python(tmp_path):
    run = make_env(tmp_path, PYTHON="python3.0-not-here")
    assert run.returncode != 0 and "PYTHON=python3.0-not-here is: not found" in run.stderr
    assert not (tmp_path / ".venv").exists()


@needs_make
def test_a_failed_first_install_leaves_no_venv_and_replaces_a_half_built_one(tmp_path):
    (tmp_path / ".venv").mkdir()  # left by an earlier try that never finished: no .installed
    (tmp_path / ".venv" / "leftover").write_text("")
    run = make_env(tmp_path, lock="not-a-package-of-this-course==0.0.1\n", PIP_FLAGS="--no-index")
    assert run.returncode != 0
    assert "Removing .venv: its install never finished" in run.stdout
    assert "Install failed: removed the unfinished .venv" in run.stderr
    assert not (tmp_path / ".venv").exists()


@needs_make
def test_a_failed_update_keeps_the_working_venv(tmp_path):
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").write_text("#!/bin/sh\nexit 1\n")  # stands in for a pip install that fails
    (bin_ / "python").chmod(0o755)
    (tmp_path / ".venv" / ".installed").write_text("")
    os.utime(tmp_path / ".venv" / ".installed", (0, 0))  # older than the lock: make must update
    run = make_env(tmp_path)
    assert run.returncode != 0 and "Install failed: .venv is as before" in run.stderr
    assert "run make env again" in run.stderr and "distclean" not in run.stderr  # not: delete it
    assert (bin_ / "python").exists()
