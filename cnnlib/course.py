"""An nbgrader course from the worked notebooks: ``python -m cnnlib course DIR``.

nbgrader (https://nbgrader.readthedocs.io) reads a course directory: ``source/<assignment>/`` holds
the instructor's notebooks with nbgrader's cell metadata, and ``nbgrader generate_assignment`` turns
them into the release version that learners get, replacing every ``### BEGIN SOLUTION`` ... ``###
END SOLUTION`` block with its own stub. This module writes that source version from the worked
edition:

- a code cell holding a solution block is an nbgrader *solution* cell; the block's ``# HINT:`` line
  is moved just above the block, so that the released stub keeps the hint;
- the code cell right after it, the exercise's check, is an *autograded test* cell (read-only, with
  points): it passes when the checker accepts the learner's answer;
- a markdown cell holding a solution block is a written question: a *manually graded answer* cell,
  whose answer nbgrader replaces by "YOUR ANSWER HERE";
- a ``# WORKED EDITION ONLY`` cell (cnnlib's own code, which would give an answer away) becomes the
  same note as in the student edition;
- outputs are cleared; every other cell is left as it is, except that prose quoting the markers
  (which nbgrader would take for a solution outside a solution cell) quotes them with a no-break
  space between the two words, which reads the same.

Each notebook becomes one assignment named after its file. ``nbgrader_config.py`` names the course.
"""

import copy
import re
from pathlib import Path

from .student_edition import BEGIN, END, HINT, WORKED_ONLY, worked_notebooks, worked_only_note

SCHEMA_VERSION = 3
CHECK_POINTS = 1
ANSWER_POINTS = 1
CONFIG = '''"""nbgrader configuration of the cnnlib course, written by `python -m cnnlib course`."""

c = get_config()  # noqa: F821 (nbgrader's configuration loader defines get_config)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_assignments = {assignments!r}
'''


def _nbgrader(grade_id, *, solution, grade, locked, points=None):
    """The ``nbgrader`` cell metadata of one cell (schema 3)."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _hints_above(source):
    """``source`` with each solution block's ``# HINT:`` lines moved just above its BEGIN line."""
    out, block, hints = [], None, []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            block, hints = [line], []
        elif block is not None and stripped.startswith(HINT):
            indent = line[:len(line) - len(line.lstrip())]
            hints.append(f"{indent}{stripped}")
        elif block is not None and stripped == END:
            out.extend(hints + block + [line])
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    return "\n".join(out)


def _has_solution(cell):
    return any(line.strip() == BEGIN for line in cell.source.splitlines())


def course_notebook(nb, assignment):
    """The nbgrader source version of the worked notebook ``nb`` (an nbformat node, not changed).

    Grade ids are ``<assignment>-solution-<k>``, ``<assignment>-check-<k>`` and
    ``<assignment>-answer-<k>``, k counting from 1 in the notebook's order.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells, pending, counts = [], None, {"solution": 0, "check": 0, "answer": 0}

    def next_id(kind):
        counts[kind] += 1
        return f"{assignment}-{kind}-{counts[kind]}"

    for cell in nb.cells:
        if cell.cell_type == "markdown" and _has_solution(cell):
            cell.metadata["nbgrader"] = _nbgrader(next_id("answer"), solution=True, grade=True,
                                                  locked=False, points=ANSWER_POINTS)
        elif cell.cell_type == "markdown":
            for marker in (BEGIN, END):
                cell.source = cell.source.replace(marker,
                                                  marker.replace(" SOLUTION", "\u00a0SOLUTION"))
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            lines = cell.source.splitlines()
            if lines and lines[0].startswith(WORKED_ONLY):
                cell = type(cell)(cell_type="markdown", id=cell.get("id"), metadata={},
                                  source=worked_only_note(lines))
            elif _has_solution(cell):
                cell.source = _hints_above(cell.source)
                cell.metadata["nbgrader"] = _nbgrader(
                    next_id("solution"), solution=True, grade=False, locked=False
                )
                pending = True
            elif pending and cell.source.strip():
                cell.metadata["nbgrader"] = _nbgrader(next_id("check"), solution=False, grade=True,
                                                      locked=True, points=CHECK_POINTS)
                tags = cell.metadata.get("tags", [])
                if "raises-exception" in tags:
                    tags.remove("raises-exception")
                pending = None
        cells.append(cell)
    nb.cells = cells
    return nb


def assignment_name(path):
    """The assignment a notebook becomes: its file name without the suffix
    (``01_computational_graphs``)."""
    name = Path(path).stem
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise ValueError(
            f"notebook {path}: an nbgrader assignment name needs letters, digits, _ or -"
        )
    return name


def write_course(course_dir, notebooks=None, course_id="cnnlib"):
    """Write an nbgrader course into ``course_dir``: ``source/<assignment>/<notebook>.ipynb`` for
    each worked notebook in ``notebooks`` (paths; default: every worked notebook of the series) and
    ``nbgrader_config.py``. Returns the notebook paths written.

    Refuses (FileExistsError) to write into a course directory that already has a ``source/`` folder
    for one of these assignments, so an instructor's edits are never overwritten.
    """
    import nbformat

    course_dir = Path(course_dir)
    paths = [Path(p) for p in (worked_notebooks() if notebooks is None else notebooks)]
    if not paths:
        raise ValueError(
            "notebooks: no worked notebooks with solution blocks to make a course from"
        )
    names = [assignment_name(p) for p in paths]
    existing = [name for name in names if (course_dir / "source" / name).exists()]
    if existing:
        raise FileExistsError(f"{course_dir / 'source'} already holds {', '.join(existing)}; "
                              "choose an empty course directory")
    written = []
    for path, name in zip(paths, names):
        nb = course_notebook(nbformat.read(path, as_version=4), name)
        target = course_dir / "source" / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    assignments = [{"name": name} for name in names]
    (course_dir / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=course_id, assignments=assignments), encoding="utf-8")
    return written
