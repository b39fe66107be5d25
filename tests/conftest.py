import os

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
