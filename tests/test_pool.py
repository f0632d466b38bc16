import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib.gradcheck import numerical_gradient, rel_error
from cnnlib.pool import (
    avg_pool2d_backward,
    avg_pool2d_backward_naive,
    avg_pool2d_forward,
    avg_pool2d_forward_naive,
    first_max,
    max_pool2d_backward,
    max_pool2d_backward_naive,
    max_pool2d_forward,
    max_pool2d_forward_naive,
)

KINDS = {
    "max": (max_pool2d_forward, max_pool2d_backward,
            max_pool2d_forward_naive, max_pool2d_backward_naive),
    "avg": (avg_pool2d_forward, avg_pool2d_backward,
            avg_pool2d_forward_naive, avg_pool2d_backward_naive),
}


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9),
       w=st.integers(1, 9), size=st.integers(1, 4),
       stride=st.one_of(st.none(), st.integers(1, 3)), seed=st.integers(0, 2**16))
def test_fast_matches_naive(kind, n, c, h, w, size, stride, seed):
    forward, backward, forward_naive, backward_naive = KINDS[kind]
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    if size > min(h, w):
        with pytest.raises(ValueError, match=f"pool size {size} is larger"):
            forward(x, size, stride)
        return
    out, cache = forward(x, size, stride)
    np.testing.assert_allclose(out, forward_naive(x, size, stride), rtol=1e-10)
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    np.testing.assert_allclose(backward(dout, cache),
                               backward_naive(dout, x, size, stride), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, size, stride", [((2, 3, 6, 6), 2, None), ((2, 2, 7, 5), 2, None),
                                                 ((1, 2, 7, 7), 3, 2), ((2, 1, 5, 6), 2, 1)])
def test_gradient_check(kind, shape, size, stride):
    forward, backward, forward_naive, backward_naive = KINDS[kind]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    out, cache = forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradient(lambda v: np.sum(forward(v, size, stride)[0] * dout), x)
    assert rel_error(backward(dout, cache), numeric) < 1e-7
    assert rel_error(backward_naive(dout, x, size, stride), numeric) < 1e-7


@pytest.mark.parametrize("stride", [None, 1])
def test_max_ties_route_to_one_input(stride):
    x = np.ones((1, 1, 4, 4))
    out, cache = max_pool2d_forward(x, 2, stride)
    dx = max_pool2d_backward(np.ones_like(out), cache)
    assert dx.sum() == out.size
    assert dx[0, 0, 0, 0] == (1 if stride is None else 1)
    np.testing.assert_array_equal(dx, max_pool2d_backward_naive(np.ones_like(out), x, 2, stride))
    if stride is None:
        np.testing.assert_array_equal(dx[0, 0],
                                      [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("kind", KINDS)
def test_float32_preserved(kind):
    forward, backward, forward_naive, backward_naive = KINDS[kind]
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    for stride in (None, 1):
        out, cache = forward(x, 2, stride)
        assert out.dtype == np.float32 and backward(out, cache).dtype == np.float32
        assert forward_naive(x, 2, stride).dtype == np.float32


@pytest.mark.parametrize("kind", KINDS)
def test_bad_arguments(kind):
    forward = KINDS[kind][0]
    with pytest.raises(ValueError, match=r"x: expected a 4-D array.*\(6, 6\)"):
        forward(np.zeros((6, 6)))
    with pytest.raises(ValueError, match="size: expected a positive integer, got 0"):
        forward(np.zeros((1, 1, 6, 6)), 0)
    with pytest.raises(ValueError, match="stride: expected a positive integer, got -1"):
        forward(np.zeros((1, 1, 6, 6)), 2, -1)
    out, cache = forward(np.zeros((1, 1, 6, 6)))
    with pytest.raises(ValueError,
                       match=r"dout: expected the forward output's shape \(1, 1, 3, 3\)"):
        KINDS[kind][1](np.zeros((1, 1, 2, 2)), cache)


def test_first_max_marks_the_first_of_tied_maxima_in_row_major_order():
    window = np.array([[1, 5, 2], [5, 0, 5]], dtype=np.float32)
    mask = first_max(window)
    np.testing.assert_array_equal(mask, [[0, 1, 0], [0, 0, 0]])
    assert mask.dtype == np.float32 and mask.shape == window.shape
