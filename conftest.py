"""Test-run configuration shared by tests/ and notebooks/.

nbval, when installed, re-checks every notebook's stored outputs: it is switched on here rather than
in ``addopts`` so that ``pytest tests/test_conv.py`` also works where nbval is missing. Items that
execute notebooks carry the ``notebooks`` marker, so ``pytest -m "not notebooks and not ui"`` is the
quick tier.

Each edition is executed once per run of the whole suite (CONTRIBUTING.md, "Which runner
executes which edition"): nbval executes the worked edition headless; the browser test (tests/ui)
executes the student edition and applies the student-edition checks to what JupyterLab shows, so
the headless run of the student edition (tests/test_student_edition.py) is skipped for each
notebook the browser test runs in the same session. Where the browser test cannot run (no
Chromium or playwright, CI not set), the headless run does it instead.
"""

from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
HEADLESS_STUDENT_RUN = "test_student_notebook_runs_and_fails_only_in_its_checks"
BROWSER_STUDENT_RUN = "test_student_edition_shows_hints_and_runs_on"
NBVAL_SECONDS = defaultdict(float)          # worked notebook -> seconds nbval took to run it


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("nbval"):
        return
    option = config.option
    if not (option.nbval or option.nbval_lax):
        option.nbval = True
    if option.nbval_sanitize_with is None:
        option.nbval_sanitize_with = str(ROOT / "nbval_sanitize.cfg")
    option.nbval_current_env = True


def notebook_param(item):
    callspec = getattr(item, "callspec", None)
    path = callspec.params.get("path") if callspec else None
    return path.name if isinstance(path, Path) else None


def browser_can_run(config):
    """True when the browser test's requirements are met (tests/ui/conftest.py says)."""
    for plugin in config.pluginmanager.get_plugins():
        missing = getattr(plugin, "missing_requirements", None)
        if callable(missing) and getattr(plugin, "__name__", "").endswith("conftest"):
            return missing() == ""
    return False


def pytest_itemcollected(item):
    if item.path.suffix == ".ipynb":                # before -m selects: "not notebooks" sees it
        item.add_marker(pytest.mark.notebooks)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Skips each headless student run that the browser run replaces. Runs after ``-m`` and ``-k``
    have deselected items (``trylast``), so it sees what will really run."""
    in_browser = {notebook_param(item) for item in items
                  if getattr(item, "originalname", None) == BROWSER_STUDENT_RUN}
    if not in_browser or not browser_can_run(config):
        return
    for item in items:
        if (getattr(item, "originalname", None) == HEADLESS_STUDENT_RUN
                and notebook_param(item) in in_browser):
            item.add_marker(pytest.mark.skip(
                reason="the browser test (tests/ui) executes this student notebook in this run "
                       "and applies the same checks to what JupyterLab shows"))


def pytest_runtest_logreport(report):
    if report.fspath.endswith(".ipynb"):                  # an nbval cell: setup, call, teardown
        NBVAL_SECONDS[Path(report.fspath).name] += report.duration


def pytest_terminal_summary(terminalreporter):
    if NBVAL_SECONDS:
        terminalreporter.write_sep(
            "-", f"nbval, worked edition headless: {sum(NBVAL_SECONDS.values()):.0f} s in all")
        terminalreporter.write_line(", ".join(f"{name} {seconds:.0f} s"
                                              for name, seconds in NBVAL_SECONDS.items()))
