import numpy as np
import pytest

from cnnlib.functions import cross_entropy, log_softmax, one_hot, relu, sigmoid, softmax


def test_sigmoid_extremes_without_warnings():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = sigmoid(x)
    np.testing.assert_allclose(y, [0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0])
    assert sigmoid(np.float32([1e4, -1e4])).dtype == np.float32


def test_sigmoid_of_ints_and_bools_is_float64():
    y = sigmoid(np.array([-2, 0, 3]))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0]))))
    np.testing.assert_allclose(sigmoid(np.array([False, True])), [0.5, 1 / (1 + np.exp(-1.0))])
    assert sigmoid(2) == pytest.approx(1 / (1 + np.exp(-2.0)))
    with pytest.raises(TypeError, match="x: expected a real .* got dtype complex128"):
        sigmoid(np.array([1 + 2j]))


def test_relu():
    x = np.array([-2.0, 0.0, 3.0], np.float32)
    y = relu(x)
    assert y.dtype == np.float32 and y.tolist() == [0.0, 0.0, 3.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_stable_1d_and_2d(dtype):
    x = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]], dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        p = softmax(x)
        p1 = softmax(x[1])
    assert p.dtype == dtype and np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(p[0], [1, 0, 0])
    np.testing.assert_allclose(p1, p[1], rtol=1e-6)
    np.testing.assert_allclose(p1, np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)
    assert np.isfinite(log_softmax(x)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_int_and_one_hot(dtype):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype)
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    loss = cross_entropy(probs, np.array([0, 2]))
    assert loss.dtype == dtype and loss == pytest.approx(expected, rel=1e-6)
    assert cross_entropy(probs, np.eye(3)[[0, 2]]) == pytest.approx(expected, rel=1e-6)
    assert cross_entropy(probs[0], 0) == pytest.approx(-np.log(0.7), rel=1e-6)


def test_cross_entropy_never_logs_zero():
    probs = softmax(np.array([[1e4, -1e4]]))
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = cross_entropy(probs, np.array([1]))
    assert np.isfinite(loss) and loss > 100


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 3]), r"labels: values must be in \[0, 3\), got 3"),
    (np.array([0, -1]), "got -1"),
    (np.array([0, 1, 2]), r"shape \(2,\).*got shape \(3,\)"),
    (np.zeros((2, 4)), r"shape \(2, 3\), got \(2, 4\)"),
])
def test_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        cross_entropy(np.full((2, 3), 1 / 3), labels)


def test_float_labels_are_a_type_error():
    with pytest.raises(TypeError, match="int class indices"):
        cross_entropy(np.full((2, 3), 1 / 3), np.array([0.0, 1.0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_one_hot_rows_in_the_requested_dtype(dtype):
    targets = one_hot(np.array([2, 0, 1, 2], np.uint8), 3, dtype)
    assert targets.dtype == dtype and targets.shape == (4, 3)
    np.testing.assert_array_equal(targets, np.eye(3, dtype=dtype)[[2, 0, 1, 2]])
    assert one_hot(np.zeros(0, int), 5).shape == (0, 5)


@pytest.mark.parametrize("labels, error, message", [
    (np.array([0, 3]), ValueError, r"labels: values must be in \[0, 3\), got 3"),
    (np.array([-1, 0]), ValueError, r"labels: values must be in \[0, 3\), got -1"),
    (np.array([0.0, 1.0]), TypeError, "labels: int class indices expected, got dtype float64"),
    (np.array([[0, 1]]), ValueError,
     r"labels: expected int class indices of shape \(N,\), got shape \(1, 2\)"),
])
def test_one_hot_rejects_bad_labels(labels, error, message):
    with pytest.raises(error, match=message):
        one_hot(labels, 3)
