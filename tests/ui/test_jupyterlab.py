"""The notebooks as a learner sees them: JupyterLab in headless Chromium, a 1,280 px wide window.

Each edition is executed once per CI run (CONTRIBUTING.md, "Which runner executes which edition"):
nbval executes the worked edition headless and compares its outputs with the stored ones; this test
executes the student edition, and only opens the worked one.

Student edition (notebooks/exercises/, every notebook): the test opens it, checks that opening it
does not mark it modified, runs Kernel > "Restart Kernel and Run All Cells" (the command behind the
menu item, with its confirmation dialog) with BLAS on one thread, waits for the kernel, and checks:

* errors only in the check cells of unwritten exercises, each an ExerciseError with its exercise's
  hint on screen, every later cell still ran, nothing on stderr; and, on the outputs JupyterLab
  holds, the checks of the headless student run (tests/test_student_edition.py,
  ``student_run_problems``: the failing cells are exactly the check cells, their tracebacks show the
  learner's cell and no checker frame), which is skipped when this test runs;
* every widget rendered as a widget: none left as raw text or "Loading widget...";
* every figure rendered with a non-zero size, no wider than the notebook, at most MAX_FIGURE_WIDTH
  pixels wide as drawn, and shown at no less than MIN_FIGURE_SCALE of that width (see below);
* nothing that scrolls sideways: no output, no code cell, not the notebook;
* a progress bar live during training: in each notebook whose worked edition stores tqdm bars (03,
  07, ...), a bar seen moving while its cell ran;
* a live training figure (``fit(..., live=True)``, LIVE_FIGURES): in its cell, the figure seen
  redrawn at least twice while the cell ran, and exactly one figure in the output when it ended.

The two editions share every cell but the exercises' solution and check cells and the cells marked
"WORKED EDITION ONLY", so what the worked edition does when run (progress bars, the live figure in
07, the widgets of 04 and 08) is checked here on the student edition. Worked edition (notebooks/):
the test opens it with its stored outputs, as a learner does, and checks what those show: not
modified on open, no widget left as raw text, no error or stderr output, every figure at a legible
width, nothing scrolling sideways. That covers the outputs only the worked edition has (in the
series of 2026-12-03: the solution and check cells' output, one figure, 04's check of the blur
filter, and printed source); nbval proves that a fresh run prints what is stored.

Figure legibility. JupyterLab shrinks an image wider than the output area to fit, which also shrinks
its labels. The inline backend draws at 100 dpi, so matplotlib's 10-point labels are 13.9 px tall as
drawn; MIN_FIGURE_SCALE = 0.6 keeps them at least 8.3 px tall on screen (the series' smallest
annotations, 7 points, at least 5.8 px). At 1,280 px with the file browser open the output area is
about 850 px wide, so MAX_FIGURE_WIDTH = 1,400 px is the same limit seen from the figure's side.

Then, in the student notebooks with interactive widgets, the test uses them with the keyboard and
the mouse (WIDGET_CHECKS): in 04 it types a stride into ConvExplorer's slider and drags the padding
slider's handle, and sees the output size and the figure change; in 08 it draws a vertical stroke
on DrawDigit's canvas and sees LeNet-5 read a 1 (the time from releasing the mouse to the reading
on screen is printed in the summary, never asserted), then clears the canvas.

On failure the test saves a screenshot of the notebook (scrolled to the first cell at fault) and
prints its path. JupyterLab runs on a copy of notebooks/ (see conftest.py): the working tree is
never written.
"""

import ast
import contextlib
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[2]
WORKED = sorted((ROOT / "notebooks").glob("*.ipynb"))
HELPERS = (Path(__file__).parent / "lab.js").read_text(encoding="utf-8")

MAX_FIGURE_WIDTH = 1400     # pixels, as drawn
MIN_FIGURE_SCALE = 0.6      # shown width / drawn width
OPEN_TIMEOUT = 120          # seconds to open a notebook and start its kernel
RUN_TIMEOUT = float(os.environ.get("CNNLIB_UI_TIMEOUT", "600"))   # seconds to run all cells
WIDGET_TIMEOUT = 60         # seconds for a widget to answer one action (a kernel round trip)

pytestmark = pytest.mark.ui


def stores_progress_bars(path):
    """True when the committed notebook holds tqdm progress bars (widget state of a
    FloatProgress)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return any(m.get("model_name") == "FloatProgressModel" for m in state.get("state", {}).values())


class Problems(AssertionError):
    """Everything wrong with one notebook, and the first cell at fault (to show on the
    screenshot)."""

    def __init__(self, name, problems):
        self.cell = next((cell for cell, _ in problems if cell is not None), None)
        lines = "\n".join(f"  cell {cell}: {text}" if cell is not None else f"  {text}"
                          for cell, text in problems)
        super().__init__(f"{name}: {len(problems)} problem(s) in JupyterLab\n{lines}")


def call(page, function, *args):
    return page.evaluate(f"(args) => window.cnnlibUI.{function}(...args)", list(args))


def open_in_jupyterlab(page, lab, relative):
    """Open ``relative`` (a path under notebooks/), wait for its kernel and check it on open;
    returns ``(report, problems)``: what the page shows (the stored outputs) and problems found."""
    problems = []
    workspace = re.sub(r"\W", "-", relative)
    page.goto(lab.url(relative, workspace))
    page.wait_for_function("() => !!window.jupyterapp", timeout=OPEN_TIMEOUT * 1000)
    page.add_script_tag(content=HELPERS)
    page.wait_for_function("() => window.cnnlibUI.ready()",
                           timeout=OPEN_TIMEOUT * 1000, polling=250)
    page.wait_for_timeout(1000)          # metadata JupyterLab writes once the kernel is up
    dirty = call(page, "dirty")
    if dirty["model"] or dirty["tab"]:
        problems.append((None,
                         "marked modified on open, before any edit (compare its metadata with "
                         "what JupyterLab writes: kernelspec, language_info, widget state)"))
    before = call(page, "collect")
    for render in before["renders"]:
        if render["raw"]:
            problems.append(
                (render["cell"], f"on open, a widget shows as raw text: {render['text'][:80]!r}")
            )
    return before, problems


def run_in_jupyterlab(page, lab, relative, record):
    """Open ``relative`` (a path under notebooks/), check it on open, restart and run all, and
    return ``(report, samples, problems)``: what the page shows, progress-bar samples, problems
    found so far. The figures of the cell holding LIVE_FIGURES' marker are sampled too."""
    from playwright.sync_api import TimeoutError as PageTimeout

    _, problems = open_in_jupyterlab(page, lab, relative)
    call(page, "startSampling", LIVE_FIGURES.get(Path(relative).name))
    call(page, "restartRunAll")
    dialog = page.wait_for_selector(".jp-Dialog", timeout=30_000)
    assert "Restart" in dialog.inner_text(), dialog.inner_text()
    start = time.monotonic()
    page.click(".jp-Dialog .jp-mod-accept")
    try:
        page.wait_for_function("() => window.cnnlibDone !== null && window.cnnlibUI.finished()",
                               timeout=RUN_TIMEOUT * 1000, polling=500)
    except PageTimeout as error:
        cell = call(page, "runningCell")
        problem = (cell if cell >= 0 else None,
                   f"Run All did not finish within {RUN_TIMEOUT:.0f} s ({error})")
        raise Problems(relative, [problem]) from error
    record["runs"][relative] = time.monotonic() - start
    samples = call(page, "stopSampling")
    record["figure_samples"] = call(page, "figureSamples")
    done = page.evaluate("window.cnnlibDone")
    if "error" in done:
        problems.append((None, f"Restart Kernel and Run All Cells failed: {done['error']}"))
    try:
        page.wait_for_function("() => window.cnnlibUI.settled()", timeout=30_000, polling=250)
    except PageTimeout:  # reported below as unloaded images or "Loading widget..."
        pass
    report = call(page, "collect")
    for image in report["images"]:
        drawn = image["asked"] or image["natural"][0]
        if drawn:
            record["figures"].append((relative, image["cell"], drawn, image["shown"][0] / drawn))
    return report, samples, problems


def check_screen(report, samples, progress_expected):
    """Problems with rendering: widgets, figures, sideways scrolling, live progress bars."""
    problems = widget_problems(report) + figure_problems(report) + scroll_problems(report)
    if progress_expected:
        problems += progress_problems(samples)
    return problems


def widget_problems(report):
    """Widgets left as raw text, and widget outputs that did not render as a widget."""
    problems = []
    for render in report["renders"]:
        if render["raw"]:
            problems.append((render["cell"], f"a widget left as raw text or 'Loading widget...': "
                                             f"{render['text'][:80]!r}"))
    for cell in report["cells"]:
        for k, output in enumerate(cell["outputs"]):
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {}):
                shown = [r for r in report["renders"]
                         if r["cell"] == cell["index"] and r["output"] == k]
                if not shown or not shown[0]["widget"] or not shown[0]["height"]:
                    problems.append((cell["index"],
                                     "a widget output that did not render as a widget"))
    return problems


def figure_problems(report):
    """Figures not rendered, too wide, shrunk too much, or wider than the notebook."""
    problems = []
    for image in report["images"]:
        if image.get("hidden"):  # display: none, on purpose (DrawDigit before a drawing)
            continue
        (nat_w, nat_h), (shown_w, shown_h) = image["natural"], image["shown"]
        drawn = image["asked"] or nat_w              # the width the figure asks for (retina: half)
        if not (nat_w and nat_h and shown_w and shown_h):
            problems.append((image["cell"], f"a figure not rendered: natural {nat_w}x{nat_h} px, "
                                            f"shown {shown_w:.0f}x{shown_h:.0f} px"))
            continue
        if drawn > MAX_FIGURE_WIDTH:
            problems.append((image["cell"], f"a figure {drawn} px wide (at most "
                                            f"{MAX_FIGURE_WIDTH}): shrink its figsize"))
        if shown_w / drawn < MIN_FIGURE_SCALE:
            problems.append((image["cell"], f"a figure shown at {shown_w / drawn:.2f} of its size "
                                            f"({drawn} -> {shown_w:.0f} px): its labels are too "
                                            "small"))
        if image["right"] > report["notebookRight"] + 1:
            problems.append((image["cell"], "a figure wider than the notebook"))
    return problems


def scroll_problems(report):
    """Outputs, code cells or the notebook scrolling sideways, and outputs past the right edge."""
    problems = []
    for scroller in report["scrollers"]:
        problems.append((scroller["cell"] if scroller["cell"] >= 0 else None,
                         f"{scroller['where']} scrolls sideways at 1,280 px: "
                         f"{scroller['scrollWidth']} px of content in {scroller['clientWidth']} px "
                         f"({scroller['cls']})"))
    for item in report["overflow"]:
        problems.append((item["cell"], f"an output reaches past the notebook's right edge "
                                       f"({item['right']:.0f} > {item['notebookRight']:.0f} px)"))
    return problems


def progress_problems(samples):
    """No progress bar seen moving (two states of one cell's bar) among the samples (every bar of
    the notebook, sampled while it ran)."""
    moving = {}
    for sample in samples:
        moving.setdefault(sample["cell"], set()).add((sample["width"], sample["text"]))
    if not any(len(states) >= 2 for states in moving.values()):
        return [(None, f"no live progress bar seen while training ({len(samples)} samples "
                       f"of bars, in cells {sorted(moving)})")]
    return []


def stream_problems(cell, allow_errors=False):
    problems = []
    for output in cell["outputs"]:
        if output["output_type"] == "error" and not allow_errors:
            problems.append((cell["index"], f"{output['ename']}: {output['evalue'][:200]}"))
        if output["output_type"] == "stream" and output.get("name") == "stderr":
            problems.append((cell["index"], f"stderr: {''.join(output['text'])[:200]!r}"))
    return problems


def executed_in_order(report):
    """Problems unless every non-empty code cell ran, top to bottom, in this run."""
    code = [c for c in report["cells"] if c["type"] == "code" and c["source"].strip()]
    problems = [(c["index"], "not executed by Run All") for c in code if c["count"] is None]
    counts = [c["count"] for c in code if c["count"] is not None]
    if counts != sorted(counts):
        problems.append((None, f"cells ran out of order: {counts}"))
    return problems


@contextlib.contextmanager
def screenshot_on_failure(page, name, artifacts):
    """On any failure inside: save a screenshot (scrolled to the first cell at fault), print its
    path."""
    try:
        yield
    except Exception as error:
        shot = artifacts / (re.sub(r"\W", "_", name) + ".png")
        try:
            if getattr(error, "cell", None) is not None:
                call(page, "show", error.cell)
                page.wait_for_timeout(300)
            page.screenshot(path=str(shot))
        except Exception as screenshot_error:  # the page may be gone; the first error matters
            print(f"no screenshot of {name}: {screenshot_error}")
            raise error from screenshot_error
        print(f"screenshot of {name}: {shot}")
        raise AssertionError(f"{error}\n  screenshot: {shot}") from (
            None if isinstance(error, Problems) else error)


def assert_no_problems(name, problems, page):
    if page.page_errors:
        problems.append((None, f"JavaScript errors in the page: {page.page_errors[:3]}"))
    if problems:
        raise Problems(name, problems)


@pytest.mark.parametrize("path", WORKED, ids=lambda p: p.name)
def test_worked_edition_opens_cleanly(page, lab, artifacts, ui_record, path):
    """The worked edition as a learner opens it, with its stored outputs (never run here: nbval
    runs it headless and proves that a fresh run prints what is stored): not marked modified on
    open, no widget left as raw text, no error or stderr output, every figure at a legible width
    and nothing scrolling sideways. What it does when run (progress bars, the live figure, the
    widgets) is checked on the student edition, which shares every cell but the exercises'."""
    name = path.name
    with screenshot_on_failure(page, name, artifacts):
        report, problems = open_in_jupyterlab(page, lab, name)
        try:
            page.wait_for_function("() => window.cnnlibUI.settled()", timeout=30_000, polling=250)
        except Exception:  # reported below as unloaded images
            pass
        report = call(page, "collect")
        for image in report["images"]:
            drawn = image["asked"] or image["natural"][0]
            if drawn:
                ui_record["figures"].append((name, image["cell"], drawn, image["shown"][0] / drawn))
        for cell in report["cells"]:
            problems += stream_problems(cell)
        problems += figure_problems(report) + scroll_problems(report)
        assert_no_problems(name, problems, page)


LIVE_FIGURES = {"07_lenet5_training.ipynb": "live=True"}
"""Notebook -> the text in the source of its cell that trains with a live figure."""


def live_figure_problems(report, record, marker):
    """Problems unless the cell whose source holds ``marker`` showed its figure redrawn at least
    twice while it ran (three different images sampled) and holds exactly one figure at the end."""
    cells = [c["index"] for c in report["cells"] if c["type"] == "code" and marker in c["source"]]
    if len(cells) != 1:
        return [(None, f"expected one cell with {marker!r} in its source, found {len(cells)}")]
    cell = cells[0]
    samples = [s for s in record.pop("figure_samples") if s["cell"] == cell]
    seen = {figure for s in samples if s.get("running", True) for figure in s["figures"]}
    problems = []
    if len(seen) < 3:
        problems.append((cell, (f"the live figure was not seen redrawn twice while training: "
                                f"{len(seen)} different images in {len(samples)} samples")))
    if any(s["count"] > 1 for s in samples):
        problems.append((cell, (f"up to {max(s['count'] for s in samples)} figures at once while "
                                f"training (one, redrawn in place, expected)")))
    images = [i for i in report["images"] if i["cell"] == cell]
    stored = [o for c in report["cells"] if c["index"] == cell for o in c["outputs"]
              if "image/png" in o.get("data", {})]
    if len(images) != 1 or len(stored) != 1:
        problems.append((cell, (f"{len(images)} figures on screen and {len(stored)} image outputs "
                                f"after training (exactly one expected)")))
    if not problems:
        record.setdefault("widgets", []).append(
            f"07 live figure: {len(seen)} different drawings seen while training, one at the end")
    return problems


def wait_for_text(page, selector, text, cell, action):
    """Wait until the element matching ``selector`` shows ``text``; ``[]`` or one problem naming
    ``action`` and what the element showed instead."""
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        page.wait_for_function(
            "([selector, text]) => { const el = document.querySelector(selector);"
            " return !!el && el.innerText.includes(text); }",
            arg=[selector, text], timeout=WIDGET_TIMEOUT * 1000, polling=100)
        return []
    except PageTimeout:
        shown = (page.locator(selector).first.inner_text() if page.locator(selector).count()
                 else "nothing")
        return [(cell, f"{action}: expected {text!r} within {WIDGET_TIMEOUT} s, the widget shows "
                       f"{shown!r}")]


def wait_for_new_image(page, selector, old_src, cell, action):
    """Wait until the image matching ``selector`` has a source other than ``old_src`` and has loaded
    it at a non-zero size; ``[]`` or one problem."""
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        page.wait_for_function(
            "([selector, old]) => { const img = document.querySelector(selector);"
            " return !!img && img.getAttribute('src') !== old && img.complete"
            " && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0; }",
            arg=[selector, old_src], timeout=WIDGET_TIMEOUT * 1000, polling=100)
        return []
    except PageTimeout:
        return [(cell, f"{action}: the figure {selector} was not redrawn (or not shown) within "
                       f"{WIDGET_TIMEOUT} s")]


def explore_convolution(page, record):
    """Notebook 04's ConvExplorer (shown with stride 2, padding 1 on a 28x28 digit): type 3 into the
    stride slider's readout, then drag the padding slider's handle to its left end with the mouse;
    after each, the output-size formula and the figure must change. Returns problems."""
    cell = call(page, "cellWith", ".cnnlib-conv-explorer")
    if cell < 0:
        return [(None, "no ConvExplorer (.cnnlib-conv-explorer) on screen to try")]
    formula, figure = ".cnnlib-conv-formula", "img.cnnlib-conv-figure"
    page.locator(".cnnlib-conv-explorer").scroll_into_view_if_needed()
    problems = wait_for_text(page, formula, "(28 + 2*1 - 3) // 2 + 1 = 14,", cell,
                             "the explorer as stored")
    if problems:
        return problems
    src = page.locator(figure).get_attribute("src")
    page.locator(".cnnlib-conv-stride .widget-readout").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    problems = wait_for_text(page, formula, "(28 + 2*1 - 3) // 3 + 1 = 10,", cell, "stride 3 typed")
    problems += wait_for_new_image(page, figure, src, cell, "stride 3 typed")
    if problems:
        return problems
    src = page.locator(figure).get_attribute("src")
    handle = page.locator(".cnnlib-conv-pad .noUi-handle")
    handle.scroll_into_view_if_needed()
    grip, track = (
        handle.bounding_box(),
        page.locator(".cnnlib-conv-pad .noUi-target").bounding_box(),
    )
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] - 20, y, steps=15)  # past the left end: the slider stops at 0
    page.mouse.up()
    problems = wait_for_text(page, formula, "(28 + 2*0 - 3) // 3 + 1 = 9,", cell,
                             "padding slider dragged to 0")
    problems += wait_for_new_image(page, figure, src, cell, "padding slider dragged to 0")
    readout = page.locator(".cnnlib-conv-pad .widget-readout").inner_text().strip()
    if readout != "0":
        problems.append((cell,
                         f"padding slider dragged to its left end reads {readout!r}, expected '0'"))
    if not problems:
        record.setdefault("widgets", []).append(
            "04 ConvExplorer: stride typed (14x14 -> 10x10), padding dragged (10x10 -> 9x9), "
            "figure redrawn")
    return problems


def draw_a_one(page, record):
    """Notebook 08's DrawDigit: draw a vertical stroke down the middle of the canvas with the mouse;
    LeNet-5 must read a 1 and show its figure; time the reading from the mouse's release; then Clear
    must empty the canvas. Returns problems."""
    cell = call(page, "cellWith", "canvas.cnnlib-draw-canvas")
    if cell < 0:
        return [(None, "no DrawDigit canvas (canvas.cnnlib-draw-canvas) on screen to draw on")]
    prediction, figure = ".cnnlib-draw-prediction", "img.cnnlib-draw-figure"
    canvas = page.locator("canvas.cnnlib-draw-canvas")
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    problems = wait_for_text(page, prediction, "The canvas is empty", cell,
                             "the canvas before drawing")
    if problems:
        return problems
    src = page.locator(figure).get_attribute("src")
    box = canvas.bounding_box()
    x = box["x"] + box["width"] / 2
    call(page, "timeReading", prediction, "reads a")
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] - 40, steps=20)
    page.mouse.up()
    problems = wait_for_text(page, prediction, "reads a", cell, "a vertical stroke drawn")
    if problems:
        return problems
    seconds = call(page, "readingTime")
    reading = page.locator(prediction).inner_text().strip()
    if "reads a 1 " not in reading + " ":
        problems.append((cell,
                         f"a vertical stroke should read as a 1; the widget says {reading!r}"))
    problems += wait_for_new_image(page, figure, src, cell, "a vertical stroke drawn")
    if problems:
        return problems
    page.locator(".cnnlib-draw-clear").click()
    problems += wait_for_text(page, prediction, "The canvas is empty", cell, "Clear clicked")
    if not problems and page.locator(figure).is_visible():
        problems.append((cell,
                         "Clear clicked: the canvas is empty but LeNet-5's figure is still shown"))
    if not problems:
        timing = (
            "not measured" if seconds is None else f"{seconds:.2f} s from mouse-up to the reading"
        )
        record.setdefault("widgets", []).append(
            f"08 DrawDigit: a vertical stroke -> {reading!r}, {timing}; Clear empties it")
    return problems


WIDGET_CHECKS = {"04_convolution_forward.ipynb": explore_convolution,
                 "08_visualizing_filters_and_feature_maps.ipynb": draw_a_one}
"""Notebook -> its widgets used with the keyboard and the mouse after Run All (a list of
problems)."""


def stub_hints(source):
    """The hints of the stubs in a student-edition cell: the messages of its
    NotImplementedErrors."""
    hints = []
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))     # %magics to Python
    except SyntaxError:
        return hints
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args \
                and getattr(node.exc.func, "id", "") == "NotImplementedError" \
                and isinstance(node.exc.args[0], ast.Constant):
            hints.append(node.exc.args[0].value)
    return hints


@pytest.mark.parametrize("path", WORKED, ids=lambda p: f"exercises/{p.name}")
def test_student_edition_shows_hints_and_runs_on(page, lab, artifacts, ui_record, path):
    """A learner opens the student edition and runs it all before writing anything: each check cell
    shows its exercise's hint (ExerciseError "... not written yet: <hint>") and every later cell
    runs. This is the one run of the student edition (BLAS on one thread, conftest.py): the
    headless student-edition checks (tests/test_student_edition.py, ``student_run_problems``) are
    applied to the outputs JupyterLab holds, and what the worked edition does when run is checked
    here, on the cells the two editions share: live progress bars where the worked notebook stores
    them, the live training figure, the widgets used with the keyboard and the mouse."""
    from test_student_edition import student_run_problems

    name = f"exercises/{path.name}"
    student = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    with screenshot_on_failure(page, name, artifacts):
        report, samples, problems = run_in_jupyterlab(page, lab, name, ui_record)
        problems += executed_in_order(report) + student_path_problems(report)
        problems += check_screen(report, samples, stores_progress_bars(path))
        if [c["id"] for c in report["cells"]] != [c.id for c in student.cells]:
            problems.append((None, "JupyterLab's cells are not the notebook's (cell ids differ)"))
        else:
            cells = {c["id"]: (c["tags"], c["outputs"]) for c in report["cells"]
                     if c["type"] == "code"}
            problems += [(None, text) for text in
                         student_run_problems(nbformat.read(path, as_version=4), cells)]
        if path.name in WIDGET_CHECKS:
            problems += WIDGET_CHECKS[path.name](page, ui_record)
        if path.name in LIVE_FIGURES:
            problems += live_figure_problems(report, ui_record, LIVE_FIGURES[path.name])
        assert_no_problems(name, problems, page)


def student_path_problems(report):
    """Problems unless each check cell (tagged raises-exception) shows, on screen, the ExerciseError
    "... not written yet: <hint>" of a stub above it, no other cell errs or writes to stderr, and
    the cells after the first failing check ran."""
    problems, hints, checks, stubs = [], [], 0, 0
    for cell in report["cells"]:
        if cell["type"] != "code":
            continue
        stubs += bool(stub_hints(cell["source"]))
        check = "raises-exception" in cell["tags"]
        problems += stream_problems(cell, allow_errors=check)
        if not check:
            hints += stub_hints(cell["source"])
            continue
        checks += 1
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        shown = " ".join(r["tail"] for r in report["renders"] if r["cell"] == cell["index"])
        messages = [f"not written yet: {hint}" for hint in hints]
        if not errors:
            problems.append((cell["index"],
                             "a check cell after an unwritten exercise did not fail"))
        elif errors[0]["ename"] != "ExerciseError" or not any(
            m in errors[0]["evalue"] for m in messages
        ):
            problems.append((cell["index"], f"the check does not show the hint of its stub "
                                            f"{hints}: {errors[0]['ename']}: "
                                            f"{errors[0]['evalue'][:200]}"))
        elif not any(m in shown for m in messages):
            problems.append((cell["index"], "the check's hint is not on screen"))
        hints = []
    if stubs and not checks:     # a notebook with written questions only (the appendix) has none
        problems.append((None, "no check cell tagged raises-exception"))
    first = min(
        (c["index"] for c in report["cells"] if "raises-exception" in c["tags"]), default=None
    )
    if first is not None and not any(c["type"] == "code" and c["index"] > first and c["count"]
                                     for c in report["cells"]):
        problems.append((first, "no code cell after the first failing check ran"))
    return problems
