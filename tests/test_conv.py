import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib.conv import (
    col2im,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
    conv_output_size,
    im2col,
)
from cnnlib.gradcheck import numerical_gradient, rel_error


def _random_case(rng):
    n, c, f = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 4)
    kh, kw = rng.integers(1, 5), rng.integers(1, 5)
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    h = int(rng.integers(max(1, kh - 2 * pad), 10))
    w = int(rng.integers(max(1, kw - 2 * pad), 10))
    x = rng.standard_normal((n, c, h, w))
    weights = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    return x, weights, b, stride, pad


@pytest.mark.parametrize("seed", range(40))
def test_fast_matches_naive_random_shapes(seed):
    x, w, b, stride, pad = _random_case(np.random.default_rng(seed))
    out_naive = conv2d_forward_naive(x, w, b, stride, pad)
    out, cache = conv2d_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out, out_naive, rtol=1e-10, atol=1e-12)
    dout = np.random.default_rng(seed + 100).standard_normal(out.shape)
    for fast, naive in zip(conv2d_backward(dout, cache),
                           conv2d_backward_naive(dout, x, w, stride, pad)):
        assert fast.shape == naive.shape
        np.testing.assert_allclose(fast, naive, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [
    # one matrix product per image (small filters, >= 256 pixels)
    ((3, 1, 20, 20), (4, 1, 3, 3), 1, 0),
    ((2, 2, 33, 31), (3, 2, 3, 3), 2, 1),
    ((2, 1, 28, 28), (6, 1, 5, 5), 1, 2),       # LeNet's conv1
    ((2, 6, 14, 14), (16, 6, 5, 5), 1, 0),      # LeNet's conv2: one product for the batch
])
def test_fast_matches_naive_on_larger_images(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
    out, cache = conv2d_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out,
                               conv2d_forward_naive(x, w, b, stride, pad), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for fast, naive in zip(conv2d_backward(dout, cache),
                           conv2d_backward_naive(dout, x, w, stride, pad)):
        np.testing.assert_allclose(fast, naive, rtol=1e-10, atol=1e-11)
    _, dw, db = conv2d_backward(dout, cache, input_grad=False)
    np.testing.assert_allclose(
        dw, conv2d_backward_naive(dout, x, w, stride, pad)[1], rtol=1e-10, atol=1e-11
    )


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 3),
       h=st.integers(1, 8), w=st.integers(1, 8),
       kh=st.integers(1, 4), kw=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_fast_matches_naive_property(n, c, f, h, w, kh, kw, stride, pad, seed):
    if kh > h + 2 * pad or kw > w + 2 * pad:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv2d_forward(np.zeros((n, c, h, w)), np.zeros((f, c, kh, kw)),
                           np.zeros(f), stride, pad)
        return
    rng = np.random.default_rng(seed)
    x, weights, b = (rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw)),
                     rng.standard_normal(f))
    out, cache = conv2d_forward(x, weights, b, stride, pad)
    np.testing.assert_allclose(
        out, conv2d_forward_naive(x, weights, b, stride, pad), rtol=1e-10, atol=1e-12
    )
    dout = rng.standard_normal(out.shape)
    for fast, naive in zip(conv2d_backward(dout, cache),
                           conv2d_backward_naive(dout, x, weights, stride, pad)):
        np.testing.assert_allclose(fast, naive, rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9),
       kh=st.integers(1, 3), kw=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_col2im_is_adjoint_of_im2col(n, c, h, w, kh, kw, stride, pad, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    cols = im2col(x, kh, kw, stride, pad)
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    assert cols.shape == (n * oh * ow, c * kh * kw)
    other = rng.standard_normal(cols.shape)
    back = col2im(other, x.shape, kh, kw, stride, pad)
    assert back.shape == x.shape
    assert np.sum(cols * other) == pytest.approx(np.sum(x * back), rel=1e-10, abs=1e-10)


def test_im2col_rows_are_receptive_fields():
    x = np.arange(2 * 2 * 4 * 4, dtype=np.float64).reshape(2, 2, 4, 4)
    cols = im2col(x, 3, 3, stride=1, pad=0)
    np.testing.assert_array_equal(cols[0], x[0, :, 0:3, 0:3].ravel())
    np.testing.assert_array_equal(cols[3], x[0, :, 1:4, 1:4].ravel())
    np.testing.assert_array_equal(cols[4], x[1, :, 0:3, 0:3].ravel())


def test_im2col_reads_views_and_read_only_inputs():
    x = np.arange(3 * 2 * 5 * 6, dtype=np.float64).reshape(2, 3, 5, 6)
    x = x.transpose(1, 0, 2, 3)[:, :, :, 1:]
    x.flags.writeable = False
    cols = im2col(x, 2, 3, stride=1, pad=1)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_array_equal(cols[0], padded[0, :, 0:2, 0:3].ravel())
    np.testing.assert_array_equal(cols[-1], padded[-1, :, -2:, -3:].ravel())


@pytest.mark.parametrize("x_shape, w_shape, pad",
                         [((0, 1, 28, 28), (6, 1, 5, 5), 2), ((0, 3, 6, 6), (4, 3, 3, 3), 0)])
def test_empty_batch(x_shape, w_shape, pad):
    out, cache = conv2d_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0]), 1, pad)
    assert out.shape[0] == 0 and im2col(np.zeros(x_shape), *w_shape[2:], 1,
                                        pad).shape == (0, np.prod(w_shape[1:]))
    dx, dw, db = conv2d_backward(out, cache)
    assert dx.shape == x_shape and np.all(dw == 0) and np.all(db == 0)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (3, 2)])
def test_functions_gradient_check(stride, pad):
    rng = np.random.default_rng(7)
    x, w, b = (rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, 3, 2)),
               rng.standard_normal(3))
    out, cache = conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    for analytic, array in ((dx, x), (dw, w), (db, b)):
        numeric = numerical_gradient(
            lambda _: np.sum(conv2d_forward(x, w, b, stride, pad)[0] * dout), array
        )
        assert rel_error(analytic, numeric) < 1e-7
    dx_n, dw_n, db_n = conv2d_backward_naive(dout, x, w, stride, pad)
    numeric = numerical_gradient(
        lambda _: np.sum(conv2d_forward_naive(x, w, b, stride, pad) * dout), w
    )
    assert rel_error(dw_n, numeric) < 1e-7


def test_float32_preserved():
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32)
               for s in ((2, 3, 8, 8), (4, 3, 3, 3), (4,)))
    out, cache = conv2d_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32 and im2col(x, 3, 3).dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv2d_backward(out, cache))
    assert conv2d_forward_naive(x, w, b).dtype == np.float32


def test_output_size():
    assert conv_output_size(28, 5, 1, 2) == 28
    assert conv_output_size(7, 3, 2, 1) == 4
    with pytest.raises(ValueError, match="kernel size 7 is larger than the padded input size 5"):
        conv_output_size(5, 7)


@pytest.mark.parametrize("x_shape, w_shape, b_shape, stride, pad, message", [
    ((2, 3, 8, 8), (4, 2, 3, 3), (4,), 1, 0, r"channel mismatch: x has 3 channels.*expects 2"),
    ((3, 8, 8), (4, 3, 3, 3), (4,), 1, 0, r"x: expected a 4-D array.*\(3, 8, 8\)"),
    ((2, 3, 8, 8), (4, 3, 3), (4,), 1, 0, r"w: expected a 4-D array"),
    ((2, 3, 4, 4), (4, 3, 7, 3), (4,), 1, 1,
     r"kernel height 7.*larger than the padded input height 6"),
    ((2, 3, 8, 8), (4, 3, 3, 3), (4,), 0, 0, r"stride: expected a positive integer, got 0"),
    ((2, 3, 8, 8), (4, 3, 3, 3), (4,), 1, -1, r"pad: expected a non-negative integer, got -1"),
    ((2, 3, 8, 8), (4, 3, 3, 3), (3,), 1, 0, r"b: expected shape \(4,\)"),
])
def test_bad_arguments(x_shape, w_shape, b_shape, stride, pad, message):
    args = np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape), stride, pad
    for function in (conv2d_forward, conv2d_forward_naive):
        with pytest.raises(ValueError, match=message):
            function(*args)


def test_backward_rejects_wrong_dout_shape():
    out, cache = conv2d_forward(np.zeros((2, 1, 5, 5)), np.zeros((3, 1, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError,
                       match=r"dout: expected the forward output's shape \(2, 3, 3, 3\)"):
        conv2d_backward(np.zeros((2, 3, 4, 4)), cache)
