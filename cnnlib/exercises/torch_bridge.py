"""The checker of notebook 14's exercise: an ``Affine`` layer converted by hand into
``torch.nn.Linear``.

:func:`check_affine_to_linear` calls the learner's ``affine_to_linear(layer)`` on float64 layers
(one with more inputs than outputs, where a missing transpose shows in the shape, and a square one,
where it only shows in the values) and names the typical mistakes: the weight not transposed, a bias
of the wrong shape or none, float32 parameters for a float64 layer, parameters that share memory
with the layer instead of copying it, a layer changed by the conversion, parameters that do not ask
for gradients. torch is imported inside the functions, so importing this module never needs it.
"""

import numpy as np

from ..gradcheck import rel_error
from ..layers import Affine
from .diagnosis import ExerciseError

__all__ = ["affine_to_linear", "check_affine_to_linear"]

TOLERANCE = 1e-12


def affine_to_linear(layer):
    """The reference answer: a ``torch.nn.Linear`` computing what the ``Affine`` ``layer`` computes
    on ``(N, in_features)`` inputs, with a copy of its parameters in its dtype: ``weight`` is
    ``W.T`` ``(out, in)``, ``bias`` is ``b`` ``(out,)``."""
    import torch

    dtype = getattr(torch, layer.params["W"].dtype.name)
    linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.params["W"].T))
        linear.bias.copy_(torch.from_numpy(layer.params["b"]))
    return linear


def _convert(fn, layer):
    try:
        return fn(layer)
    except NotImplementedError as err:
        hint = str(err) or "replace the raise NotImplementedError line with your code"
        raise ExerciseError(f"affine_to_linear is not written yet: {hint}") from None


def _parameter(linear, key, where):
    import torch

    value = getattr(linear, key, None)
    if value is None:
        extra = (" (nn.Linear(..., bias=False) leaves it out; keep the default)"
                 if key == "bias" else "")
        raise ExerciseError(f"the Linear {where} has no {key}{extra}")
    if not isinstance(value, torch.nn.Parameter):
        raise ExerciseError(f"the Linear's {key} {where} is a {type(value).__name__}, not a "
                            f"torch.nn.Parameter: an optimizer would never see it")
    if not value.requires_grad:
        raise ExerciseError(f"the Linear's {key} {where} does not require a gradient "
                            f"(requires_grad=False): autograd would never fill its .grad")
    return value


def _check_layout(weight, bias, w, b, where):
    """The Linear's weight and bias against the Affine's ``w`` and ``b``: shapes, dtypes, and no
    memory shared."""
    import torch

    n_in, n_out = w.shape
    if tuple(weight.shape) != (n_out, n_in):
        extra = (": nn.Linear stores (out, in), the transpose of Affine's W (in, out)"
                 if tuple(weight.shape) == (n_in, n_out) else "")
        raise ExerciseError(f"the Linear's weight has shape {tuple(weight.shape)} {where}, "
                            f"expected (out_features, in_features) = {(n_out, n_in)}{extra}")
    if tuple(bias.shape) != (n_out,):
        raise ExerciseError(f"the Linear's bias has shape {tuple(bias.shape)} {where}, expected "
                            f"({n_out},) like the Affine's b: one value per output, not a row or "
                            f"a column")
    expected = getattr(torch, w.dtype.name)
    for key, value in (("weight", weight), ("bias", bias)):
        if value.dtype != expected:
            raise ExerciseError(f"the Linear's {key} is {value.dtype} {where}, expected {expected} "
                                f"like the Affine's parameters: nn.Linear creates float32 "
                                f"parameters unless given dtype=, and copying into them rounds")
    for key, value, array in (("weight", weight, w), ("bias", bias, b)):
        if np.shares_memory(value.detach().numpy(), array):
            raise ExerciseError(f"the Linear's {key} shares memory with the Affine's "
                                f"params['{'W' if key == 'weight' else 'b'}'] {where}: "
                                f"torch.from_numpy does not copy, so a torch optimizer step would "
                                f"change the cnnlib layer too; copy it (.clone() or np.copy)")


def _check_one(fn, layer, where):
    import torch

    w, b = layer.params["W"], layer.params["b"]
    kept = {"W": w.copy(), "b": b.copy()}
    linear = _convert(fn, layer)
    if linear is None:
        raise ExerciseError(f"affine_to_linear returned None {where}: did you forget to return "
                            f"the Linear?")
    if not isinstance(linear, torch.nn.Linear):
        raise ExerciseError(f"affine_to_linear returned a {type(linear).__name__} {where}, "
                            f"expected a torch.nn.Linear")
    for key in ("W", "b"):
        if layer.params[key] is not (w if key == "W" else b) or not np.array_equal(
                layer.params[key], kept[key]):
            raise ExerciseError(f"affine_to_linear changed the Affine's params['{key}'] {where}: "
                                f"read the layer, never write to it (W.T is a new view; no "
                                f"transposing in place, no assignment)")
    weight, bias = _parameter(linear, "weight", where), _parameter(linear, "bias", where)
    _check_layout(weight, bias, w, b, where)
    n_in, n_out = w.shape
    got_w, got_b = weight.detach().numpy(), bias.detach().numpy()
    if n_in == n_out and rel_error(got_w, w) < TOLERANCE and rel_error(got_w, w.T) >= TOLERANCE:
        raise ExerciseError(f"the Linear's weight is the Affine's W itself {where}: nn.Linear "
                            f"computes x @ weight.T, so weight must be W.T")
    if not np.any(got_w):
        raise ExerciseError(f"the Linear's weight is all zeros {where}: copy the Affine's W.T "
                            f"into it")
    if rel_error(got_w, w.reshape(n_out, n_in)) < TOLERANCE and n_in != n_out:
        raise ExerciseError(f"the Linear's weight is the Affine's W reshaped to (out, in) "
                            f"{where}: reshape keeps the values in their memory order, so its "
                            f"rows are not W's columns; the layout change is a transpose")
    if rel_error(got_w, w.T) >= TOLERANCE:
        raise ExerciseError(f"the Linear's weight differs from the Affine's W.T {where}: relative "
                            f"error {rel_error(got_w, w.T):.1e} (a fresh Linear's random weights?)")
    if rel_error(got_b, b) >= TOLERANCE:
        raise ExerciseError(f"the Linear's bias differs from the Affine's b {where}: relative "
                            f"error {rel_error(got_b, b):.1e} (a fresh Linear's random bias, "
                            f"never overwritten?)")
    x = np.random.default_rng(4).standard_normal((5, n_in))
    with torch.no_grad():
        out = linear(torch.from_numpy(x)).numpy()
    if rel_error(out, layer.forward(x)) >= TOLERANCE:
        raise ExerciseError(f"the Linear's output differs from the Affine's {where}: relative "
                            f"error {rel_error(out, layer.forward(x)):.1e}")


def check_affine_to_linear(fn):
    """Check ``fn(layer) -> torch.nn.Linear`` for float64 ``Affine`` layers; print one line when
    it is right and return ``fn``, else raise :class:`~cnnlib.exercises.ExerciseError` naming the
    mistake."""
    rng = np.random.default_rng(14)
    for n_in, n_out, where in [(6, 3, "for an Affine(6, 3)"), (4, 4, "for an Affine(4, 4)")]:
        layer = Affine(n_in, n_out, dtype=np.float64, rng=rng)
        layer.params["b"][...] = rng.standard_normal(n_out)
        _check_one(fn, layer, where)
    print("correct: the Linear holds a copy of W.T and b in float64 and computes what the Affine "
          "computes")
    return fn
