"""Fixtures shared by the whole test suite."""

import pytest

from cnnlib.datasets import load_mnist


@pytest.fixture(scope="session")
def mnist():
    """``load_mnist()`` once per test session: ``(x_train, y_train), (x_test, y_test)``, float32
    images ``(N, 1, 28, 28)`` in [0, 1] and int labels. The arrays are read-only: every test that
    uses them shares them."""
    data = load_mnist()
    for array in (array for pair in data for array in pair):
        array.setflags(write=False)
    return data
