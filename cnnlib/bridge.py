"""From cnnlib to PyTorch and back: the same network as a ``torch.nn`` module (notebook 14).

``to_torch(model)`` builds a ``torch.nn.Sequential`` whose children carry the names of the cnnlib
layers (``conv1``, ``fc1``, ...) and hold copies of their parameters and buffers;
``from_torch(module, model)`` copies a module's values back into the cnnlib model. torch is imported
inside the functions, so ``import cnnlib`` never needs it (``pip install -r
requirements-torch.txt``).

What is converted, layer by layer, is a table (:data:`CONVERTERS`): for each cnnlib layer type, how
to build its torch module and where each cnnlib parameter or buffer lives in it, with the layout
change where the two differ. A new layer type is one more entry.

Where the two libraries differ, and how the bridge handles it:

* ``Affine`` stores ``W`` as ``(in, out)`` for ``y = x @ W + b``; ``nn.Linear`` stores ``weight``
  as ``(out, in)`` for ``y = x @ weight.T + bias``: the bridge transposes (and copies). ``Affine``
  also flattens an image batch itself; ``nn.Linear`` needs ``(N, in)`` (LeNet-5 has a ``Flatten``).
* ``Conv2D`` ``W`` ``(F, C, KH, KW)`` is ``nn.Conv2d``'s ``weight`` as it is (cross-correlation in
  both); ``pad`` is ``padding``.
* Batch norm: cnnlib updates ``running = momentum * running + (1 - momentum) * batch`` with
  ``momentum=0.9``; torch ``running = (1 - momentum) * running + momentum * batch`` with
  ``momentum=0.1``: the bridge sets torch's momentum to ``1 - momentum``. ``eps`` is added to the
  variance inside the square root in both. One difference remains: in training both normalise with
  the biased batch variance (dividing by ``m``, the values per channel), but torch puts the
  *unbiased* variance (dividing by ``m - 1``) into ``running_var``, cnnlib the biased one. Outputs
  and gradients in training agree, and so do outputs in evaluation from the same running statistics;
  after a training step in each library ``running_var`` differs by ``(1 - momentum) * var * (m/(m-1)
  - 1)``.
* ``Dropout``: the same ``p`` and inverted scaling, but each library draws its own masks, so only
  evaluation (the identity) agrees value for value.
* ``ConvReLUPool`` (the tuned path's fused block) becomes ``nn.Sequential(Conv2d, ReLU, MaxPool2d)``
  under the block's name, so ``conv1.W`` is ``conv1.0.weight``.
* Max pooling with ties: both send a window's gradient to its first maximum in row-major order
  (torch's CPU kernel; the tests check it).
* Notebook 11's blocks (:mod:`cnnlib.blocks`) nest: a ``Block`` becomes an ``nn.Sequential`` of its
  converted layers under their own names, a ``Residual`` a :class:`TorchResidual` (its body's layers
  in order, then ``shortcut`` when there is a projection; forward ``x + body(x)`` or ``shortcut(x) +
  body(x)``, nothing after the sum: the ReLU that follows is a layer of its own in both), so the
  dotted cnnlib name ``stage1.block0.conv1.W`` is ``stage1.block0.conv1.weight`` and
  ``stage2.block0.shortcut.bn.gamma`` is ``stage2.block0.shortcut.bn.weight``. ``GlobalAvgPool2D``
  is ``nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())``.

dtype follows the model: float64 parameters give a float64 module. Mode follows the model
(``model.training``).
"""

from dataclasses import dataclass, field

import numpy as np

from . import norm
from .blocks import Block, GlobalAvgPool2D, Residual
from .layers import Affine, AvgPool2D, Conv2D, Flatten, MaxPool2D, ReLU, Sigmoid
from .tuned import CNHWBatchNorm2D, CNHWConv2D, ConvReLUPool, TunedConv2D

__all__ = ["CONVERTERS", "Converter", "from_torch", "to_torch", "torch_grads", "torch_parameters"]
# TorchResidual (the torch module of a Residual) is built on first use: see __getattr__ below


def _same(array):
    return array


def _transpose(array):
    return array.T


@dataclass(frozen=True)
class Converter:
    """How one cnnlib layer type becomes a torch module.

    ``build(layer, nn) -> torch module`` (``nn`` is ``torch.nn``), with fresh parameters that the
    bridge then overwrites; ``params`` and ``buffers``: ``{cnnlib key: torch path}`` (the path
    relative to the module, e.g. ``"weight"`` or ``"0.weight"``); ``layouts``: ``{cnnlib key:
    (to torch, to cnnlib)}`` array functions for keys whose layout differs (default: unchanged).
    ``children``: for a layer that holds layers (a ``Block``), ``children(layer) -> (name, layer)
    pairs``; the bridge converts each one through the table and adds it to the built module under
    its name, so parameter names nest (``"block0.conv1.W"`` is ``block0.conv1.weight``).
    """

    build: object
    params: dict = field(default_factory=dict)
    buffers: dict = field(default_factory=dict)
    layouts: dict = field(default_factory=dict)
    children: object = None

    def layout(self, key):
        """``(to torch, to cnnlib)`` for the cnnlib key ``key``."""
        return self.layouts.get(key, (_same, _same))


def _conv(layer, nn):
    f, c, kh, kw = layer.params["W"].shape
    return nn.Conv2d(c, f, (kh, kw), stride=layer.stride, padding=layer.pad)


def _pool(kind):
    return lambda layer, nn: getattr(nn, kind)(layer.size, stride=layer.stride or layer.size)


def _batch_norm(kind):
    return lambda layer, nn: getattr(nn, kind)(layer.num_channels, eps=layer.eps,
                                               momentum=1 - layer.momentum)


_TORCH_CLASSES = {}


def _torch_residual():
    """The class :class:`TorchResidual`, defined on first use (it subclasses ``torch.nn.Module``,
    and torch is imported only when needed)."""
    if "TorchResidual" not in _TORCH_CLASSES:
        from torch import nn

        class TorchResidual(nn.Module):
            """A cnnlib ``Residual`` in torch: ``x + body(x)``, or ``shortcut(x) + body(x)`` when
            there is a child named ``shortcut``; the body is every other child, in order."""

            def forward(self, x):
                out = x
                for name, child in self.named_children():
                    if name != "shortcut":
                        out = child(out)
                shortcut = self._modules.get("shortcut")
                return (x if shortcut is None else shortcut(x)) + out

            def extra_repr(self):
                skip = "x" if self._modules.get("shortcut") is None else "shortcut(x)"
                return f"{skip} + body(x)"

        TorchResidual.__module__, TorchResidual.__qualname__ = __name__, "TorchResidual"
        _TORCH_CLASSES["TorchResidual"] = TorchResidual
    return _TORCH_CLASSES["TorchResidual"]


def __getattr__(name):
    # cnnlib.bridge.TorchResidual without importing torch at import time (pickle finds it here)
    if name == "TorchResidual":
        return _torch_residual()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _children(layer):
    return layer.children()


WEIGHT_BIAS = {"W": "weight", "b": "bias"}
AFFINE_PARAMS = {"gamma": "weight", "beta": "bias"}
RUNNING = {"running_mean": "running_mean", "running_var": "running_var"}

CONVERTERS = {
    ReLU: Converter(lambda layer, nn: nn.ReLU()),
    Sigmoid: Converter(lambda layer, nn: nn.Sigmoid()),
    Flatten: Converter(lambda layer, nn: nn.Flatten()),
    MaxPool2D: Converter(_pool("MaxPool2d")),
    AvgPool2D: Converter(_pool("AvgPool2d")),
    Affine: Converter(lambda layer, nn: nn.Linear(layer.in_features, layer.out_features),
                      WEIGHT_BIAS, layouts={"W": (_transpose, _transpose)}),
    Conv2D: Converter(_conv, WEIGHT_BIAS),
    TunedConv2D: Converter(_conv, WEIGHT_BIAS),
    CNHWConv2D: Converter(_conv, WEIGHT_BIAS),
    ConvReLUPool: Converter(lambda layer, nn: nn.Sequential(_conv(layer.conv, nn), nn.ReLU(),
                                                            nn.MaxPool2d(2)),
                            {"W": "0.weight", "b": "0.bias"}),
    norm.BatchNorm1D: Converter(_batch_norm("BatchNorm1d"), AFFINE_PARAMS, RUNNING),
    norm.BatchNorm2D: Converter(_batch_norm("BatchNorm2d"), AFFINE_PARAMS, RUNNING),
    CNHWBatchNorm2D: Converter(_batch_norm("BatchNorm2d"), AFFINE_PARAMS, RUNNING),
    norm.GroupNorm: Converter(lambda layer, nn: nn.GroupNorm(layer.num_groups, layer.num_channels,
                                                             eps=layer.eps), AFFINE_PARAMS),
    norm.Dropout: Converter(lambda layer, nn: nn.Dropout(layer.p)),
    GlobalAvgPool2D: Converter(lambda layer, nn: nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                                               nn.Flatten())),
    Block: Converter(lambda layer, nn: nn.Sequential(), children=_children),
    Residual: Converter(lambda layer, nn: _torch_residual()(), children=_children),
}
"""``{cnnlib layer type: Converter}``; looked up by exact type, so a subclass that may compute
something else is refused until it has an entry of its own."""


def _converter(name, layer):
    converter = CONVERTERS.get(type(layer))
    if converter is None:
        known = ", ".join(sorted(cls.__name__ for cls in CONVERTERS))
        raise TypeError(f"model: layer {name!r} is a {type(layer).__name__}, which the bridge does "
                        f"not know how to convert; it knows {known} (add an entry to "
                        f"cnnlib.bridge.CONVERTERS)")
    return converter


def _check_model(model):
    if not hasattr(model, "layers") or not isinstance(model.layers, dict):
        raise TypeError(f"model: expected a cnnlib Sequential (with a layers dict), got "
                        f"{type(model).__name__}")


def _entries(model, module=None):
    """Yield ``(cnnlib layer name, layer, converter, torch submodule or None)`` for every layer,
    the layers inside blocks too (after their block, under dotted names: ``"stage1.block0"``)."""
    _check_model(model)
    yield from _walk(model.layers.items(), module, "")


def _walk(items, module, prefix):
    for name, layer in items:
        converter = _converter(prefix + name, layer)
        child = None if module is None else _submodule(module, name, prefix)
        yield prefix + name, layer, converter, child
        if converter.children is not None:
            yield from _walk(converter.children(layer), child, f"{prefix}{name}.")


def _submodule(module, name, prefix=""):
    try:
        return module.get_submodule(name)
    except AttributeError:
        raise ValueError(f"module: has no submodule {prefix + name!r} for the cnnlib layer of that "
                         "name; expected a module built by to_torch from a model like this "
                         "one") from None


def _build(name, layer, nn):
    """The torch module of ``layer`` (called ``name`` in the model), its children converted."""
    converter = _converter(name, layer)
    module = converter.build(layer, nn)
    for child_name, child in (converter.children(layer) if converter.children else ()):
        module.add_module(child_name, _build(f"{name}.{child_name}", child, nn))
    return module


def _model_dtype(model):
    _check_model(model)
    dtypes = {np.asarray(p).dtype for p in model.params.values()}
    if len(dtypes) > 1:
        raise ValueError(f"model: expected one parameter dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop() if dtypes else np.dtype(np.float32)


def to_torch(model):
    """A ``torch.nn.Sequential`` that computes what the cnnlib ``model`` computes.

    ``model``: a cnnlib ``Sequential`` (``LeNet5`` plain or tuned, ``TwoLayerNet``,
    ``small_resnet``, ...) of layers in :data:`CONVERTERS`, blocks nested at any depth. Children
    are named like the cnnlib layers (a block's layers inside its module); parameters and buffers
    are copies (the model is never changed, and later changes to either side do not reach the
    other), in the model's dtype; the module is in training mode if the model is. Input ``(N, C, H,
    W)`` (or ``(N, features)`` for a model starting with an Affine), output the scores ``(N,
    classes)`` (the loss, softmax cross-entropy, is ``torch.nn.functional.cross_entropy``). A layer
    type the bridge does not know is a TypeError naming the layer (dotted inside a block).
    """
    import torch
    from torch import nn

    dtype = getattr(torch, _model_dtype(model).name)
    module = nn.Sequential()
    _check_model(model)
    for name, layer in model.layers.items():
        module.add_module(name, _build(name, layer, nn))
    module.to(dtype)
    with torch.no_grad():
        for _, array, tensor, (to_torch_layout, _) in _pairs(module, model):
            tensor.copy_(torch.from_numpy(np.array(to_torch_layout(array))))
    return module.train(bool(getattr(model, "training", True)))


def _tensor(module, path):
    owner, _, attr = path.rpartition(".")
    try:
        return getattr(module.get_submodule(owner) if owner else module, attr)
    except AttributeError:
        raise ValueError(
            f"module: {type(module).__name__} has no {path!r}; expected a module built "
            f"by to_torch from a model like this one (a tuned model's blocks and a "
            f"plain model's layers differ)"
        ) from None


def _pairs(module, model):
    """Yield ``(cnnlib name, cnnlib array, torch tensor, (to torch, to cnnlib) layout functions)``
    for every parameter and buffer the table maps."""
    for name, layer, converter, child in _entries(model, module):
        arrays = {**layer.params, **getattr(layer, "buffers", {})}
        for key, path in {**converter.params, **converter.buffers}.items():
            yield f"{name}.{key}", arrays[key], _tensor(child, path), converter.layout(key)


def from_torch(module, model):
    """Copy the parameters and buffers of ``module`` (built by :func:`to_torch` from a model like
    ``model``, possibly trained since) into ``model``'s arrays, in place and in the model's dtype;
    return ``model``. Checks every shape first and says which parameter differs; changes nothing
    unless all match."""
    values = {}
    for name, array, tensor, (_, to_cnnlib) in _pairs(module, model):
        value = to_cnnlib(tensor.detach().cpu().numpy())
        if value.shape != array.shape:
            raise ValueError(f"module: {name} has shape {value.shape} in cnnlib's layout, expected "
                             f"{array.shape} as in the model")
        values[name] = (array, value)
    for array, value in values.values():
        np.copyto(array, value, casting="unsafe")
    return model


def _parameter_names(model):
    _check_model(model)
    return {name for name, _, _ in model.named_params()}


def torch_parameters(module, model):
    """``{cnnlib parameter name: torch Parameter}`` (``"fc1.W"`` -> ``module.fc1.weight``), e.g.
    to build an optimizer's parameter groups the way cnnlib names them."""
    names = _parameter_names(model)
    return {name: tensor for name, _, tensor, _ in _pairs(module, model) if name in names}


def torch_grads(module, model):
    """``{cnnlib parameter name: gradient as a numpy array in cnnlib's layout}`` from the ``.grad``
    of ``module``'s parameters after ``loss.backward()``: comparable with ``model.grads``."""
    grads, names = {}, _parameter_names(model)
    for name, _, tensor, (_, to_cnnlib) in _pairs(module, model):
        if name in names:
            if tensor.grad is None:
                raise ValueError(f"module: {name} has no gradient; call loss.backward() first")
            grads[name] = to_cnnlib(tensor.grad.detach().cpu().numpy())
    return grads
