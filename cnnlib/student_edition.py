"""The student edition of the notebooks (``notebooks/exercises/``), made from the worked one.

:func:`student_notebook` turns a worked notebook into its student edition: every block between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``raise NotImplementedError(hint)`` (the
hint from a ``# HINT: ...`` line in the block), outputs are cleared, cells whose first line is
``# WORKED EDITION ONLY`` are replaced by a note (quoting the cell's code, when short, for the
learner to run once the check passes), and each check cell (the first code cell after a solution)
is tagged ``raises-exception``. A written question's answer (a markdown cell holding a solution
block) becomes ``ANSWER_PROMPT``, an empty answer for the learner to write.

:func:`write_student_edition` (``python -m cnnlib exercises``) writes them all, and never destroys a
learner's work: each student notebook records in its metadata (``metadata.cnnlib``) a hash of the
cells it was written with, and a notebook whose cells were edited since (a source changed, a cell
added or removed; running cells or saving does not count) is replaced only when asked
(``force=True``), after a copy of it is kept in a backup directory outside the notebooks.
"""

import copy
import hashlib
import json
import os
import shutil
import textwrap
import time
from pathlib import Path

BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "# HINT:"
WORKED_ONLY = "# WORKED EDITION ONLY"
DEFAULT_HINT = "replace this line with your code"
ANSWER_PROMPT = "YOUR ANSWER HERE"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
METADATA_KEY = "cnnlib"


def _raise_lines(indent, hint, width=100):
    """``raise NotImplementedError(hint)`` at ``indent``, the hint split over lines of at most
    ``width``."""
    line = f"{indent}raise NotImplementedError({hint!r})"
    if len(line) <= width:
        return [line]
    parts = textwrap.wrap(hint, width - len(indent) - 8)
    quoted = [repr(part + " ") for part in parts[:-1]] + [repr(parts[-1])]
    return [f"{indent}raise NotImplementedError("] + [f"{indent}    {q}" for q in quoted[:-1]] + \
        [f"{indent}    {quoted[-1]})"]


def _stub(lines):
    """Replace every solution block in ``lines`` by a raise with the block's hint."""
    out, block = [], None
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            block = {"indent": line[:len(line) - len(line.lstrip())], "hint": DEFAULT_HINT}
        elif stripped == END:
            if block is None:
                raise ValueError(f"{END} without {BEGIN}")
            out.extend(_raise_lines(block["indent"], block["hint"]))
            block = None
        elif block is not None:
            if stripped.startswith(HINT):
                block["hint"] = stripped[len(HINT):].strip()
        else:
            out.append(line)
    if block is not None:
        raise ValueError(f"{BEGIN} without {END}")
    return out


def worked_only_note(lines):
    """The note that replaces a ``# WORKED EDITION ONLY: <what>`` cell: it says what the cell
    shows and, for a cell of at most three lines, quotes them, so the learner can run them once
    the check passes."""
    what = lines[0][len(WORKED_ONLY):].lstrip(" :") or "cnnlib's own code"
    code = [line for line in lines[1:] if line.strip()]
    note = f"*(The worked edition shows {what} here; it would give an answer away."
    if not code or len(code) > 3:
        return textwrap.fill(f"{note} Look at it in `notebooks/` once your check passes.)*", 100)
    return (textwrap.fill(f"{note} Once your check passes, see it by running this in a new "
                          "cell:)*", 100) + "\n\n```python\n" + "\n".join(code) + "\n```")


def _blank_answer(source):
    """A written answer's markdown with every solution block replaced by ``ANSWER_PROMPT``."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
            out.append(ANSWER_PROMPT)
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END} in a written answer")
    return "\n".join(out)


def student_notebook(nb):
    """The student edition of a worked notebook (an ``nbformat`` node); ``nb`` is not changed."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells, expect_check = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and any(line.strip() == BEGIN
                                                for line in cell.source.splitlines()):
            cell.source = _blank_answer(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            lines = cell.source.splitlines()
            if lines and lines[0].startswith(WORKED_ONLY):
                cells.append(type(cell)(cell_type="markdown", id=cell.get("id"), metadata={},
                                        source=worked_only_note(lines)))
                continue
            if any(line.strip() in (BEGIN, END) for line in lines):
                cell.source = "\n".join(_stub(lines))
                expect_check = True
            elif expect_check:
                tags = cell.metadata.setdefault("tags", [])
                if "raises-exception" not in tags:
                    tags.append("raises-exception")
                expect_check = False
        cells.append(cell)
    nb.cells = cells
    return nb


def worked_notebooks(directory=NOTEBOOKS):
    """The notebooks in ``directory`` that hold solution markers, sorted by name."""
    return [path for path in sorted(Path(directory).glob("*.ipynb"))
            if BEGIN in path.read_text(encoding="utf-8")]


def student_edition_text(path):
    """The student edition of the worked notebook at ``path``, as the text written to disk (with
    the hash of its cells in its metadata)."""
    import nbformat

    nb = student_notebook(nbformat.read(path, as_version=4))
    nb.metadata[METADATA_KEY] = {"cells_sha256": cells_hash(nb)}
    return nbformat.writes(nb) + "\n"


def default_backup_dir():
    """``$XDG_CACHE_HOME/cnnlib/backups/<UTC time>`` (``~/.cache`` when XDG_CACHE_HOME is unset):
    where ``force=True`` keeps the student notebooks it replaces."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "cnnlib" / "backups" / time.strftime("%Y%m%d-%H%M%S", time.gmtime())


class EditedNotebooks(Exception):
    """Student notebooks edited since they were written; ``paths`` lists them."""

    def __init__(self, paths):
        self.paths = list(paths)
        names = ", ".join(str(path) for path in self.paths)
        super().__init__(f"{len(self.paths)} student notebook(s) changed since they were written: "
                         f"{names}; they may hold your work, so they were left as they are. Pass "
                         f"--force to replace them (each is first copied to a backup directory)")


def cells_hash(nb):
    """SHA-256 of a notebook's cells as a learner edits them: each cell's type and source, in
    order (outputs, execution counts and metadata left out)."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode("utf-8")).hexdigest()


def _edited(path, text):
    """Whether replacing the student notebook at ``path`` by ``text`` could lose a learner's work:
    its cells match neither the hash it was written with nor those of ``text`` (a notebook without
    a hash, or that cannot be read as one, counts as edited unless its cells are those of
    ``text``)."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError, KeyError, AttributeError):
        return True
    new = nbformat.reads(text, as_version=4).metadata[METADATA_KEY]["cells_sha256"]
    return cells_hash(nb) not in (nb.metadata.get(METADATA_KEY, {}).get("cells_sha256"), new)


def _worked_in(directory):
    """The worked notebooks in ``directory``; ValueError unless it is a directory that holds
    some."""
    directory = Path(directory)
    if not directory.exists():
        raise ValueError(f"--notebooks: no such directory: {directory}")
    if not directory.is_dir():
        raise ValueError(f"--notebooks: {directory} is not a directory; give the directory that "
                         f"holds the worked notebooks")
    worked = worked_notebooks(directory)
    if not worked:
        raise ValueError(f"--notebooks: {directory} holds no worked notebook (an .ipynb with "
                         f"{BEGIN} markers); give the directory of the worked notebooks")
    return worked


def _backup(paths, backup_dir, directory):
    """Copy ``paths`` into ``backup_dir`` (a new directory outside ``directory``); return it."""
    backup_dir = Path(backup_dir)
    inside = Path(directory).resolve()
    if backup_dir.resolve() == inside or inside in backup_dir.resolve().parents:
        raise ValueError(f"--backup-dir: {backup_dir} is inside the notebooks {directory}; choose "
                         f"a directory outside it (tests and the browser test would pick the "
                         f"copies up)")
    unique, n = backup_dir, 2
    while unique.exists():
        unique, n = backup_dir.with_name(f"{backup_dir.name}-{n}"), n + 1
    unique.mkdir(parents=True)
    for path in paths:
        shutil.copy2(path, unique / path.name)
    return unique


def write_student_edition(directory=NOTEBOOKS, out=None, *, force=False, backup_dir=None):
    """Write ``<directory>/exercises/<name>.ipynb`` (or ``<out>/<name>.ipynb``) for each worked
    notebook in ``directory``; return ``(written paths, backup directory or None)``.

    A student notebook edited since it was written is replaced only with ``force=True``, after it
    is copied to ``backup_dir`` (default: :func:`default_backup_dir`); without ``force`` nothing is
    written and :class:`EditedNotebooks` names the edited ones. ValueError, before anything is
    written, when ``directory`` is missing, not a directory, or holds no worked notebook.
    """
    worked = _worked_in(directory)
    out = Path(directory) / "exercises" if out is None else Path(out)
    texts = {out / path.name: student_edition_text(path) for path in worked}
    edited = [target for target, text in texts.items()
              if target.exists() and _edited(target, text)]
    if edited and not force:
        raise EditedNotebooks(edited)
    kept = _backup(edited, backup_dir or default_backup_dir(), directory) if edited else None
    out.mkdir(parents=True, exist_ok=True)
    for target, text in texts.items():
        target.write_text(text, encoding="utf-8")
    return list(texts), kept
