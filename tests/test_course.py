"""The nbgrader course: written from the worked notebooks, released by nbgrader, and graded by
nbgrader's autograder: the worked answers get every autograded point, the release untouched gets
none, and a release with one exercise solved gets exactly that exercise's points."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnlib.course import _hints_above, course_notebook, write_course
from cnnlib.student_edition import BEGIN, END

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [ROOT / "notebooks" / "01_computational_graphs.ipynb",
             ROOT / "notebooks" / "02_layers.ipynb"]


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_cells_get_nbgraders_roles():
    worked = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb = course_notebook(worked, "nb01")
    solutions = [c for c in nb.cells if meta(c).get("solution") and c.cell_type == "code"]
    checks = [c for c in nb.cells if meta(c).get("grade") and c.cell_type == "code"]
    assert len(solutions) == len(checks) == sum(BEGIN in c.source for c in worked.cells
                                                if c.cell_type == "code") == 5
    assert [meta(c)["grade_id"] for c in checks] == [f"nb01-check-{k}" for k in range(1, 6)]
    assert all(meta(c)["locked"] and meta(c)["points"] == 1 for c in checks)
    assert not any(meta(c)["locked"] or meta(c)["grade"] for c in solutions)
    assert all(c.source.startswith("check_") or "= check_" in c.source for c in checks)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells
               if c.cell_type == "code")
    assert (
        nb.cells[0].source == worked.cells[0].source and "nbgrader" not in worked.cells[5].metadata
    )


def test_hints_stay_outside_the_solution_block():
    source = ("def f(x):\n    ### BEGIN SOLUTION\n    # HINT: square it\n    return x * x\n"
              "    ### END SOLUTION")
    assert _hints_above(source).splitlines() == [
        "def f(x):", "    # HINT: square it", "    ### BEGIN SOLUTION", "    return x * x",
        "    ### END SOLUTION"]


def test_written_answers_are_graded_by_hand():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"**Question.** Why?\n\n{BEGIN}\nBecause.\n{END}"),
        nbformat.v4.new_code_cell("x = 1")])
    cell = course_notebook(nb, "q").cells[0]
    assert meta(cell) == {"grade": True, "grade_id": "q-answer-1", "locked": False, "points": 1,
                          "schema_version": 3, "solution": True, "task": False}


def test_an_existing_assignment_is_never_overwritten(tmp_path):
    write_course(tmp_path, NOTEBOOKS[:1])
    with pytest.raises(FileExistsError, match="already holds 01_computational_graphs"):
        write_course(tmp_path, NOTEBOOKS[:1])


def nbgrader(course, *args):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def check_scores(course, notebooks):
    """{(student, assignment): [auto score of each autograded check, in order]} from nbgrader's
    gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("worked", "released", "one_solved"):
            for path in notebooks:
                name = path.parent.name
                notebook = gradebook.find_submission_notebook(path.stem, name, student)
                checks = sorted((g for g in notebook.grades if "-check-" in g.name),
                                key=lambda g: int(g.name.rsplit("-", 1)[1]))
                scores[(student, name)] = [g.auto_score for g in checks]
    return scores


@pytest.mark.notebooks
def test_nbgrader_round_trip(tmp_path):
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    sources = write_course(course, NOTEBOOKS)
    for path in sources:
        nbgrader(course, "generate_assignment", path.parent.name, "--force")
    for path in sources:
        name = path.parent.name
        release = course / "release" / name / path.name
        assert BEGIN not in release.read_text()
        solved = nbformat.read(release, as_version=4)
        source_cells = {meta(c).get("grade_id"): c.source
                        for c in nbformat.read(path, as_version=4).cells}
        for cell in solved.cells:
            if meta(cell).get("grade_id") == f"{name}-solution-1":
                cell.source = source_cells[cell.metadata["nbgrader"]["grade_id"]]
        for student, submission in (("worked", path), ("released", release), ("one_solved", None)):
            target = course / "submitted" / student / name / path.name
            target.parent.mkdir(parents=True)
            if submission is None:
                nbformat.write(solved, target)
            else:
                shutil.copy(submission, target)
        nbgrader(course, "autograde", name, "--create", "--force")
    scores = check_scores(course, sources)
    for path in sources:
        name = path.parent.name
        checks = len(scores[("worked", name)])
        assert checks >= 2
        assert scores[("worked", name)] == [1.0] * checks
        assert scores[("released", name)] == [0.0] * checks
        assert scores[("one_solved", name)] == [1.0] + [0.0] * (checks - 1)


def test_course_command(tmp_path, capsys):
    from cnnlib.__main__ import main

    assert main(["course", str(tmp_path / "c"), "--notebooks", str(NOTEBOOKS[0])]) == 0
    assert (tmp_path / "c" / "source" / "01_computational_graphs" / NOTEBOOKS[0].name).is_file()
    assert "nbgrader_config.py" in {p.name for p in (tmp_path / "c").iterdir()}
    assert main(["course", str(tmp_path / "c"), "--notebooks", str(NOTEBOOKS[0])]) == 2
    assert "already holds 01_computational_graphs" in capsys.readouterr().err
