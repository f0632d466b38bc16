"""Run the two-dimensional matrix products of cnnlib's tuned blocks through ``torch.matmul``
(PyTorch's own BLAS: Intel MKL in its x86 builds) instead of numpy's: a diagnostic for
``bench_products.py``, never part of cnnlib. The arrays stay numpy's; torch reads and writes them
in place (``torch.from_numpy`` views), so only the multiplying changes hands.
"""

import time

import numpy as np
import torch

from cnnlib.tuned import blocks, conv


class Products:
    """Stands in for numpy in ``cnnlib.tuned.blocks`` and ``cnnlib.tuned.conv``: every attribute is
    numpy's except ``matmul``, which multiplies two-dimensional operands with torch when
    ``use_torch`` is set (batched ones stay with numpy) and, when ``calls`` is a list, appends
    ``(a.shape, b.shape, seconds)`` for each call."""

    def __init__(self, use_torch=True, calls=None):
        self.use_torch = use_torch
        self.calls = calls

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, out=None):
        started = time.perf_counter()
        if self.use_torch and a.ndim == b.ndim == 2:
            product = torch.matmul(torch.from_numpy(a), torch.from_numpy(b),
                                   out=None if out is None else torch.from_numpy(out))
            result = product.numpy() if out is None else out
        else:
            result = np.matmul(a, b, out=out)
        if self.calls is not None:
            self.calls.append((a.shape, b.shape, time.perf_counter() - started))
        return result


def install(products):
    """Make ``products`` the numpy of the tuned blocks (``numpy`` itself undoes it) and hold
    torch to one thread, as the one-thread steps it is compared with."""
    torch.set_num_threads(1)
    blocks.np = conv.np = products
