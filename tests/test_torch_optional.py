"""PyTorch is optional: without it, pytest skips notebook 14 (nbval) with a reason instead of
failing. These tests run with or without torch: they hide it from a pytest run in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/14_from_cnnlib_to_pytorch.ipynb"


def run_pytest_without_torch(tmp_path, *args):
    """``python -m pytest args`` in the repository, where ``import torch`` fails (a sitecustomize
    puts None in its place in sys.modules)."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    return subprocess.run([sys.executable, "-m", "pytest", "-rs", "-q", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)


def test_without_torch_notebook_14_is_skipped_with_a_reason(tmp_path):
    done = run_pytest_without_torch(tmp_path, NOTEBOOK)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" not in done.stdout and "failed" not in done.stdout
    assert "skipped" in done.stdout
    assert "needs PyTorch: pip install -r requirements-torch.txt" in done.stdout


def test_without_torch_other_notebooks_are_not_skipped(tmp_path):
    done = run_pytest_without_torch(tmp_path, "notebooks/01_computational_graphs.ipynb",
                                    "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "01_computational_graphs.ipynb" in done.stdout and "skip" not in done.stdout


def test_the_hook_skips_only_notebook_14(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("nb_conftest", ROOT / "notebooks" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)

    class Item:
        def __init__(self, name):
            self.path, self.markers = ROOT / "notebooks" / name, []

        def add_marker(self, marker):
            self.markers.append(marker)

    items = [Item("14_from_cnnlib_to_pytorch.ipynb"), Item("07_lenet5_training.ipynb")]
    monkeypatch.setattr(conftest, "torch_missing", lambda: False)
    conftest.pytest_collection_modifyitems(None, items)
    assert [item.markers for item in items] == [[], []]
    monkeypatch.setattr(conftest, "torch_missing", lambda: True)
    conftest.pytest_collection_modifyitems(None, items)
    assert [m.name for m in items[0].markers] == ["skip"] and items[1].markers == []
    assert "requirements-torch.txt" in items[0].markers[0].kwargs["reason"]
