"""pytest for the notebooks (nbval): without PyTorch, notebook 14 is skipped with a reason instead of
failing; the other notebooks never need it."""

import importlib

import pytest

NEEDS_TORCH = {"14_from_cnnlib_to_pytorch.ipynb"}
REASON = "notebook 14 needs PyTorch: pip install -r requirements-torch.txt"


def torch_missing():
    """Whether ``import torch`` fails here."""
    try:
        importlib.import_module("torch")
    except ImportError:
        return True
    return False


def pytest_collection_modifyitems(config, items):
    """Mark the cells of the notebooks in ``NEEDS_TORCH`` to be skipped when torch is missing."""
    needing = [item for item in items if item.path.name in NEEDS_TORCH]
    if needing and torch_missing():
        for item in needing:
            item.add_marker(pytest.mark.skip(reason=REASON))
