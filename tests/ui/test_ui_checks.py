"""The UI test's checks on made-up page reports: each rejects what it should (no browser needed)."""

import copy

from test_jupyterlab import (
    MAX_FIGURE_WIDTH,
    check_screen,
    executed_in_order,
    live_figure_problems,
    stream_problems,
    stub_hints,
    student_path_problems,
)

CLEAN = {
    "cells": [{"index": 0, "type": "code", "source": "fit(...)", "tags": [], "count": 1,
               "outputs": [{"output_type": "display_data",
                            "data": {"application/vnd.jupyter.widget-view+json":
                                     {"model_id": "a"}}}]},
              {"index": 1, "type": "markdown", "source": "text", "tags": [], "count": None,
               "outputs": []},
              {"index": 2, "type": "code", "source": "viz.plot()", "tags": [], "count": 2,
               "outputs": []}],
    "renders": [{"cell": 0, "output": 0, "text": "epoch 1/2: 100%", "tail": "", "mime": "",
                 "widget": True, "raw": False, "width": 800, "height": 20}],
    "images": [{"cell": 2, "natural": [1000, 400], "shown": [848, 339], "right": 1200,
                "asked": None}],
    "scrollers": [], "overflow": [], "notebookRight": 1240,
}
LIVE = [{"cell": 0, "width": "10%", "text": "epoch 1/2: 10%"},
        {"cell": 0, "width": "60%", "text": "60%"}]


def changed(**edits):
    report = copy.deepcopy(CLEAN)
    for path, value in edits.items():
        where, key = path.split("__")
        report[where][0][key] = value
    return report


def messages(problems):
    return " | ".join(text for _, text in problems)


def test_a_clean_page_passes():
    assert check_screen(CLEAN, LIVE, progress_expected=True) == []
    assert executed_in_order(CLEAN) == []
    assert stream_problems(CLEAN["cells"][0]) == []


def test_widgets_left_as_text_or_not_rendered_are_reported():
    assert "raw text" in messages(check_screen(changed(renders__raw=True), LIVE, True))
    assert "did not render as a widget" in messages(
        check_screen(changed(renders__widget=False), LIVE, True)
    )


def test_figures_unrendered_too_wide_or_shrunk_are_reported():
    assert "not rendered" in messages(check_screen(changed(images__shown=[0, 0]), LIVE, True))
    wide = changed(images__natural=[MAX_FIGURE_WIDTH + 100, 400])
    assert f"{MAX_FIGURE_WIDTH + 100} px wide" in messages(check_screen(wide, LIVE, True))
    assert "labels are too small" in messages(
        check_screen(changed(images__shown=[400, 160]), LIVE, True)
    )
    retina = changed(images__natural=[2000, 800], images__asked=1000)  # drawn at 2x, asks for 1000
    assert check_screen(retina, LIVE, True) == []
    assert "wider than the notebook" in messages(
        check_screen(changed(images__right=1300), LIVE, True)
    )


def test_a_figure_hidden_on_purpose_is_not_a_missing_figure():
    empty = dict(images__natural=[0, 0], images__shown=[0, 0])
    # DrawDigit, nothing drawn
    assert check_screen(changed(images__hidden=True, **empty), LIVE, True) == []
    assert "not rendered" in messages(
        check_screen(changed(images__hidden=False, **empty), LIVE, True)
    )


def test_sideways_scrolling_and_overflow_are_reported():
    report = copy.deepcopy(CLEAN)
    report["scrollers"] = [{"cell": 2, "where": "output", "scrollWidth": 1400,
                            "clientWidth": 848, "cls": "pre"}]
    report["overflow"] = [{"cell": 2, "right": 1500, "notebookRight": 1240}]
    problems = check_screen(report, LIVE, True)
    assert [cell for cell, _ in problems] == [2, 2]
    assert "output scrolls sideways" in messages(
        problems
    ) and "past the notebook's right edge" in messages(problems)


def test_a_progress_bar_must_be_seen_moving_where_one_is_expected():
    assert "no live progress bar" in messages(check_screen(CLEAN, [], True))
    assert "no live progress bar" in messages(check_screen(CLEAN, LIVE[:1] * 3, True))
    assert check_screen(CLEAN, [], progress_expected=False) == []


def test_errors_stderr_and_unexecuted_cells_are_reported():
    cell = {"index": 4,
            "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "bad"},
                                    {"output_type": "stream",
                                     "name": "stderr", "text": ["warn\n"]}]}
    assert messages(stream_problems(cell)) == "ValueError: bad | stderr: 'warn\\n'"
    assert messages(stream_problems(cell, allow_errors=True)) == "stderr: 'warn\\n'"
    assert executed_in_order(changed(cells__count=None)) == [(0, "not executed by Run All")]
    assert "out of order" in messages(executed_in_order(changed(cells__count=5)))


def test_stub_hints_reads_the_messages_of_the_stubs():
    source = ("%matplotlib inline\nclass A:\n    def f(self):\n        raise NotImplementedError(\n"
              "            'first part, '\n            'second part')\n"
              "    def g(self):\n        raise NotImplementedError('other')\n")
    assert stub_hints(source) == ["first part, second part", "other"]
    assert stub_hints("x = 1") == []


def student(error=None, shown="", after=3):
    """A student notebook: a stub, its check (failing with ``error``), a later cell."""
    outputs = [{"output_type": "error", "ename": error[0], "evalue": error[1]}] if error else []
    return {"cells": [
        {"index": 0, "type": "code",
         "source": "def f():\n    raise NotImplementedError('double it')",
         "tags": [], "count": 1, "outputs": []},
        {"index": 1, "type": "code", "source": "f = check(f)", "tags": ["raises-exception"],
         "count": 2, "outputs": outputs},
        {"index": 2, "type": "code", "source": "print(f())", "tags": [], "count": after,
         "outputs": []}],
        "renders": [{"cell": 1, "output": 0, "text": "", "tail": shown}]}


def test_the_learners_path_needs_each_check_to_fail_with_its_hint_and_later_cells_to_run():
    message = "f is not written yet: double it"
    assert student_path_problems(student(("ExerciseError", message), "... " + message)) == []
    assert "did not fail" in messages(student_path_problems(student()))
    wrong = student(("ExerciseError", "f is not written yet: halve it"), "halve it")
    assert "does not show the hint" in messages(student_path_problems(wrong))
    assert "does not show the hint" in messages(
        student_path_problems(student(("NameError", message)))
    )
    assert "not on screen" in messages(
        student_path_problems(student(("ExerciseError", message), ""))
    )
    assert "after the first failing check" in messages(
        student_path_problems(student(("ExerciseError", message), message, after=None)))


def live_run(samples, images=1):
    report = {"cells": [{"index": 0, "type": "code", "source": "fit(m, live=True)", "tags": [],
                         "count": 1, "outputs": [{"output_type": "display_data",
                                                  "data": {"image/png": "..."}}] * images}],
              "images": [{"cell": 0}] * images}
    return live_figure_problems(report, {"figure_samples": samples}, "live=True")


def test_the_live_figure_must_be_seen_redrawn_while_its_cell_runs():
    def sample(figure, running=True, count=1):
        return {"cell": 0, "count": count, "running": running, "figures": [figure]}

    assert live_run([sample("a"), sample("b"), sample("c")]) == []
    # the figure left after the cell ran does not count as a redraw seen while it ran
    assert "not seen redrawn twice" in messages(
        live_run([sample("a"), sample("b"), sample("c", running=False)]))
    assert "figures at once" in messages(
        live_run([sample("a"), sample("b", count=2), sample("c")]))
    assert "exactly one expected" in messages(live_run([sample("a"), sample("b"), sample("c")],
                                                      images=2))
