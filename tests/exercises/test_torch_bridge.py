"""Notebook 14's checker: right conversions of an Affine into nn.Linear pass, each typical mistake
is rejected with the message that names it."""

import numpy as np
import pytest

from cnnlib.exercises import ExerciseError
from cnnlib.exercises.torch_bridge import affine_to_linear, check_affine_to_linear

torch = pytest.importorskip("torch")
nn = torch.nn


def copy_into_fresh_linear(layer):
    linear = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.params["W"].T))
        linear.bias.copy_(torch.tensor(layer.params["b"]))
    return linear


def new_parameters(layer):
    w, b = layer.params["W"], layer.params["b"]
    linear = nn.Linear(*w.shape).double()
    linear.weight = nn.Parameter(torch.from_numpy(np.ascontiguousarray(w.T).copy()))
    linear.bias = nn.Parameter(torch.from_numpy(b).clone())
    return linear


def through_state_dict(layer):
    linear = nn.Linear(layer.in_features, layer.out_features).to(torch.float64)
    linear.load_state_dict({"weight": torch.from_numpy(layer.params["W"]).T,
                            "bias": torch.from_numpy(layer.params["b"])})   # copies into its own
    return linear


def slice_assignment(layer):
    w, b = layer.params["W"], layer.params["b"]
    linear = nn.Linear(*w.shape).double()
    with torch.no_grad():
        linear.weight[:] = torch.from_numpy(w.T)            # writes into the Linear's own memory
        linear.bias[:] = torch.from_numpy(b)
    return linear


def data_of_a_clone(layer):
    w, b = layer.params["W"], layer.params["b"]
    linear = nn.Linear(w.shape[0], w.shape[1], dtype=getattr(torch, str(w.dtype)))
    linear.weight.data = torch.as_tensor(w).T.clone()
    linear.bias.data = torch.as_tensor(b).clone()
    return linear


@pytest.mark.parametrize("answer", [affine_to_linear, copy_into_fresh_linear, new_parameters,
                                    through_state_dict, slice_assignment, data_of_a_clone])
def test_right_answers_pass(answer, capsys):
    assert check_affine_to_linear(answer) is answer
    assert capsys.readouterr().out.startswith("correct: ")


def no_transpose(layer):
    linear = nn.Linear(*layer.params["W"].shape, dtype=torch.float64)
    linear.weight = nn.Parameter(torch.tensor(layer.params["W"]))
    linear.bias = nn.Parameter(torch.tensor(layer.params["b"]))
    return linear


def square_no_transpose(layer):
    """Right shapes (from the feature counts) but W copied as it is: shows on the square layer."""
    linear = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
    with torch.no_grad():
        w = layer.params["W"]
        linear.weight.copy_(torch.tensor(w if w.shape[0] == w.shape[1] else w.T))
        linear.bias.copy_(torch.tensor(layer.params["b"]))
    return linear


def row_bias(layer):
    linear = copy_into_fresh_linear(layer)
    linear.bias = nn.Parameter(torch.tensor(layer.params["b"][None, :]))
    return linear


def float32(layer):
    linear = nn.Linear(layer.in_features, layer.out_features)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.params["W"].T))
        linear.bias.copy_(torch.from_numpy(layer.params["b"]))
    return linear


def shared_memory(layer):
    linear = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
    linear.weight = nn.Parameter(torch.from_numpy(layer.params["W"].T))
    linear.bias = nn.Parameter(torch.from_numpy(layer.params["b"]))
    return linear


def no_bias(layer):
    linear = nn.Linear(layer.in_features, layer.out_features, bias=False, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.params["W"].T))
    return linear


def frozen(layer):
    linear = copy_into_fresh_linear(layer)
    linear.weight.requires_grad_(False)
    return linear


def transposes_the_layer(layer):
    layer.params["W"] = layer.params["W"].T.copy()
    linear = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.params["W"]))
        linear.bias.copy_(torch.tensor(layer.params["b"]))
    return linear


def fresh_weights(layer):
    return nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)


def forgets_to_return(layer):
    copy_into_fresh_linear(layer)


def reshaped(layer):
    w = layer.params["W"]
    linear = copy_into_fresh_linear(layer)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.reshape(w.shape[1], w.shape[0])))
    return linear


def bias_left_random(layer):
    linear = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.params["W"].T))
    return linear


def not_written(layer):
    raise NotImplementedError("nn.Linear stores (out, in)")


def zero_weights(layer):
    linear = copy_into_fresh_linear(layer)
    with torch.no_grad():
        linear.weight.zero_()
    return linear


REFERENCES = [(check_affine_to_linear, answer) for answer in
              (affine_to_linear, copy_into_fresh_linear, new_parameters, through_state_dict,
               slice_assignment, data_of_a_clone)]

WRONG = [(check_affine_to_linear, answer, message) for answer, message in [
    (no_transpose, r"weight has shape \(6, 3\).*nn.Linear stores \(out, in\), the transpose"),
    (square_no_transpose, r"weight is the Affine's W itself for an Affine\(4, 4\).*must be W.T"),
    (row_bias, r"bias has shape \(1, 3\).*expected \(3,\)"),
    (float32, r"weight is torch.float32.*expected torch.float64.*float32 parameters unless"),
    (shared_memory, r"weight shares memory with the Affine's params\['W'\].*does not copy"),
    (no_bias, r"has no bias.*bias=False"),
    (frozen, r"weight .*does not require a gradient"),
    (transposes_the_layer, r"changed the Affine's params\['W'\]"),
    (fresh_weights, r"weight differs from the Affine's W.T.*random weights"),
    (forgets_to_return, r"returned None.*forget to return"),
    (not_written, r"affine_to_linear is not written yet: nn.Linear stores \(out, in\)"),
    (zero_weights, r"weight is all zeros for an Affine\(6, 3\)"),
    (reshaped, r"weight is the Affine's W reshaped to \(out, in\).*a transpose"),
    (bias_left_random, r"bias differs from the Affine's b.*random bias"),
]]


@pytest.mark.parametrize("answer, message", [(answer, message) for _, answer, message in WRONG])
def test_each_mistake_is_named(answer, message):
    with pytest.raises(ExerciseError, match=message):
        check_affine_to_linear(answer)


def test_importing_the_checker_needs_no_torch():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = "import sys; sys.modules['torch'] = None\nimport cnnlib.exercises.torch_bridge\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          check=False, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
