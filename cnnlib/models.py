"""Models: a ``Sequential`` stack of layers ending in a loss, and the two networks of the series."""

import numpy as np

from . import fused
from .training import predict
from .layers import Affine, Conv2D, Flatten, Layer, MaxPool2D, ReLU, SoftmaxWithLoss


class Sequential:
    """Layers applied in order, then ``SoftmaxWithLoss`` (or ``loss=``) for training.

    Layers are given as ``Layer`` objects or ``(name, Layer)`` pairs; unnamed layers are called
    ``"<type><index>"`` (e.g. ``"affine0"``). Parameters are named ``"<layer>.<key>"`` (``"conv1.W"``).
    """

    def __init__(self, *layers, loss=None):
        self.layers = {}
        for index, item in enumerate(layers):
            name, layer = item if isinstance(item, tuple) else (f"{type(item).__name__.lower()}{index}", item)
            if not isinstance(layer, Layer):
                raise TypeError(f"layers: expected Layer objects or (name, Layer) pairs, got {type(layer).__name__}")
            if name in self.layers:
                raise ValueError(f"layers: duplicate layer name {name!r}")
            self.layers[name] = layer
        self.loss_layer = SoftmaxWithLoss() if loss is None else loss

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
        """Mean loss of the batch ``x`` against labels ``y`` (ints ``(N,)`` or one-hot)."""
        return self.loss_layer.forward(self.forward(x), y)

    def backward(self, dout=1.0):
        """Backpropagate from the last ``loss`` call; fills every layer's ``grads``; returns dL/dx."""
        d = self.loss_layer.backward(dout)
        for layer in reversed(self.layers.values()):
            d = layer.backward(d)
        return d

    def predict(self, x, batch_size=1000):
        """Predicted class indices ``(N,)``, computed ``batch_size`` examples at a time."""
        return predict(self, x, batch_size)

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
    def grads(self):
        """``{name: gradient}`` from the last ``backward``, with the same keys as ``params``."""
        return {name: grad for name, _, grad in self.named_params()}

    def __repr__(self):
        lines = [f"  ({name}): {layer!r}" for name, layer in self.layers.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class TwoLayerNet(Sequential):
    """``Affine(input, hidden) -> ReLU -> Affine(hidden, output)`` with softmax cross-entropy loss."""

    def __init__(self, input_size=784, hidden_size=100, output_size=10, *, dtype=np.float32, rng=None):
        rng = np.random.default_rng(0) if rng is None else rng
        super().__init__(("affine1", Affine(input_size, hidden_size, dtype=dtype, rng=rng)),
                         ("relu1", ReLU()),
                         ("affine2", Affine(hidden_size, output_size, dtype=dtype, rng=rng)))


class LeNet5(Sequential):
    """LeNet-5 for 1x28x28 digits: conv6@5x5 pad 2 - ReLU - maxpool 2 - conv16@5x5 - ReLU - maxpool 2 -
    fc120 - ReLU - fc84 - ReLU - fc10. He initialisation; float32 by default. ``backward`` returns
    None: conv1 skips the gradient with respect to the images (pass ``input_grad=True`` to get it).

    Shapes for a batch of N: (N,1,28,28) -> (N,6,28,28) -> (N,6,14,14) -> (N,16,10,10) -> (N,16,5,5)
    -> (N,400) -> (N,120) -> (N,84) -> (N,10).

    ``forward`` and ``backward`` take a faster route to the same numbers: each conv -> ReLU -> pool
    block as one tuned step (:mod:`cnnlib.fused`: :func:`~cnnlib.fused.first_conv_relu_pool_forward`
    for the first, :func:`~cnnlib.fused.conv_relu_pool_forward` for the second). ``activations`` still
    goes layer by layer in the order above. Set ``fused = False`` (or ask for ``input_grad``) for the
    plain route.
    """

    FUSED_TAIL = ("flatten", "fc1", "relu3", "fc2", "relu4", "fc3")

    def __init__(self, *, num_classes=10, dtype=np.float32, rng=None, input_grad=False):
        rng = np.random.default_rng(0) if rng is None else rng
        super().__init__(("conv1", Conv2D(1, 6, 5, pad=2, dtype=dtype, rng=rng, input_grad=input_grad)),
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
                         ("fc3", Affine(84, num_classes, dtype=dtype, rng=rng)))
        self.fused = not input_grad

    def forward(self, x):
        """Scores ``(N, classes)``; the conv blocks run fused unless ``self.fused`` is False."""
        if not self.fused:
            return super().forward(x)
        conv1, conv2 = self.layers["conv1"], self.layers["conv2"]
        x, self._block1 = fused.first_conv_relu_pool_forward(x, conv1.params["W"], conv1.params["b"], conv1.pad)
        x, self._block2 = fused.conv_relu_pool_forward(x, conv2.params["W"], conv2.params["b"], conv2.pad)
        for name in self.FUSED_TAIL:
            x = self.layers[name].forward(x)
        return x

    def backward(self, dout=1.0):
        """Backpropagate from the last ``loss`` call and fill every layer's ``grads``; returns None
        (or dL/dx when built with ``input_grad=True``)."""
        if not self.fused:
            return super().backward(dout)
        d = self.loss_layer.backward(dout)
        for name in reversed(self.FUSED_TAIL):
            d = self.layers[name].backward(d)
        conv1, conv2 = self.layers["conv1"], self.layers["conv2"]
        d, conv2.grads["W"], conv2.grads["b"] = fused.conv_relu_pool_backward(d, self._block2)
        conv1.grads["W"], conv1.grads["b"] = fused.first_conv_relu_pool_backward(d, self._block1)
        return None
