import numpy as np
import pytest

from cnnlib.gradcheck import check_layer, numerical_gradient, rel_error
from cnnlib.layers import Affine
from cnnlib.models import LeNet5


def test_numerical_gradient_of_known_function_restores_x():
    x = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]])
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v**3) + np.sum(np.sin(v)), x)
    np.testing.assert_allclose(grad, 3 * before**2 + np.cos(before), rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.ones(3)

    def f(_):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, 1.0)


def test_numerical_gradient_needs_float_array():
    with pytest.raises(TypeError, match="float numpy array"):
        numerical_gradient(np.sum, np.arange(3))


@pytest.mark.parametrize("h", [0, 0.0, -1e-5, float("nan"), float("inf"), "1e-5", True])
def test_numerical_gradient_needs_a_positive_finite_step(h):
    x = np.ones(3)
    with pytest.raises(ValueError, match=f"h: expected a finite step > 0 .*, got {h!r}"):
        numerical_gradient(np.sum, x, h=h)
    np.testing.assert_array_equal(x, 1.0)


def test_rel_error():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0, 0.0], [1.0, 1e-9]) == pytest.approx(1e-9)
    assert rel_error([100.0, 1.0], [100.0, 2.0]) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


@pytest.mark.parametrize("sizes", [(0, 10), (10, 0), (-3, 4), (2.0, 3)])
def test_affine_refuses_sizes_that_are_not_positive_ints(sizes):
    with pytest.raises(ValueError, match=r"in_features, out_features: expected positive ints"):
        Affine(*sizes)


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool])
def test_lenet5_refuses_integer_dtypes(dtype):
    with pytest.raises(TypeError, match=f"dtype: expected a float dtype such as float32, got "
                                        f"{np.dtype(dtype)}"):
        LeNet5(dtype=dtype)


def test_check_layer_takes_a_nested_list_as_input():
    layer = Affine(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    errors = check_layer(layer, [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    assert max(errors.values()) < 1e-7 and sorted(errors) == ["dW", "db", "dx"]
