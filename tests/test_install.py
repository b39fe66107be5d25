"""Every way in besides `make`, done for real (marker `install`, run by `make test-install`
and CI's .ci/run):

- the lock resolves on PyPI for every supported Python and the platforms PyTorch 2.13.0
  has wheels for, and not for an Intel Mac (the README says so);
- uv: a venv and an install from the lock, as the README says; a chapter runs from the
  learner's workspace;
- a wheel: built, installed (not editable) into a fresh venv, chapter 07 shows its diagram
  from a folder outside the checkout.

They run only when asked (TC_INSTALL_TESTS=1, which `make test-install` sets). They need uv
(pinned in requirements.lock) and PyPI; where either is missing they skip with the reason,
except under TC_REQUIRE_INSTALL=1 (CI), where they fail instead.
"""

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.install
if "1" not in (os.environ.get("TC_INSTALL_TESTS"), os.environ.get("TC_REQUIRE_INSTALL")):
    pytest.skip("installs the course (minutes, network): run by `make test-install`", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
FLOOR = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"].removeprefix(">=")
NEWEST = "3.14"  # the newest Python that PyTorch 2.13.0 has wheels for
PYTHONS = [FLOOR, "3.12", "3.13", NEWEST]
# uv's names for the platforms of PyTorch 2.13.0's wheels (manylinux_2_28 x86_64 and aarch64,
# macOS 14+ on Apple silicon, Windows x86-64).
PLATFORMS = {
    "linux-x86_64": ("x86_64-manylinux_2_28", {}),
    "linux-aarch64": ("aarch64-manylinux_2_28", {}),
    "macos-arm64": ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"}),
    "windows-x86_64": ("x86_64-pc-windows-msvc", {}),
}
CHAPTER_WITH_ASSET = "07_full_transformer.ipynb"


def unavailable(reason: str):
    if os.environ.get("TC_REQUIRE_INSTALL") == "1":
        pytest.fail(f"TC_REQUIRE_INSTALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def uv() -> str:
    for candidate in [os.environ.get("TC_UV"), str(Path(sys.executable).with_name("uv")), shutil.which("uv")]:
        if candidate and Path(candidate).is_file():
            return candidate
    unavailable("uv is not installed (make env installs it from requirements.lock; or set TC_UV)")


@pytest.fixture(scope="module")
def pypi() -> None:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError as err:
        unavailable(f"PyPI cannot be reached ({err})")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the checkout on PYTHONPATH and without uv settings from outside."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("UV_")}
    return {**env, **extra}


def run(cmd: list, *, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    result = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def resolve(
    uv: str, python: str, platform: str, extra_env: dict, requirements: Path = ROOT / "requirements.lock"
):
    """`uv pip compile` of the lock for one Python and platform, wheels only, PyPI only."""
    cmd = [
        uv, "pip", "compile", "--no-config", "--quiet", "--python-version", python,
        "--python-platform", platform, "--only-binary", ":all:",
        "--index-url", "https://pypi.org/simple", str(requirements), "-o", os.devnull,
    ]  # fmt: skip
    return subprocess.run(cmd, env=clean_env(**extra_env), capture_output=True, text=True, timeout=300)


CASES = [(p, "linux-x86_64") for p in PYTHONS] + [
    (v, k) for k in list(PLATFORMS)[1:] for v in (FLOOR, NEWEST)
]


@pytest.mark.parametrize(("python", "platform"), CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_the_lock_resolves_on_pypi(uv, pypi, python, platform):
    name, extra_env = PLATFORMS[platform]
    result = resolve(uv, python, name, extra_env)
    assert result.returncode == 0, (
        f"requirements.lock does not resolve for Python {python} on {platform}:\n{result.stderr}"
    )


def test_pytorch_has_no_wheel_for_an_intel_mac(uv, pypi, tmp_path):
    """The README tells Intel Mac users that PyTorch 2.13.0 has no wheel for them."""
    torch = tmp_path / "torch.txt"
    torch.write_text("torch==2.13.0\n")
    intel = resolve(uv, NEWEST, "x86_64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "15.0"}, torch)
    assert intel.returncode != 0 and "torch==2.13.0 has no wheels" in intel.stderr, intel.stderr
    assert resolve(uv, NEWEST, *PLATFORMS["macos-arm64"], torch).returncode == 0


def course_copy(folder: Path) -> Path:
    """What a clone holds (no .venv, no workspace, no build output)."""
    skip = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "workspace", "dist")
    folder.mkdir(parents=True)
    for name in ["chapters", "lib", "assets"]:
        shutil.copytree(ROOT / name, folder / name, ignore=skip)
    for name in ["pyproject.toml", "requirements.lock", "README.md"]:
        shutil.copy2(ROOT / name, folder / name)
    return folder


def pip_find_links() -> list[str]:
    """Where pip here finds wheels besides the index (a local CPU build of torch, on these machines)."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    if not links:
        got = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
            capture_output=True,
            text=True,
        )
        links = got.stdout.split() if got.returncode == 0 else []
    return [arg for link in links for arg in ("--find-links", link)]


def test_uv_installs_the_lock_and_a_chapter_runs_from_the_workspace(uv, pypi, tmp_path):
    """The README's uv commands: a venv, the lock, the launcher's settings and workspace; then a
    chapter that shows a diagram runs where the learner runs it."""
    course = course_copy(tmp_path / "course")
    venv = course / ".venv"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([uv, "venv", "--python", sys.executable, venv], cwd=course)
    run(
        [uv, "pip", "install", "--python", python, *pip_find_links(), "-r", "requirements.lock", "-e", "."],
        cwd=course,
    )
    run([python, "-m", "transformer_course.workspace", "settings"], cwd=course)
    overrides = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert '"fetchNews": "false"' in overrides.read_text()
    run([python, "-m", "transformer_course.workspace", "sync"], cwd=course)
    run(
        [
            python,
            "-m",
            "pytest",
            "--nbval-lax",
            f"workspace/{CHAPTER_WITH_ASSET}",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=course,
    )


def test_a_wheel_carries_the_diagrams_and_chapter_07_runs_from_it(pypi, tmp_path):
    """Built from a clone, installed non-editable into a fresh venv whose other packages come
    from this environment; chapter 07 runs in a folder that is not the checkout."""
    course = course_copy(tmp_path / "course")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist", course], timeout=900)
    [wheel] = (tmp_path / "dist").glob("transformer_course-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel])
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "outer-environment.pth").write_text("\n".join(sorted(outer)) + "\n")  # torch, plotly, nbval…

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        [python, "-c", "import transformer_course as t, transformer_course.assets as a; "
         "print(t.__file__); print(a.assets_folder())"],
        cwd=elsewhere,
    ).stdout.split()  # fmt: skip
    assert Path(where[0]).is_relative_to(venv) and Path(where[1]) == Path(where[0]).parent / "diagrams", where
    assert sorted(p.name for p in Path(where[1]).iterdir()) == sorted(
        p.name for p in (ROOT / "assets").iterdir() if p.suffix in {".svg", ".png"}
    )
    shutil.copy2(ROOT / "chapters" / CHAPTER_WITH_ASSET, elsewhere)
    run(
        [python, "-m", "pytest", "--nbval-lax", CHAPTER_WITH_ASSET, "-q", "-p", "no:cacheprovider"],
        cwd=elsewhere,
    )
