"""Checker of the LeNet-5 assembly exercise (notebook 07): layer by layer, names, shapes and
settings.
"""

import numpy as np

from .. import conv, layers
from ..models import LeNet5, Sequential
from .diagnosis import ExerciseError, call, compare, correct

# (name, layer class name, {attribute: value}, output shape of one image)
LENET5_LAYERS = [
    ("conv1", "Conv2D", {"W": (6, 1, 5, 5), "pad": 2, "stride": 1}, (6, 28, 28)),
    ("relu1", "ReLU", {}, (6, 28, 28)),
    ("pool1", "MaxPool2D", {"size": 2}, (6, 14, 14)),
    ("conv2", "Conv2D", {"W": (16, 6, 5, 5), "pad": 0, "stride": 1}, (16, 10, 10)),
    ("relu2", "ReLU", {}, (16, 10, 10)),
    ("pool2", "MaxPool2D", {"size": 2}, (16, 5, 5)),
    ("flatten", "Flatten", {}, (400,)),
    ("fc1", "Affine", {"W": (400, 120)}, (120,)),
    ("relu3", "ReLU", {}, (120,)),
    ("fc2", "Affine", {"W": (120, 84)}, (84,)),
    ("relu4", "ReLU", {}, (84,)),
    ("fc3", "Affine", {"W": (84, 10)}, (10,)),
]


def _fc1_inputs(pad1, pad2):
    """How many values reach fc1 when conv1 and conv2 are padded by ``pad1`` and ``pad2``."""
    size = 28
    for pad in (pad1, pad2):       # a 5x5 convolution, then 2x2 max pooling
        size = conv.conv_output_size(conv.conv_output_size(size, 5, 1, pad), 2, 2)
    return 16 * size * size


def _wrong_type(index, layer, kind, label):
    """Raise for a layer of the wrong type, naming a missing ReLU, average pooling or a missing
    Flatten."""
    previous = LENET5_LAYERS[index - 1][0] if index else "the input"
    following = [s for s in LENET5_LAYERS[index + 1:index + 2]
                 if isinstance(layer, getattr(layers, s[1]))]
    if kind == "ReLU" and following:
        raise ExerciseError(f"a ReLU is missing after {previous}: {label} should be ReLU(), "
                            f"got {layer!r}")
    if kind == "MaxPool2D" and isinstance(layer, layers.AvgPool2D):
        raise ExerciseError(f"{label} is average pooling: LeNet-5 here takes each window's "
                            f"maximum, MaxPool2D(2)")
    if kind == "Flatten" and isinstance(layer, layers.Affine):
        raise ExerciseError(f"{label}: add Flatten() before fc1, (N, 16, 5, 5) -> (N, 400)")
    raise ExerciseError(f"{label} should be a {kind}, got {layer!r}")


def _check_lenet5_layer(index, got_name, layer, spec, x):
    """Check one layer's type, settings, parameters and output for the input ``x``; return the
    output."""
    name, kind, settings, shape = spec
    label = f"layer {index + 1} ({name}, LeNet-5's {kind})"
    expected_type = getattr(layers, kind)
    if not isinstance(layer, expected_type):
        _wrong_type(index, layer, kind, label)
    if kind == "Conv2D":
        w = layer.params["W"]
        if w.shape != settings["W"]:
            f, c, kh, kw = settings["W"]
            raise ExerciseError(f"{label} has weights of shape {w.shape}: expected {f} filters of "
                                f"{c} x {kh} x {kw}, W of shape {settings['W']}")
        if layer.pad != settings["pad"] or layer.stride != settings["stride"]:
            pads = (layer.pad, 0) if name == "conv1" else (2, layer.pad)
            side = 28 + 2 * layer.pad - 4 if name == "conv1" else 14 + 2 * layer.pad - 4
            raise ExerciseError(
                f"{label} has pad={layer.pad}, stride={layer.stride}: expected "
                f"pad={settings['pad']}, stride=1. Its maps come out {side}x{side} instead of "
                f"{shape[1]}x{shape[2]} (with stride 1), so fc1 would get "
                f"{_fc1_inputs(*pads)} inputs, not 400")
    if kind == "MaxPool2D" and (layer.size != 2 or (layer.stride or layer.size) != 2):
        raise ExerciseError(f"{label} is {layer!r}: LeNet-5 pools 2x2 windows with stride 2, "
                            f"MaxPool2D(2), halving each map")
    if kind == "Affine" and layer.params["W"].shape != settings["W"]:
        raise ExerciseError(f"{label} has W of shape {layer.params['W'].shape}: expected "
                            f"Affine{settings['W']}" + (" (16 maps of 5 x 5 = 400 values)"
                                                         if name == "fc1" else ""))
    for key, param in layer.params.items():
        if param.dtype != np.float32:
            raise ExerciseError(f"{label}'s {key} is {param.dtype}: keep the layers' default "
                                f"float32 (training runs in float32)")
        if key == "W" and not np.any(param):
            raise ExerciseError(f"{label}'s weights are all zeros: every unit would compute the "
                                f"same thing and get the same gradient; keep the layers' random "
                                f"(He) initialisation")
    try:
        out = layer.forward(x)
    except ValueError as err:
        raise ExerciseError(f"{label} cannot take the output of the layer before it, of shape "
                            f"{x.shape}: {err}") from None
    if out.shape[1:] != shape:
        raise ExerciseError(f"{label} gives {out.shape} for a batch of {len(x)}, expected "
                            f"{(len(x),) + shape}")
    return out


def _check_order(index, got, spec):
    """Name a pooling layer placed before the ReLU it should follow."""
    if (spec[1] == "ReLU" and index + 1 < len(got) and isinstance(got[index][1], layers.MaxPool2D)
            and isinstance(got[index + 1][1], layers.ReLU)):
        raise ExerciseError(
            f"layers {index + 1} and {index + 2} are in the other order: yours pools before "
            f"the ReLU after {LENET5_LAYERS[index - 1][0]}. LeNet-5 is conv, ReLU, pool "
            f"(max pooling and ReLU commute, so the scores agree, but the layer names, "
            f"the activations and the checkpoints follow the table's order)")


def _check_distinct(got):
    """Name one layer object used at two places of the network (``relu = ReLU()`` reused): its
    forward pass would overwrite what it keeps for the backward pass of the other place."""
    seen = {}
    for name, layer in got:
        if id(layer) in seen:
            raise ExerciseError(
                f"{seen[id(layer)]!r} and {name!r} are the same {type(layer).__name__} object: a "
                f"layer keeps what its forward pass saw for its backward pass (a ReLU its mask, a "
                f"pooling layer where each maximum was), so the second use would overwrite the "
                f"first one's; give every place of the table its own layer")
        seen[id(layer)] = name


def _check_seeds(fn, model):
    """The same seed must build the same weights, two seeds different ones."""
    again = call("your LeNet-5 builder", fn, rng=np.random.default_rng(0))
    if any(not np.array_equal(p, again.params[k]) for k, p in model.params.items()):
        raise ExerciseError("two builds with the same rng gave different weights: pass rng=rng "
                            "to every Conv2D and Affine, so that every run starts the same")
    other = call("your LeNet-5 builder", fn, rng=np.random.default_rng(1))
    same = [k for k, p in model.params.items()
            if np.any(p) and k in other.params and np.array_equal(p, other.params[k])]
    if same:
        raise ExerciseError(f"two different seeds gave the same weights for {', '.join(same)}: "
                            f"those layers ignore the rng the builder is given (a seed fixed "
                            f"inside the builder, or a new generator per layer); every Conv2D "
                            f"and Affine should draw from the one rng passed in")


def check_lenet5(fn):
    """Check ``fn(rng=...) -> Sequential``, LeNet-5 assembled from cnnlib's layers: conv6@5x5 pad 2
    - ReLU - maxpool 2 - conv16@5x5 - ReLU - maxpool 2 - flatten - fc120 - ReLU - fc84 - ReLU -
    fc10, named as in ``LeNet5``; returns ``fn``."""
    model = call("your LeNet-5 builder", fn, rng=np.random.default_rng(0))
    if not isinstance(model, Sequential):
        raise ExerciseError(f"return the network as a Sequential of the layers, got "
                            f"{type(model).__name__}")
    got = list(model.layers.items())
    _check_distinct(got)
    x = np.random.default_rng(33).random((2, 1, 28, 28), dtype=np.float32)
    for index, spec in enumerate(LENET5_LAYERS):
        _check_order(index, got, spec)
        if index >= len(got):
            missing = ", ".join(s[0] for s in LENET5_LAYERS[index:])
            raise ExerciseError(f"the network stops after {len(got)} layers: missing: {missing}")
        x = _check_lenet5_layer(index, *got[index], spec, x)
    if len(got) > len(LENET5_LAYERS):
        extra = got[len(LENET5_LAYERS)][1]
        if isinstance(extra, layers.ReLU):
            raise ExerciseError("there is a ReLU after fc3: the ten scores go straight to the "
                                "softmax loss (a ReLU would turn every negative score into 0)")
        raise ExerciseError(f"extra layers after fc3 ({extra!r}, ...): LeNet-5 ends with fc3")
    for index, ((got_name, _), spec) in enumerate(zip(got, LENET5_LAYERS)):
        if got_name != spec[0]:
            raise ExerciseError(f"layer {index + 1} is named {got_name!r}: name it {spec[0]!r} "
                                f"as LeNet5 does, with (\"{spec[0]}\", layer) pairs; parameter "
                                f"names such as 'conv1.W' come from the layer names, and "
                                f"checkpoints are loaded by them")
    if not isinstance(model.loss_layer, layers.SoftmaxWithLoss):
        raise ExerciseError("train with SoftmaxWithLoss, Sequential's default loss")
    _check_seeds(fn, model)
    reference = LeNet5(rng=np.random.default_rng(1))
    for name, param in model.params.items():
        param[...] = reference.params[name]
    images = np.random.default_rng(34).random((3, 1, 28, 28), dtype=np.float32)
    labels = np.array([3, 0, 7])
    compare("the loss", model.loss(images, labels), reference.loss(images, labels),
            where="with LeNet5's weights")
    model.backward()
    reference.backward()
    for name, grad in reference.grads.items():
        compare(f"the gradient of {name}", model.grads[name], grad, where="with LeNet5's weights")
    correct("LeNet-5's twelve layers, their parameters and every activation's shape are right")
    return fn
