"""Building blocks of modern CNNs: global average pooling, blocks of layers, residual connections.

* :class:`GlobalAvgPool2D`: the mean of each channel over the whole image,
  ``(N, C, H, W) -> (N, C)``; it replaces flattening followed by a large affine layer.
* :class:`Block`: named layers applied in order, used as one layer. Blocks nest (a stage is a block
  of residual blocks), and a model sees them as ordinary layers: a block's ``params``, ``grads`` and
  ``buffers`` are those of its layers under dotted names (``"block0.conv1.W"``), the arrays
  themselves, so optimizers update them in place; setting ``training`` sets it on every layer
  inside. In a :class:`~cnnlib.models.Sequential` the names get the block's own name in front
  (``"stage1.block0.conv1.W"``), so checkpoints, optimizers and ``fit`` work unchanged.
* :class:`Residual`: a block with a shortcut, ``x + block(x)``. Backward adds the two paths'
  gradients: the identity copies ``dout`` straight to the input (the add node of notebook 01), which
  is why a deep stack of residual blocks still passes a gradient to its first layers. When the block
  changes the shape, the shortcut is a projection (:func:`projection`: a 1x1 convolution, stride 2
  where the block halves the image, then batch norm): ``projection(x) + block(x)``.
* :func:`small_resnet`: a small ResNet for 28x28 images, or its plain twin without shortcuts.
"""

import numbers

import numpy as np

from .layers import Affine, Conv2D, Layer, ReLU
from .models import Sequential
from .norm import BatchNorm2D
from .tuned import fuse


class GlobalAvgPool2D(Layer):
    """Global average pooling: ``(N, C, H, W) -> (N, C)``, the mean of each channel's ``H x W``
    values; backward spreads each gradient evenly, ``dout / (H*W)`` at every pixel. No
    parameters."""

    def forward(self, x):
        """``(N, C)`` channel means of ``x`` ``(N, C, H, W)``, in x's dtype."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool2D: expected a 4-D input (N, C, H, W), "
                             f"got shape {x.shape}")
        self.x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        """dx ``(N, C, H, W)`` from ``dout`` ``(N, C)``."""
        n, c, h, w = self.x_shape
        if np.shape(dout) != (n, c):
            raise ValueError(f"GlobalAvgPool2D: dout: expected the forward output's shape "
                             f"{(n, c)}, got {np.shape(dout)}")
        share = dout / dout.dtype.type(h * w)
        return np.broadcast_to(share[:, :, None, None], self.x_shape).copy()


def _named(layers, owner):
    """``{name: layer}`` from Layer objects or ``(name, Layer)`` pairs; an unnamed layer is called
    ``"<type><index>"`` as in ``Sequential``."""
    named = {}
    for index, item in enumerate(layers):
        default = f"{type(item).__name__.lower()}{index}"
        name, layer = item if isinstance(item, tuple) else (default, item)
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner}: expected Layer objects or (name, Layer) pairs, "
                            f"got {type(layer).__name__}")
        if name in named:
            raise ValueError(f"{owner}: duplicate layer name {name!r}")
        named[name] = layer
    return named


class Block(Layer):
    """Layers applied in order, as one layer: ``Block(conv, bn, relu)`` or with names,
    ``Block(("conv1", Conv2D(...)), ("bn1", BatchNorm2D(...)))``.

    ``params``, ``grads`` and ``buffers`` are dicts of the layers' arrays under ``"<layer>.<key>"``
    (built on each access; the arrays are the layers' own). ``training`` is set on every layer
    inside.
    """

    def __init__(self, *layers):
        # no Layer.__init__: params, grads and buffers are views of the layers inside
        self.layers = _named(layers, type(self).__name__)
        self._training = True

    def children(self):
        """``(name, layer)`` pairs of every layer inside (a residual block adds its shortcut)."""
        return self.layers.items()

    def _collect(self, attribute):
        return {f"{name}.{key}": value for name, layer in self.children()
                for key, value in getattr(layer, attribute, {}).items()}

    @property
    def params(self):
        """``{"<layer>.<key>": array}`` of every parameter inside."""
        return self._collect("params")

    @property
    def grads(self):
        """``{"<layer>.<key>": gradient}``, the same keys as ``params``."""
        return self._collect("grads")

    @property
    def buffers(self):
        """``{"<layer>.<key>": array}`` of every buffer inside (batch norm's running averages)."""
        return self._collect("buffers")

    @property
    def input_grad(self):
        """Whether backward returns dx: its first layer's setting (True when that layer has none).
        Setting it sets the first layer's, so a first convolution skips the gradient for the
        images when the model needs none (``Sequential(input_grad=False)``)."""
        return getattr(next(iter(self.layers.values()), None), "input_grad", True)

    @input_grad.setter
    def input_grad(self, value):
        first = next(iter(self.layers.values()), None)
        if hasattr(first, "input_grad"):
            first.input_grad = bool(value)

    @property
    def training(self):
        """Training mode (True) or evaluation mode; setting it sets every layer inside."""
        return self._training

    @training.setter
    def training(self, mode):
        self._training = bool(mode)
        for _, layer in self.children():
            layer.training = self._training

    def forward(self, x):
        """The layers applied to ``x`` in order."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, dout):
        """dx from ``dout`` through the layers in reverse order; fills their ``grads``."""
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return dout

    def __repr__(self):
        lines = [f"  ({name}): " + repr(layer).replace("\n", "\n  ")
                 for name, layer in self.children()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Residual(Block):
    """A residual block: ``x + block(x)``, or ``shortcut(x) + block(x)`` with a projection shortcut.

    ``layers``: the block, as for :class:`Block`. ``shortcut``: None (the identity; the block must
    keep the shape of its input) or a layer that maps the input to the block's output shape, usually
    :func:`projection`. Its parameters are named ``"shortcut.<key>"``.

    Backward: ``dx = block.backward(dout) + dout`` (identity) or ``+ shortcut.backward(dout)``.
    """

    def __init__(self, *layers, shortcut=None):
        super().__init__(*layers)
        if shortcut is not None and not isinstance(shortcut, Layer):
            raise TypeError(f"Residual: shortcut: expected a Layer or None, "
                            f"got {type(shortcut).__name__}")
        if "shortcut" in self.layers:
            raise ValueError("Residual: the name 'shortcut' is taken by the shortcut; "
                             "rename that layer")
        self.shortcut = shortcut

    @property
    def input_grad(self):
        """Always True: the sum ``shortcut(x) + block(x)`` needs both paths' dx."""
        return True

    @input_grad.setter
    def input_grad(self, value):
        pass

    def children(self):
        """The block's layers, then ``("shortcut", layer)`` when there is a projection."""
        extra = [] if self.shortcut is None else [("shortcut", self.shortcut)]
        return [*self.layers.items(), *extra]

    def forward(self, x):
        """``x + block(x)`` (or ``shortcut(x) + block(x)``), shaped like ``block(x)``."""
        x = np.asarray(x)
        out = super().forward(x)
        if self.shortcut is None:
            if out.shape != x.shape:
                raise ValueError(
                    f"Residual: the block maps its input of shape {x.shape} to shape "
                    f"{out.shape}, but x + block(x) needs the input's shape {x.shape}; give a "
                    f"projection shortcut "
                    f"(shortcut=projection({x.shape[1]}, {out.shape[1]}, stride=...))")
            return x + out
        try:
            skip = self.shortcut.forward(x)
        except ValueError as err:
            raise ValueError(f"Residual: the projection shortcut does not fit the input of shape "
                             f"{x.shape}: {err}") from err
        if skip.shape != out.shape:
            raise ValueError(f"Residual: the projection shortcut gives shape {skip.shape}, "
                             f"expected the block's output shape {out.shape} "
                             f"(input shape {x.shape})")
        return skip + out

    def backward(self, dout):
        """dx: the block's input gradient plus the shortcut's (the identity copies ``dout``)."""
        dskip = dout if self.shortcut is None else self.shortcut.backward(dout)
        return super().backward(dout) + dskip


def projection(in_channels, out_channels, stride=2, *, batch_norm=True, dtype=np.float32, rng=None):
    """The projection shortcut of a residual block that changes the shape: a 1x1 convolution
    ``in_channels -> out_channels`` with ``stride``, ``(N, C, H, W) -> (N, F, ceil(H/s),
    ceil(W/s))``, followed by batch norm when ``batch_norm``. A :class:`Block` with layers ``conv``
    (and ``bn``)."""
    layers = [("conv", Conv2D(in_channels, out_channels, 1, stride=stride, dtype=dtype, rng=rng))]
    if batch_norm:
        layers.append(("bn", BatchNorm2D(out_channels, dtype=dtype)))
    return Block(*layers)


def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"small_resnet: {name}: expected a positive integer, got {value!r}")
    return int(value)


def basic_block(in_channels, out_channels, stride=1, *, shortcut=True, dtype=np.float32, rng=None):
    """conv1 3x3 (``stride``) - bn1 - relu1 - conv2 3x3 - bn2, as a :class:`Residual`
    (``shortcut=True``; a :func:`projection` when the shape changes) or a plain :class:`Block`
    (``shortcut=False``).
    ``(N, in_channels, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride))``."""
    body = [("conv1", Conv2D(in_channels, out_channels, 3, stride=stride, pad=1, dtype=dtype,
                             rng=rng)),
            ("bn1", BatchNorm2D(out_channels, dtype=dtype)),
            ("relu1", ReLU()),
            ("conv2", Conv2D(out_channels, out_channels, 3, pad=1, dtype=dtype, rng=rng)),
            ("bn2", BatchNorm2D(out_channels, dtype=dtype))]
    if not shortcut:
        return Block(*body)
    changes = stride != 1 or in_channels != out_channels
    if not changes:
        return Residual(*body)
    return Residual(*body, shortcut=projection(in_channels, out_channels, stride, dtype=dtype,
                                               rng=rng))


def small_resnet(widths=(16, 32, 64), blocks_per_stage=1, *, shortcuts=True, in_channels=1,
                 num_classes=10, dtype=np.float32, rng=None, input_grad=False, tuned=False):
    """A small ResNet (``shortcuts=True``) or its plain twin (``shortcuts=False``), as a
    ``Sequential``.

    ``stem`` (conv 3x3 pad 1 to ``widths[0]`` channels - bn - relu), then one stage per width:
    ``stage<i>`` holds ``blocks_per_stage`` basic blocks (``block<j>``, see :func:`basic_block`),
    each followed by a ReLU (``relu<j>``); the first block of every stage but the first halves the
    image with stride-2 convolutions. Then ``pool`` (:class:`GlobalAvgPool2D`) and ``fc`` (one
    Affine).
    Parameter names: ``"stage1.block0.conv1.W"``, ``"stage2.block0.shortcut.conv.W"``, ...

    Shapes for 28x28 images and the default widths: (N,1,28,28) -> stem (N,16,28,28) -> stage1
    (N,16,28,28) -> stage2 (N,32,14,14) -> stage3 (N,64,7,7) -> pool (N,64) -> fc (N,num_classes).
    The plain twin has the same layers and names, without the shortcuts and their projections.

    ``tuned=True`` builds the same network on the tuned path (:func:`cnnlib.tuned.fuse`: the
    convolutions and batch norms inside the blocks computed channel-major, the same parameter names
    and numbers).
    """
    widths = tuple(_positive_int("widths", width) for width in widths)
    if not widths:
        raise ValueError("small_resnet: widths: expected at least one stage width, got ()")
    blocks_per_stage = _positive_int("blocks_per_stage", blocks_per_stage)
    rng = np.random.default_rng(0) if rng is None else rng
    stem = Conv2D(in_channels, widths[0], 3, pad=1, dtype=dtype, rng=rng)
    layers = [("stem", Block(("conv", stem), ("bn", BatchNorm2D(widths[0], dtype=dtype)),
                             ("relu", ReLU())))]
    channels = widths[0]
    for stage, width in enumerate(widths, start=1):
        blocks = []
        for index in range(blocks_per_stage):
            stride = 2 if stage > 1 and index == 0 else 1
            blocks += [(f"block{index}", basic_block(channels, width, stride, shortcut=shortcuts,
                                                     dtype=dtype, rng=rng)),
                       (f"relu{index}", ReLU())]
            channels = width
        layers.append((f"stage{stage}", Block(*blocks)))
    layers += [("pool", GlobalAvgPool2D()),
               ("fc", Affine(channels, num_classes, dtype=dtype, rng=rng))]
    model = Sequential(*layers, input_grad=input_grad)
    return fuse(model) if tuned else model
