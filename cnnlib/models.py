"""Models: a ``Sequential`` stack of layers ending in a loss, the two networks of the series, and
prediction in batches (:func:`scores`, :func:`predict`) in evaluation mode (:func:`in_mode`)."""

import contextlib

import numpy as np

from ._checks import positive_int
from .layers import Affine, Conv2D, Flatten, Layer, MaxPool2D, ReLU, SoftmaxWithLoss
from .tuned import fuse_layers


class Sequential:
    """Layers applied in order, then ``SoftmaxWithLoss`` (or ``loss=``) for training.

    Layers are given as ``Layer`` objects or ``(name, Layer)`` pairs; unnamed layers are called
    ``"<type><index>"`` (e.g. ``"affine0"``). Parameters are named ``"<layer>.<key>"``
    (``"conv1.W"``).

    ``input_grad``: whether :meth:`backward` returns dL/dx, the gradient with respect to the input
    (saliency maps need it). Without it backward returns None, and a first layer that can skip that
    work (``Conv2D``: its col2im) does.
    """

    def __init__(self, *layers, loss=None, input_grad=False):
        self.layers = {}
        for index, item in enumerate(layers):
            name, layer = (
                item if isinstance(item, tuple) else (f"{type(item).__name__.lower()}{index}", item)
            )
            if not isinstance(layer, Layer):
                raise TypeError("layers: expected Layer objects or (name, Layer) pairs, got "
                                f"{type(layer).__name__}")
            if name in self.layers:
                raise ValueError(f"layers: duplicate layer name {name!r}")
            self.layers[name] = layer
        self.loss_layer = SoftmaxWithLoss() if loss is None else loss
        self.input_grad = input_grad
        self.last_scores = None
        self.training = True    # training mode (set with train() / eval())

    @property
    def input_grad(self):
        """Whether :meth:`backward` returns dL/dx (settable; it tells the first layer too)."""
        return self._input_grad

    @input_grad.setter
    def input_grad(self, value):
        self._input_grad = bool(value)
        first = next(iter(self.layers.values()), None)
        if hasattr(first, "input_grad"):
            first.input_grad = self._input_grad

    def forward(self, x):
        """Scores ``(N, classes)`` for a batch ``x``."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def activations(self, x):
        """``{layer name: that layer's output}`` for input ``x``, in order."""
        outputs = {}
        for name, layer in self.layers.items():
            x = outputs[name] = layer.forward(x)
        return outputs

    def loss(self, x, y):
        """Mean loss of the batch ``x`` against labels ``y`` (ints ``(N,)`` or one-hot); the scores
        ``(N, classes)`` of this forward pass are kept in ``last_scores``."""
        self.last_scores = self.forward(x)
        return self.loss_layer.forward(self.last_scores, y)

    def backward(self, dout=1.0):
        """Backpropagate from the last :meth:`loss` call; fills every layer's ``grads``; returns
        dL/dx when the model was built with ``input_grad=True``, else None."""
        return self.backward_from_scores(self.loss_layer.backward(dout))

    def backward_from_scores(self, dscores):
        """Backpropagate ``dscores`` ``(N, classes)``, a gradient with respect to the scores of the
        last forward pass (e.g. one-hot, for the gradient of one class score); fills every layer's
        ``grads``; returns the gradient with respect to the input when ``input_grad`` is set, else
        None."""
        d = dscores
        for layer in reversed(self.layers.values()):
            d = layer.backward(d)
        return d if self.input_grad else None

    def predict(self, x, batch_size=1000):
        """Predicted class indices ``(N,)``, computed ``batch_size`` examples at a time."""
        return predict(self, x, batch_size)

    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on every layer; return the model.

        Only layers that behave differently in the two modes notice: batch norm uses the batch's
        statistics and updates its running averages in training, the running averages in evaluation;
        dropout drops units only in training. ``fit`` trains in training mode; ``evaluate``,
        ``predict`` and ``scores`` compute in evaluation mode and restore the mode they found."""
        self.training = bool(mode)
        for layer in self.layers.values():
            layer.training = self.training
        return self

    def eval(self):
        """Set evaluation mode on every layer (``train(False)``); return the model."""
        return self.train(False)

    def named_params(self):
        """Yield ``(name, param, grad)`` for every parameter, e.g. ``("conv1.W", W, dW)``."""
        for layer_name, layer in self.layers.items():
            for key, param in layer.params.items():
                yield f"{layer_name}.{key}", param, layer.grads[key]

    @property
    def params(self):
        """``{name: array}`` of every parameter (the arrays themselves, so updates act in place)."""
        return {name: param for name, param, _ in self.named_params()}

    @property
    def buffers(self):
        """``{name: array}`` of every layer's buffers (e.g. ``"bn1.running_mean"``): state that is
        not a parameter, saved and loaded with the parameters but never changed by an optimizer."""
        return {f"{layer_name}.{key}": value for layer_name, layer in self.layers.items()
                for key, value in getattr(layer, "buffers", {}).items()}

    @property
    def grads(self):
        """``{name: gradient}`` from the last ``backward``, with the same keys as ``params``."""
        return {name: grad for name, _, grad in self.named_params()}

    def __repr__(self):
        lines = [f"  ({name}): " + repr(layer).replace("\n", "\n  ")    # nested blocks indented
                 for name, layer in self.layers.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class TwoLayerNet(Sequential):
    """``Affine(input, hidden) -> ReLU -> Affine(hidden, output)`` with softmax cross-entropy
    loss."""

    def __init__(self, input_size=784, hidden_size=100, output_size=10, *,
                 dtype=np.float32, rng=None,
                 input_grad=False):
        rng = np.random.default_rng(0) if rng is None else rng
        super().__init__(("affine1", Affine(input_size, hidden_size, dtype=dtype, rng=rng)),
                         ("relu1", ReLU()),
                         ("affine2", Affine(hidden_size, output_size, dtype=dtype, rng=rng)),
                         input_grad=input_grad)


class LeNet5(Sequential):
    """LeNet-5 for 1x28x28 digits: conv6@5x5 pad 2 - ReLU - maxpool 2 - conv16@5x5 - ReLU - maxpool
    2 - fc120 - ReLU - fc84 - ReLU - fc10. He initialisation; float32 by default.

    Shapes for a batch of N: (N,1,28,28) -> (N,6,28,28) -> (N,6,14,14) -> (N,16,10,10) -> (N,16,5,5)
    -> (N,400) -> (N,120) -> (N,84) -> (N,10).

    ``tuned=True`` builds the same network on the tuned path: each conv -> ReLU -> pool block
    becomes one :class:`~cnnlib.tuned.ConvReLUPool` layer named after its convolution (``conv1``,
    ``conv2``), so parameter names, weights, losses and gradients are the same, and training runs
    about three times as fast (README); ``activations`` then lists the blocks instead of their three
    layers. ``input_grad=True``: ``backward`` returns dL/dx (it costs conv1 a col2im).
    """

    def __init__(self, *, num_classes=10, dtype=np.float32, rng=None,
                 input_grad=False, tuned=False):
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"dtype: expected a float dtype such as float32, got {np.dtype(dtype)}")
        rng = np.random.default_rng(0) if rng is None else rng
        layers = [("conv1", Conv2D(1, 6, 5, pad=2, dtype=dtype, rng=rng)),
                  ("relu1", ReLU()),
                  ("pool1", MaxPool2D(2)),
                  ("conv2", Conv2D(6, 16, 5, dtype=dtype, rng=rng)),
                  ("relu2", ReLU()),
                  ("pool2", MaxPool2D(2)),
                  ("flatten", Flatten()),
                  ("fc1", Affine(400, 120, dtype=dtype, rng=rng)),
                  ("relu3", ReLU()),
                  ("fc2", Affine(120, 84, dtype=dtype, rng=rng)),
                  ("relu4", ReLU()),
                  ("fc3", Affine(84, num_classes, dtype=dtype, rng=rng))]
        if tuned:
            layers = fuse_layers(layers)
        super().__init__(*layers, input_grad=input_grad)


@contextlib.contextmanager
def in_mode(model, training):
    """Run a block with ``model`` in training (``True``) or evaluation (``False``) mode, then
    restore the mode it had. Does nothing for a model without ``train()`` (and ``training``)."""
    if not hasattr(model, "train"):
        yield model
        return
    was = getattr(model, "training", True)
    model.train(training)
    try:
        yield model
    finally:
        model.train(was)


def scores(model, x, batch_size=1000):
    """``model.forward`` over ``x`` ``(N, ...)`` ``batch_size`` examples at a time, in evaluation
    mode (batch norm uses its running averages and updates nothing, dropout drops nothing); returns
    ``(N, classes)``. ValueError for a bad ``batch_size`` or an empty ``x``."""
    positive_int("batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("x: expected at least one example, got an empty array of shape "
                         f"{np.shape(x)}")
    with in_mode(model, False):
        return np.concatenate([model.forward(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])


def predict(model, x, batch_size=1000):
    """Predicted class indices ``(N,)`` for ``x`` ``(N, ...)``, computed in batches in evaluation
    mode."""
    return scores(model, x, batch_size).argmax(axis=1)
