"""The student edition (notebooks/exercises/) is up to date with the worked notebooks, and running
it top to bottom fails only in the exercise check cells, each with its exercise's hint."""

import re

import nbformat
import pytest

from cnnlib import exercises
from cnnlib.__main__ import main
from cnnlib.exercises import NOTEBOOKS, student_edition_text, student_notebook, worked_notebooks

WORKED = worked_notebooks()
STUDENT = NOTEBOOKS / "exercises"


def test_the_student_edition_covers_every_notebook_with_solutions():
    assert [p.name for p in WORKED] == sorted(p.name for p in STUDENT.glob("*.ipynb"))
    assert {"01_computational_graphs.ipynb", "02_layers.ipynb", "03_backprop_two_layer_net.ipynb",
            "04_convolution_forward.ipynb", "05_convolution_backward.ipynb", "06_pooling.ipynb",
            "07_lenet5_training.ipynb", "08_visualizing_filters_and_feature_maps.ipynb",
            "09_training_well.ipynb", "10_what_the_network_sees.ipynb"} <= {
        p.name for p in WORKED}


@pytest.mark.parametrize("path", WORKED, ids=lambda p: p.name)
def test_the_committed_student_edition_is_up_to_date(path):
    committed = (STUDENT / path.name).read_text(encoding="utf-8")
    assert committed == student_edition_text(path), (
        f"notebooks/exercises/{path.name} is out of date: run python -m cnnlib exercises")


def test_the_command_writes_the_student_edition(tmp_path, capsys):
    for path in WORKED[:1]:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "99_no_exercises.ipynb").write_text(
        nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    assert main(["exercises", "--notebooks", str(tmp_path)]) == 0
    written = sorted(p.name for p in (tmp_path / "exercises").iterdir())
    assert written == [WORKED[0].name]
    assert "wrote" in capsys.readouterr().out


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) if not c.startswith("#md ")
                else nbformat.v4.new_markdown_cell(c[4:]) for c in cells]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="old output\n")]
    nb.cells[0].execution_count = 3
    return nb


def test_student_notebook_stubs_solutions_and_tags_only_the_check_cells():
    nb = notebook("import numpy as np",
                  "def f(x):\n    ### BEGIN SOLUTION\n    # HINT: double it\n    return 2 * x\n"
                  "    ### END SOLUTION",
                  "check(f)",
                  "print(f)",
                  "### BEGIN SOLUTION\ny = 1\n### END SOLUTION",
                  "check(y)",
                  "# WORKED EDITION ONLY: cnnlib's f\nprint(source)",
                  "# WORKED EDITION ONLY: the answer\na = 1\nb = 2\nc = 3\nprint(a + b + c)")
    student = student_notebook(nb)
    sources = [c.source for c in student.cells]
    assert sources[1] == "def f(x):\n    raise NotImplementedError('double it')"
    assert sources[4] == f"raise NotImplementedError({exercises.DEFAULT_HINT!r})"
    tagged = [i for i, c in enumerate(student.cells)
              if "raises-exception" in c.metadata.get("tags", [])]
    assert tagged == [2, 5]
    assert [c.cell_type for c in student.cells[6:]] == ["markdown", "markdown"]
    # a short hidden cell is quoted, to run once the check passes; a long one is not
    assert sources[6].startswith("*(The worked edition shows cnnlib's f here")
    assert sources[6].endswith("```python\nprint(source)\n```")
    assert "the answer here" in sources[7] and "print(a + b + c)" not in sources[7]
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert nb.cells[0].outputs and "### BEGIN SOLUTION" in nb.cells[1].source   # unchanged


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "### BEGIN SOLUTION without ### END SOLUTION"),
    ("x = 1\n### END SOLUTION", "### END SOLUTION without ### BEGIN SOLUTION"),
])
def test_unbalanced_markers_are_an_error(source, message):
    with pytest.raises(ValueError, match=message):
        student_notebook(notebook(source))


def solution_hints(source):
    """The hints of the solution blocks in a worked cell, in order."""
    hints, inside = [], False
    for line in source.splitlines():
        if line.strip() == exercises.BEGIN:
            inside, hint = True, exercises.DEFAULT_HINT
        elif line.strip() == exercises.END:
            hints.append(hint)
            inside = False
        elif inside and line.strip().startswith(exercises.HINT):
            hint = line.strip()[len(exercises.HINT):].strip()
    return hints


@pytest.mark.parametrize("path", WORKED, ids=lambda p: p.name)
def test_student_notebook_runs_and_fails_only_in_its_checks(path):
    from nbconvert.preprocessors import ExecutePreprocessor

    if path.name.startswith("14_"):
        pytest.importorskip("torch", reason="notebook 14 needs PyTorch: "
                                     "pip install -r requirements-torch.txt")

    worked = nbformat.read(path, as_version=4)
    student = nbformat.read(STUDENT / path.name, as_version=4)
    assert not any(exercises.BEGIN in c.source for c in student.cells
                   if c.cell_type == "code")
    assert not any(c.get("outputs") for c in student.cells if c.cell_type == "code")
    # the hints each check cell must show: those of the solution cell just before it
    expected, hints = {}, None
    for cell in (c for c in worked.cells if c.cell_type == "code"):
        if exercises.BEGIN in cell.source:
            hints = solution_hints(cell.source)
        elif hints is not None:
            expected[cell.id], hints = hints, None
    ExecutePreprocessor(timeout=600, kernel_name="python3", allow_errors=True).preprocess(
        student, {"metadata": {"path": str(STUDENT)}})
    cells = {c.id: c for c in student.cells if c.cell_type == "code"}
    failed = {i: next(o for o in c.outputs if o.output_type == "error")
              for i, c in cells.items() if any(o.output_type == "error" for o in c.outputs)}
    assert sorted(failed) == sorted(expected), {i: cells[i].source for i in failed}
    for index, error in failed.items():
        assert "raises-exception" in cells[index].metadata.get("tags", [])
        assert error.ename == "ExerciseError"
        assert re.search(r"not written yet: ", error.evalue), error.evalue
        assert any(hint in error.evalue for hint in expected[index]), error.evalue
        shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))   # colours off
        assert exercises.__file__ not in shown, shown       # the checker's frames are left out ...
        assert "Cell In[" in shown and f"ExerciseError: {error.evalue}" in shown, shown   # ... not these
