import os
from pathlib import Path

import pytest
import torch

# Unit tests run torch on one thread unless TC_TEST_THREADS says otherwise: the tensors are
# small, and on a busy 2-core machine a second thread made one test take 33 s instead of
# 1.8 s. One thread also makes every result independent of the machine's core count.
TEST_THREADS = int(os.environ.get("TC_TEST_THREADS", "1"))


@pytest.fixture(autouse=True, scope="session")
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# --- Chromium, one for the whole run ---
# Playwright's sync API runs one instance per process: a second (a figure test outside
# tests/browser/ starting its own while the browser suite's is open) fails with "Sync API
# inside the asyncio loop". So every test that draws in Chromium asks for this ``browser``.
CHROMIUM = Path(os.environ.get("TC_CHROMIUM", "/usr/bin/chromium"))


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"Chromium not found at {CHROMIUM} (install it: apt-get install -y chromium, or set TC_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make env installs it)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("TC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TC_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()
