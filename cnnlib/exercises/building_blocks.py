"""Checkers of notebook 11's exercises (modern building blocks): the 1x1 convolution as one matrix
product, global average pooling forward and backward, and the residual block's forward and backward.

Each checker calls the learner's function on fixed cases, compares with cnnlib's own layers and,
when the answer is wrong, names the typical mistake it matches; it prints ``correct: ...`` when all
agree.
"""

import numpy as np

from .. import conv
from ..blocks import Block, GlobalAvgPool2D
from ..layers import Conv2D, ReLU
from .diagnosis import ExerciseError, call, compare


def _unchanged(name, given, original):
    if not np.array_equal(given, original):
        raise ExerciseError(f"{name} changed its input array in place: compute a new array "
                            f"instead; the caller may still need it")


def _keeps_float32(name, fn, *args):
    """Call ``fn`` on float32 copies of ``args``; raise unless the result is float32."""
    got = call(name, fn, *[a.astype(np.float32) if isinstance(a, np.ndarray) else a
                           for a in args])
    dtype = getattr(got, "dtype", None)
    if dtype != np.float32:
        raise ExerciseError(f"{name} turned float32 input into {dtype}: keep the input's dtype "
                            "(look for a float64 array or constant that you create)")


def check_conv1x1(fn):
    """Check ``fn(x, w, b) -> out``: a 1x1 convolution, ``x`` ``(N, C, H, W)``, ``w``
    ``(F, C, 1, 1)``, ``b`` ``(F,)``, computed as one matrix product; ``out`` ``(N, F, H, W)``."""
    rng = np.random.default_rng(11)
    for shape, filters in (((2, 3, 4, 5), 4), ((1, 2, 3, 3), 2), ((3, 5, 2, 6), 3)):
        x = rng.standard_normal(shape)
        w = rng.standard_normal((filters, shape[1], 1, 1))
        b = rng.standard_normal(filters)
        n, c, h, width = shape
        where = f"on x {shape}, w {w.shape}"
        given = x.copy()
        got = call("your conv1x1", fn, given, w.copy(), b.copy())
        _unchanged("your conv1x1", given, x)
        matrix = w.reshape(filters, c)
        rows = x.transpose(0, 2, 3, 1).reshape(-1, c)                # one row per pixel
        compare("conv1x1", got, conv.conv2d_forward_naive(x, w, b), [
            ((rows @ matrix.T).reshape(n, h, width, filters).transpose(0, 3, 1, 2),
             "the bias is missing: add b (one value per output channel) to every pixel"),
            ((rows @ matrix.T + b).reshape(n, filters, h, width),
             ("the product has one row per pixel and one column per filter, (N*H*W, F): reshape "
             "it to (N, H, W, F), then move the channels forward with transpose(0, 3, 1, 2); "
             "reshaping straight to (N, F, H, W) scrambles pixels and channels")),
            ((x.reshape(-1, c) @ matrix.T + b).reshape(n, h, width, filters).transpose(0, 3, 1, 2),
             ("x.reshape(-1, C) does not give one row per pixel: the channels are axis 1, so move "
             "them last first (x.transpose(0, 2, 3, 1)), then reshape to (N*H*W, C)")),
            ((rows @ w.reshape(c, filters) + b).reshape(n, h, width, filters)
             .transpose(0, 3, 1, 2),
             ("w is (F, C, 1, 1): reshaping it to (C, F) does not transpose it, it regroups the "
              "numbers; look at which axis of w holds the input channels")),
        ], where)
    _keeps_float32("your conv1x1", fn, x, w, b)
    print("correct: a 1x1 convolution is one (N*H*W, C) @ (C, F) product plus the bias")


def check_global_avg_pool(forward, backward):
    """Check ``forward(x) -> out`` ``(N, C)`` and ``backward(dout, x_shape) -> dx``
    ``(N, C, H, W)``."""
    rng = np.random.default_rng(12)
    for shape in ((2, 3, 4, 5), (1, 2, 3, 3), (3, 1, 2, 7)):
        x = rng.standard_normal(shape)
        n, c, h, w = shape
        where = f"on x {shape}"
        given = x.copy()
        got = call("your global_avg_pool_forward", forward, given)
        _unchanged("your global_avg_pool_forward", given, x)
        reference = GlobalAvgPool2D()
        compare("global_avg_pool_forward", got, reference.forward(x), [
            (x.sum(axis=(2, 3)), "that is the sum of each channel: divide by H*W for the mean"),
            (x.mean(axis=(2, 3), keepdims=True), ("keep the output 2-D, (N, C): mean over axes "
             "(2, 3) without keepdims")),
            (x.max(axis=(2, 3)), "that is global MAX pooling: take the mean"),
        ], where)
        dout = rng.standard_normal((n, c))
        expected = reference.backward(dout)
        spread = np.broadcast_to(dout[:, :, None, None], shape)
        given = dout.copy()
        got = call("your global_avg_pool_backward", backward, given, shape)
        _unchanged("your global_avg_pool_backward", given, dout)
        compare("global_avg_pool_backward", got, expected, [
            (spread, ("each pixel contributed 1/(H*W) of its channel's mean, so it gets "
                      "dout / (H*W), not dout")),
            (spread / h, "divide by H*W, the number of pixels averaged, not by H"),
            (spread / w, "divide by H*W, the number of pixels averaged, not by W"),
            (dout[:, :, None, None] / (h * w), ("dx must have the input's shape (N, C, H, W): "
             "broadcast the (N, C, 1, 1) values over the image (np.broadcast_to, then copy)")),
            (np.full(shape, 1 / (h * w)), ("dx does not depend on dout: the chain rule multiplies "
             "the local gradient 1/(H*W) by the upstream gradient of the channel")),
            (spread / (n * c * h * w), ("the mean is over the H*W pixels of one channel of one "
             "image, so divide by H*W, not by the size of the whole batch")),
        ], where)
    _keeps_float32("your global_avg_pool_forward", forward, x)
    _keeps_float32("your global_avg_pool_backward", backward, dout, shape)
    print("correct: global average pooling averages each channel; backward spreads dout / (H*W)")


def _residual_case(seed):
    """A float64 block conv 3x3 - ReLU - conv 3x3 on 2 channels, and an input (2, 2, 4, 4)."""
    rng = np.random.default_rng(seed)
    block = Block(("conv1", Conv2D(2, 2, 3, pad=1, dtype=np.float64, rng=rng)), ("relu", ReLU()),
                  ("conv2", Conv2D(2, 2, 3, pad=1, dtype=np.float64, rng=rng)))
    return block, rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 2, 4, 4))


def check_residual(forward, backward):
    """Check ``forward(x, block) -> x + block(x)`` and ``backward(dout, block) -> dx`` (after
    ``forward``; it fills the block's ``grads``)."""
    for seed in (0, 1):
        block, x, dout = _residual_case(seed)
        reference, _, _ = _residual_case(seed)
        expected_out = x + reference.forward(x)
        given = x.copy()
        got = call("your residual_forward", forward, given, block)
        _unchanged("your residual_forward", given, x)
        compare("residual_forward", got, expected_out, [
            (np.maximum(expected_out, 0), ("that is relu(x + block(x)): residual_forward returns "
             "the sum itself; the ReLU after a block is a layer of its own")),
            (reference.forward(x), ("that is block(x) alone: a residual block adds its input, "
             "x + block(x)")),
            (x, "that is x alone: add the block's output, x + block.forward(x)"),
        ], f"(seed {seed})")
        through_block = reference.backward(dout)
        given = dout.copy()
        got = call("your residual_backward", backward, given, block)
        _unchanged("your residual_backward", given, dout)
        compare("residual_backward", got, through_block + dout, [
            (through_block, ("you forgot the identity path: the add node copies dout to BOTH its "
             "inputs, so x also receives dout directly: dx = block.backward(dout) + dout")),
            (dout, ("that is only the identity path: add the gradient through the block, "
             "block.backward(dout)")),
            (2 * dout, "the block's part is block.backward(dout), not another dout"),
            (2 * through_block, ("the add node copies dout to each input once: the block path "
             "receives dout, not 2 * dout")),
        ], f"(seed {seed})")
        for name, grad in reference.grads.items():
            compare(f"the block's grads[{name!r}]", block.grads[name], grad, [],
                     "(call block.backward(dout) so that the block's layers fill their grads)")
    print("correct: dx = dout + block.backward(dout): the identity path passes dout unchanged")
