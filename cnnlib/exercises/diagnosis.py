"""The machinery every checker shares: :class:`ExerciseError` (shown in Jupyter without the
checkers' own frames), calling the learner's code (:func:`call`), comparing an answer with the
expected one and naming how it differs (:func:`compare`), the two guards the checkers share
(:func:`keeps_float32`: float32 in, float32 out; :func:`caller_unchanged`: the caller's arrays keep
their values and shape) and the line a passing check prints.
"""

import linecache
import types
from pathlib import Path

import numpy as np

from ..gradcheck import rel_error

PACKAGE = Path(__file__).parent          # as the frames of its modules name their files
TOLERANCE = 1e-6


class ExerciseError(AssertionError):
    """An exercise's answer is wrong (or not written yet); the message says what is wrong."""

    def _render_traceback_(self):
        """How IPython (Jupyter) shows the error: the traceback without the frames of the
        checkers' modules (their inner workings, which would push the message down the screen),
        then the message. IPython calls this method instead of formatting the whole traceback."""
        from IPython import get_ipython

        shell, kept, tb = get_ipython(), [], self.__traceback__
        if shell is None:
            return [f"{type(self).__name__}: {self}"]
        while tb is not None:
            if Path(tb.tb_frame.f_code.co_filename).parent != PACKAGE:
                kept.append(tb)
            tb = tb.tb_next
        short = None
        for tb in reversed(kept):
            short = types.TracebackType(short, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
        return shell.InteractiveTB.structured_traceback(type(self), self, short)


def learners_line(err):
    """`` (at your line: `...`)`` for the deepest frame of ``err``'s traceback outside cnnlib and
    numpy (the learner's line that raised it), or "" when there is none."""
    found, tb = None, err.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not (Path(name).parent == PACKAGE or PACKAGE.parent in Path(name).parents
                or "site-packages" in name or "/numpy/" in name):
            found = tb
        tb = tb.tb_next
    if found is None:
        return ""
    line = linecache.getline(found.tb_frame.f_code.co_filename, found.tb_lineno).strip()
    return f" (at your line: `{line}`)" if line else ""


def describe(value):
    """How an argument of a check's call reads in a message: arrays by shape, others by repr."""
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, (bool, int, float, str, type(None), np.generic)):
        text = repr(value)
        if len(text) <= 40:
            return text
    return f"<{type(value).__name__}>"


def call(what, fn, *args, signature=None, **kwargs):
    """``fn(*args, **kwargs)``; a NotImplementedError becomes ExerciseError("... not written yet:
    hint"), and a TypeError raised by the call itself (a function or class whose parameters do
    not match the exercise's) becomes an ExerciseError naming the expected call, ``signature``
    (by default the call the check makes). A TypeError raised further inside the learner's code
    is left alone: its traceback points at the learner's line."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        hint = str(err) or "replace the raise NotImplementedError line with your code"
        raise ExerciseError(f"{what} is not written yet: {hint}") from None
    except TypeError as err:
        if err.__traceback__ is None or err.__traceback__.tb_next is not None:
            raise                      # raised inside the learner's code, not by the call itself
        if signature is None:
            given = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
            signature = f"{getattr(fn, '__name__', what)}({', '.join(given)})"
        raise ExerciseError(f"{what} cannot be called the way the exercise asks: the check calls "
                            f"{signature}, and Python said: {err}. Keep the parameters the "
                            f"exercise gives.") from None


def close(a, b):
    """Whether ``a`` and ``b`` have one shape, ``a`` is finite and their relative error is below
    TOLERANCE."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and rel_error(a, b) < TOLERANCE


def _shape_hint(got, expected):
    """A hint on how shape ``got`` differs from ``expected`` (with a leading space), or ""."""
    if len(got) >= 2 and got == expected[:-2] + expected[:-3:-1]:
        return " (transposed?)"
    if got[1:] == expected and len(got) == len(expected) + 1:
        return (" (drop the kept axis of length 1: keepdims=False, or reshape)"
                if got[0] == 1 else " (a sum over the batch, axis 0, is missing)")
    return ""


def compare(name, got, expected, mistakes=(), where=""):
    """Raise ExerciseError unless ``got`` matches ``expected``; say how it differs.

    ``mistakes``: ``(wrong_value, message)`` pairs for the typical mistakes, tried after the
    shape check (so a specific mistake is named before the generic messages).
    """
    where = f" {where}" if where else ""
    if got is None:
        raise ExerciseError(f"{name} is None{where}: did you forget to return it?")
    expected = np.asarray(expected, dtype=np.float64)
    try:
        integer = np.issubdtype(np.asarray(got).dtype, np.integer)
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{name}{where}: expected a number or array, got {type(got).__name__}")\
            from None
    if got.shape == expected.shape and close(got, expected):
        return
    for wrong, message in mistakes:
        if close(got, wrong):
            raise ExerciseError(f"{name}{where}: {message}")
    if got.shape != expected.shape:
        raise ExerciseError(f"{name} has the wrong shape{where}: expected {expected.shape}, got "
                            f"{got.shape}{_shape_hint(got.shape, expected.shape)}")
    if not np.all(np.isfinite(got)):
        raise ExerciseError(f"{name}{where} holds nan or inf")
    if integer and np.all(np.isfinite(expected)) and np.any(expected != np.round(expected)):
        raise ExerciseError(f"{name}{where} holds whole numbers only: it is an integer array, "
                            f"which truncates every value written into it; look at the dtype of "
                            f"the array you create for the result")
    if not np.any(got) and np.any(expected):
        raise ExerciseError(f"{name}{where} is all zeros")
    if np.any(expected) and close(-got, expected):
        raise ExerciseError(f"{name}{where} has its sign flipped")
    if got.ndim >= 2 and close(np.swapaxes(got, -1, -2), expected):
        raise ExerciseError(f"{name}{where} is transposed (rows and columns swapped)")
    index = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape) if got.ndim else ()
    at = f" at index {tuple(int(i) for i in index)}" if got.ndim else ""
    raise ExerciseError(f"{name} is wrong{where}: relative error {rel_error(got, expected):.1e}; "
                        f"first large difference{at}: expected {expected[index]:.6g}, got "
                        f"{got[index]:.6g}")


UPCAST = ("an array built in float64 (np.eye, np.ones, np.zeros or np.where with 1.0 and no "
          "dtype, or an astype(float)) upcasts the result; keep the dtype of the arrays you are "
          "given")


def keeps_float32(name, got, where="", expected=None):
    """Raise ExerciseError unless ``got`` is a float32 array (the check fed float32 inputs):
    ``name`` names the result. With ``expected`` (the float64 answer), its values must also match
    that answer to float32 precision. Every checker's float32 guard."""
    where = f" {where}" if where else ""
    dtype = getattr(got, "dtype", None)
    if dtype != np.float32:
        found = dtype if dtype is not None else type(got).__name__
        raise ExerciseError(f"{name}{where} is {found}, not float32, for float32 inputs: {UPCAST}")
    if expected is not None and not (np.shape(got) == np.shape(expected) and np.allclose(
            got, expected, rtol=1e-4, atol=1e-4)):
        raise ExerciseError(f"{name}{where} is wrong for float32 inputs, although it is right "
                            f"for float64 ones: look for a step that rounds or truncates, such "
                            f"as an integer array")


def caller_unchanged(name, given, saved, where="", who="your code"):
    """Raise ExerciseError if the caller's array ``given`` differs from its copy ``saved`` in shape
    or values: ``name`` names the argument, ``who`` the learner's function. Every checker's guard
    of the caller's arrays."""
    where = f" {where}" if where else ""
    var = name.split()[-1]                 # "the input x" -> x, for the code in the advice
    if np.shape(given) != np.shape(saved):
        raise ExerciseError(f"{who} changed the shape of {name}{where}: it should stay "
                            f"{np.shape(saved)}, it came back {np.shape(given)}: reshape a view "
                            f"or a copy ({var}.reshape(...)), not the caller's array "
                            f"({var}.shape = ... or {var}.resize)")
    if not np.array_equal(given, saved, equal_nan=True):
        changed = int(np.sum(~((given == saved) | (np.isnan(given) & np.isnan(saved)))))
        raise ExerciseError(f"{who} changed {name} in place{where} ({changed} of "
                            f"{np.size(saved)} entries): compute a new array, not {var} -= "
                            f"..., {var} *= ... or {var}[...] = ...; the caller may still need "
                            f"it")


def copy_checked(name, dout, fn):
    """Call ``fn(dout_copy)`` and raise (through :func:`caller_unchanged`) if it changed the
    array it was given; ``name`` names the learner's function."""
    given = dout.copy()
    result = fn(given)
    caller_unchanged("dout", given, dout, who=name)
    return result


def correct(message):
    print(f"correct: {message}")


def fresh(cls, name, *args, **kwargs):
    """``cls(*args, **kwargs)`` through :func:`call`: the learner's class ``name`` built as the
    check builds it."""
    return call(f"{name}(...)", cls, *args, **kwargs)


def unchanged(what, before, after, message):
    """Raise if an array of ``after`` differs from its copy in ``before``; ``what`` names it."""
    for key, value in before.items():
        if not np.array_equal(value, after[key], equal_nan=True):
            raise ExerciseError(f"your function changed {what.format(key=key)} in place: {message}")


def zeros_first(name, got, expected, where, advice):
    """ExerciseError naming the diagnosis before the case when ``got`` is all zeros and
    ``expected`` is not (the shared message puts the case first)."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return
    if got.shape == np.shape(expected) and not np.any(got) and np.any(expected):
        raise ExerciseError(f"{name} is all zeros ({where}): {advice}")
