"""Layers of the tuned path: :class:`TunedConv2D` and the fused block :class:`ConvReLUPool`, and
:func:`fuse`, which rewrites a stack of plain layers to use them. They share their parameter arrays
(and names) with the plain layers they are made from, so weights move freely between the two routes.
"""

from ..layers import Conv2D, Layer, MaxPool2D, ReLU
from . import blocks, conv

__all__ = ["TunedConv2D", "ConvReLUPool", "fuse_layers"]


class TunedConv2D(Conv2D):
    """:class:`~cnnlib.layers.Conv2D` computed by the tuned pair :func:`cnnlib.tuned.conv2d_forward`
    /
    :func:`~cnnlib.tuned.conv2d_backward`: the same numbers, faster. Build it like ``Conv2D``, or
    from an existing layer with :meth:`sharing`."""

    forward_fn = staticmethod(conv.conv2d_forward)
    backward_fn = staticmethod(conv.conv2d_backward)

    @classmethod
    def sharing(cls, layer):
        """A TunedConv2D with ``layer``'s settings and the very same ``params``/``grads`` dicts."""
        tuned = cls.__new__(cls)
        tuned.__dict__.update(vars(layer))
        return tuned


class ConvReLUPool(Layer):
    """``conv -> ReLU -> 2x2 max pool`` as one tuned step (:mod:`cnnlib.tuned.blocks`), for a
    stride-1
    :class:`~cnnlib.layers.Conv2D` ``conv`` whose ``params``/``grads`` dicts it shares.

    Input ``(N, C, H, W)``, output ``(N, F, OH/2, OW/2)`` (the convolution's output OH x OW must be
    even). ``input_grad`` (from ``conv``) says whether backward returns dx or None. Without dx and
    on at most 4 input channels it takes the space-to-depth route, else the general one.

    In training mode the layer keeps its large intermediate arrays in ``workspace`` and reuses them
    from one batch to the next (see :func:`cnnlib.tuned.conv.scratch`); in evaluation mode it
    empties it and allocates afresh. Copies and pickles of the layer start with an empty one.
    """

    def __init__(self, conv_layer):
        super().__init__()
        if not isinstance(conv_layer, Conv2D) or conv_layer.stride != 1:
            raise ValueError(f"conv_layer: expected a stride-1 Conv2D, got {conv_layer!r}")
        self.conv = conv_layer
        self.params, self.grads = conv_layer.params, conv_layer.grads
        self.input_grad = conv_layer.input_grad
        self.workspace = {}

    def __getstate__(self):    # copy.copy and pickle: a workspace of its own, empty
        return dict(vars(self), workspace={})

    def forward(self, x):
        w, b = self.params["W"], self.params["b"]
        if not self.input_grad and w.shape[1] <= 4:
            forward, self.backward_fn = (
                blocks.first_conv_relu_pool_forward,
                blocks.first_conv_relu_pool_backward,
            )
        else:
            forward, self.backward_fn = (
                blocks.conv_relu_pool_forward,
                blocks.conv_relu_pool_backward,
            )
        if not self.training:
            self.workspace.clear()
        out, self.cache = forward(x, w, b, self.conv.pad,
                                  self.workspace if self.training else None)
        return out

    def backward(self, dout):
        dx, self.grads["W"], self.grads["b"] = self.backward_fn(dout, self.cache, self.input_grad)
        return dx

    def __repr__(self):
        return f"ConvReLUPool({self.conv!r})"


def _is_block(layers):
    conv_layer, relu, pool = layers
    return (isinstance(conv_layer, Conv2D) and conv_layer.stride == 1 and type(relu) is ReLU
            and type(pool) is MaxPool2D and pool.size == 2 and pool.stride in (None, 2))


def fuse_layers(named_layers):
    """``[(name, layer), ...]`` with every ``Conv2D -> ReLU -> MaxPool2D(2)`` triple replaced by one
    ``(conv name, ConvReLUPool)`` and every other ``Conv2D`` by a :class:`TunedConv2D`; parameters
    are shared, not copied, so their names (``conv1.W``) and values stay."""
    named_layers = list(named_layers)
    fused, i = [], 0
    while i < len(named_layers):
        name, layer = named_layers[i]
        if i + 3 <= len(named_layers) and _is_block([item[1] for item in named_layers[i:i + 3]]):
            fused.append((name, ConvReLUPool(layer)))
            i += 3
            continue
        if type(layer) is Conv2D:
            layer = TunedConv2D.sharing(layer)
        fused.append((name, layer))
        i += 1
    return fused
