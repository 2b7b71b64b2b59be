"""Run the GAN tests single-threaded.

Their tensors are small (a few hundred rows), where torch's intra-op threads cost more
than they save, and on a machine whose cores are busy with other jobs two OpenMP threads
made the oracle tests about 10x slower (measured: 8.8 s against 0.8 s). The previous
setting is restored after each test, so other test modules are unaffected.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
