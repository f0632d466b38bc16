"""Test-run configuration shared by tests/ and notebooks/.

nbval, when installed, re-checks every notebook's stored outputs: it is switched on here rather than
in ``addopts`` so that ``pytest tests/test_conv.py`` also works where nbval is missing. Items that
execute notebooks carry the ``notebooks`` marker, so ``pytest -m "not notebooks and not ui"`` is the
quick tier.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("nbval"):
        return
    option = config.option
    if not (option.nbval or option.nbval_lax):
        option.nbval = True
    if option.nbval_sanitize_with is None:
        option.nbval_sanitize_with = str(ROOT / "nbval_sanitize.cfg")
    option.nbval_current_env = True


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
