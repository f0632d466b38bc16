import numpy as np
import pytest

from cnnlib.gradcheck import numerical_gradient
from cnnlib.graph import AddLayer, MulLayer


def test_shopping_apples():
    apple_price, apple_count, tax = 100, 2, 1.1
    mul_apple, mul_tax = MulLayer(), MulLayer()
    price = mul_tax.forward(mul_apple.forward(apple_price, apple_count), tax)
    assert price == pytest.approx(220)
    d_apple_total, d_tax = mul_tax.backward(1)
    d_apple_price, d_apple_count = mul_apple.backward(d_apple_total)
    assert (d_apple_price, d_apple_count, d_tax) == (pytest.approx(2.2), pytest.approx(110),
                                                     pytest.approx(200))


def test_shopping_apples_and_oranges():
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    total = add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3))
    price = mul_tax.forward(total, 1.1)
    assert price == pytest.approx(715)
    d_total, d_tax = mul_tax.backward(1)
    d_apples, d_oranges = add.backward(d_total)
    assert mul_apple.backward(d_apples) == (pytest.approx(2.2), pytest.approx(110))
    assert mul_orange.backward(d_oranges) == (pytest.approx(3.3), pytest.approx(165))
    assert d_tax == pytest.approx(650)


def test_arrays_match_numerical_gradients():
    rng = np.random.default_rng(0)
    x, y, dout = (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                  rng.standard_normal((3, 4)))
    mul = MulLayer()
    mul.forward(x, y)
    dx, dy = mul.backward(dout)
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: np.sum(v * y * dout), x), rtol=1e-7)
    np.testing.assert_allclose(dy, numerical_gradient(lambda v: np.sum(x * v * dout), y), rtol=1e-7)
    dx, dy = AddLayer().backward(dout)
    assert dx is dout and dy is dout


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        MulLayer().backward(1.0)
