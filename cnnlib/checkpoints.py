"""Checkpoints: a model's parameters and buffers (and an optimizer's state) in an ``.npz`` file.

``save_params`` writes with ``np.savez`` (never pickle) to a temporary file and renames it, so a
failed write leaves the previous checkpoint intact. ``load_params`` reads the file itself: it
accepts only a regular file holding a zip archive of plain numeric ``.npy`` arrays whose CRC-32
checksums match, checks every name, shape and dtype against the model (and the optimizer), and only
then assigns. Anything else is a ValueError saying the file is "not a cnnlib checkpoint" and why.
"""

import io
import os
import secrets
import stat
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

NOT_A_CHECKPOINT = "not a cnnlib checkpoint (an .npz file written by save_params)"

# What parsing damaged bytes can raise inside zipfile and numpy's .npy header reader (a header is a
# Python literal: a flipped byte can make it a tokenize or syntax error).
_PARSE_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, IndexError, TypeError,
                 OverflowError, NotImplementedError, SyntaxError, struct.error, tokenize.TokenError,
                 zlib.error)


def model_state(model):
    """``{name: array}`` of the parameters and buffers (running averages) of ``model``: the arrays
    themselves, so writing into them changes the model."""
    return {**model.params, **getattr(model, "buffers", {})}


def non_finite(arrays):
    """The names of the float (or complex) arrays in ``arrays`` (a ``{name: array}`` dict) holding
    NaN or inf."""
    return [name for name, a in arrays.items() if a.dtype.kind in "fc" and not np.isfinite(a).all()]


def save_params(model, path, optimizer=None):
    """Save every parameter and buffer of ``model`` (and ``optimizer``'s state, if given) to
    ``path`` with ``np.savez``. Buffers (batch norm's running averages, ``model.buffers``) are saved
    under their names beside the parameters.

    The file is written to a temporary file in the same directory and then renamed over ``path``, so
    a failed write (a full disk, an interrupt) leaves any earlier checkpoint at ``path`` intact.
    Raises ValueError naming the parameters when some hold NaN or inf (such weights are never
    saved).
    """
    arrays = model_state(model)
    if optimizer is not None:
        arrays.update({f"optimizer:{key}": value for key, value in optimizer.state_dict().items()})
    bad = non_finite(arrays)
    if bad:
        raise ValueError(f"save_params: not saving {path}: NaN or inf values in {', '.join(bad)}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_bytes(path):
    """The contents of the regular file ``path``; ValueError for a directory, FIFO, device or socket
    (opened without blocking, so a FIFO with no writer does not hang), FileNotFoundError if
    missing."""
    if Path(path).is_dir():    # os.open would open it, os.fdopen would not
        raise ValueError(f"{path} is a directory, {NOT_A_CHECKPOINT}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is {NOT_A_CHECKPOINT}: it is not a regular file "
                             f"(a FIFO, device or socket)")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _array_from_npy(raw):
    """The array in the bytes ``raw`` of one ``.npy`` entry. The header must describe exactly the
    payload that follows (so a damaged shape can never allocate more than the file holds)."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject or dtype.kind not in "biufc":
        raise ValueError(f"dtype {dtype} is not a plain numeric type")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize != len(raw) - f.tell():
        raise ValueError(f"the header's shape {shape} does not match the payload size")
    array = np.frombuffer(raw, dtype, count, offset=f.tell())
    return array.reshape(shape, order="F" if fortran else "C").copy()


def read_checkpoint(path):
    """Every array in the checkpoint file ``path`` as ``{name: array}``; ValueError saying why when
    it is not one (empty, not a zip archive, truncated or damaged, an entry that is not a plain
    numeric ``.npy`` array); FileNotFoundError when ``path`` does not exist."""
    raw = _read_bytes(path)
    reason = ("the file is empty" if not raw else
              "it is an .npy file (one array)" if raw[:6] == b"\x93NUMPY" else
              "it is not a zip archive" if raw[:4] not in (b"PK\x03\x04", b"PK\x05\x06") else None)
    if reason is None:
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
        except _PARSE_ERRORS as err:    # ZipFile.read checks every entry's CRC-32
            reason = f"truncated or corrupted zip archive ({type(err).__name__}: {err})"
        else:
            reason = _npy_problem([name for name, _ in entries])
            if reason is None:
                try:
                    return {name[:-4]: _array_from_npy(data) for name, data in entries}
                except _PARSE_ERRORS as err:
                    reason = f"it holds a damaged .npy array ({type(err).__name__}: {err})"
    raise ValueError(f"{path} is {NOT_A_CHECKPOINT}: {reason}")


def _npy_problem(filenames):
    """Why zip entries named ``filenames`` are not a set of distinct .npy arrays, or None."""
    others = [name for name in filenames if not name.endswith(".npy")]
    if others:
        return f"it holds files that are not .npy arrays ({', '.join(others[:3])})"
    if len(set(filenames)) != len(filenames):
        return "it holds the same array name twice"
    return None


def load_params(model, path, optimizer=None):
    """Load parameters and buffers saved by :func:`save_params` into ``model`` in place (and
    ``optimizer``'s state).

    Everything is checked before anything is assigned, so on error the model (and the optimizer) are
    unchanged. Raises ValueError when ``path`` is not a readable .npz checkpoint (empty, truncated,
    damaged, a directory or FIFO, an .npy or any other file), and listing missing names, unexpected
    names, shape mismatches, arrays of the wrong kind (an int, bool or complex array for a float
    parameter: never cast silently), arrays holding NaN or inf, and optimizer state that does not
    fit ``optimizer`` (another optimizer's slots, other parameters). A missing file raises
    FileNotFoundError.
    """
    saved = read_checkpoint(path)
    bad_values = non_finite(saved)
    optimizer_state = {key.split(":", 1)[1]: saved.pop(key) for key in list(saved)
                       if key.startswith("optimizer:")}
    params = model_state(model)
    problems = [f"missing from {path}: {name} {params[name].shape}"
                for name in params if name not in saved]
    problems += [f"unexpected in {path}: {name} {saved[name].shape}"
                 for name in saved if name not in params]
    problems += [f"shape mismatch for {name}: model {params[name].shape}, file {saved[name].shape}"
                 for name in params if name in saved and saved[name].shape != params[name].shape]
    problems += [f"dtype mismatch for {name}: model {params[name].dtype}, file {saved[name].dtype}"
                 for name in params if name in saved
                 and saved[name].dtype.kind != params[name].dtype.kind]
    problems += [f"NaN or inf values in {name}" for name in bad_values]
    if optimizer is not None:
        if optimizer_state:
            problems += [
                f"optimizer state: {problem}"
                for problem in optimizer.state_dict_problems(optimizer_state, model.params)
            ]
        else:
            problems.append(
                f"no optimizer state in {path} (save it with save_params(model, path, optimizer))"
            )
    if problems:
        raise ValueError("load_params: checkpoint does not fit the "
                         "model:\n  " + "\n  ".join(problems))
    if optimizer is not None:
        optimizer.load_state_dict(optimizer_state)
    for name, p in params.items():
        p[...] = saved[name]
