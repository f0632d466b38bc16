"""The checkers of notebook 11 accept a correct answer and name each typical mistake."""

import numpy as np
import pytest

from cnnlib.exercises import ExerciseError
from cnnlib.exercises.building_blocks import check_conv1x1, check_global_avg_pool, check_residual


def conv1x1(x, w, b):
    n, c, h, width = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    return (rows @ w.reshape(len(w), c).T + b).reshape(n, h, width, -1).transpose(0, 3, 1, 2)


def conv1x1_no_bias(x, w, b):
    return conv1x1(x, w, np.zeros_like(b))


def conv1x1_no_transpose_back(x, w, b):
    n, c, h, width = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    return (rows @ w.reshape(len(w), c).T + b).reshape(n, len(w), h, width)


def conv1x1_reshape_only(x, w, b):
    n, c, h, width = x.shape
    out = x.reshape(-1, c) @ w.reshape(len(w), c).T + b
    return out.reshape(n, h, width, -1).transpose(0, 3, 1, 2)


def test_check_conv1x1(capsys):
    check_conv1x1(conv1x1)
    assert "correct:" in capsys.readouterr().out
    for wrong, message in [(conv1x1_no_bias, "the bias is missing"),
                           (conv1x1_no_transpose_back, r"transpose\(0, 3, 1, 2\)"),
                           (conv1x1_reshape_only, r"x.reshape\(-1, C\) does not give one row")]:
        with pytest.raises(ExerciseError, match=message):
            check_conv1x1(wrong)


def test_check_conv1x1_unfinished_and_in_place():
    def unfinished(x, w, b):
        raise NotImplementedError("# HINT: move channels last")

    with pytest.raises(ExerciseError, match="not written yet: # HINT: move channels last"):
        check_conv1x1(unfinished)

    def in_place(x, w, b):
        out = conv1x1(x, w, b)
        x *= 2
        return out

    with pytest.raises(ExerciseError, match="changed its input array in place"):
        check_conv1x1(in_place)


def gap_forward(x):
    return x.mean(axis=(2, 3))


def gap_backward(dout, x_shape):
    h, w = x_shape[2:]
    return np.broadcast_to(dout[:, :, None, None] / (h * w), x_shape).copy()


@pytest.mark.parametrize("forward, backward, message", [
    (lambda x: x.sum(axis=(2, 3)), gap_backward, "sum of each channel: divide by H\\*W"),
    (lambda x: x.mean(axis=(2, 3), keepdims=True), gap_backward, "keep the output 2-D"),
    (lambda x: x.max(axis=(2, 3)), gap_backward, "global MAX pooling"),
    (gap_forward, lambda d, s: np.broadcast_to(d[:, :, None, None], s), "not dout"),
    (gap_forward, lambda d, s: np.broadcast_to(d[:, :, None, None] / s[2], s), "not by H"),
    (gap_forward, lambda d, s: np.broadcast_to(d[:, :, None, None] / s[3], s), "not by W"),
    (gap_forward, lambda d, s: d[:, :, None, None] / (s[2] * s[3]), "broadcast the"),
])
def test_check_global_avg_pool_names_mistakes(forward, backward, message):
    with pytest.raises(ExerciseError, match=message):
        check_global_avg_pool(forward, backward)


def test_check_global_avg_pool_accepts(capsys):
    check_global_avg_pool(gap_forward, gap_backward)
    assert "correct:" in capsys.readouterr().out


def residual_forward(x, block):
    return x + block.forward(x)


@pytest.mark.parametrize("backward, message", [
    (lambda dout, block: block.backward(dout), "you forgot the identity path"),
    (lambda dout, block: dout, "that is only the identity path"),
    (lambda dout, block: 2 * dout, "not another dout"),
])
def test_check_residual_names_mistakes(backward, message):
    with pytest.raises(ExerciseError, match=message):
        check_residual(residual_forward, backward)


def test_check_residual_forward_mistakes_and_accepts(capsys):
    with pytest.raises(ExerciseError, match="block\\(x\\) alone"):
        check_residual(lambda x, block: block.forward(x), lambda d, block: d)
    check_residual(residual_forward, lambda dout, block: block.backward(dout) + dout)
    assert "correct:" in capsys.readouterr().out


# --- the tables the catalogue (test_catalogue.py) reads: for a checker of two functions the answer
# is the pair (forward, backward) -----------------------------------------------------------------

def conv1x1_einsum(x, w, b):
    return np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0]) + b[:, None, None]


def stub(*args):
    raise NotImplementedError("the hint for this exercise")


def conv1x1_filters_first(x, w, b):
    n, c, h, width = x.shape
    f = len(w)
    return (w.reshape(f, c) @ x.reshape(n, c, h * width) + b[:, None]).reshape(n, f, h, width)


def gap_backward_loops(dout, x_shape):
    dx = np.empty(x_shape, dout.dtype)
    for i in range(x_shape[2]):
        for j in range(x_shape[3]):
            dx[:, :, i, j] = dout / (x_shape[2] * x_shape[3])
    return dx


def residual_forward_in_place(x, block):
    x += block.forward(x)
    return x


def residual_sum_then_add(x, block):
    out = block.forward(x.copy())
    out += x
    return out


def conv1x1_weights_regrouped(x, w, b):
    n, c, h, width = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    return (rows @ w.reshape(c, len(w)) + b).reshape(n, h, width, -1).transpose(0, 3, 1, 2)


REFERENCES = [
    (check_conv1x1, conv1x1),
    (check_conv1x1, conv1x1_einsum),
    (check_conv1x1, conv1x1_filters_first),
    (check_global_avg_pool, (gap_forward, gap_backward)),
    (check_global_avg_pool, (lambda x: np.einsum("nchw->nc", x) / (x.shape[2] * x.shape[3]),
                             lambda d, s: np.ones(s, d.dtype) * d[:, :, None, None]
                             / (s[2] * s[3]))),
    (check_global_avg_pool, (lambda x: np.mean(np.mean(x, axis=3), axis=2), gap_backward_loops)),
    (check_residual, (residual_forward, lambda dout, block: block.backward(dout) + dout)),
    (check_residual, (lambda x, block: block.forward(x) + x,
                      lambda dout, block: dout + block.backward(dout.copy()))),
    (check_residual, (residual_sum_then_add,
                      lambda dout, block: np.add(block.backward(dout), dout))),
]

WRONG = [
    (check_conv1x1, stub, "your conv1x1 is not written yet"),
    (check_conv1x1, lambda x, w, b: np.zeros((len(x), len(w)) + x.shape[2:]), "is all zeros"),
    (check_conv1x1, conv1x1_no_bias, "the bias is missing"),
    (check_conv1x1, conv1x1_no_transpose_back, "transpose(0, 3, 1, 2)"),
    (check_conv1x1, conv1x1_reshape_only, "x.reshape(-1, C) does not give one row"),
    (check_global_avg_pool, (stub, gap_backward), "global_avg_pool_forward is not written yet"),
    (check_global_avg_pool, (lambda x: np.zeros(x.shape[:2]), gap_backward), "is all zeros"),
    (check_global_avg_pool, (lambda x: x.sum(axis=(2, 3)), gap_backward), "divide by H*W"),
    (check_global_avg_pool, (lambda x: x.max(axis=(2, 3)), gap_backward), "global MAX pooling"),
    (check_residual, (stub, lambda d, block: d), "residual_forward is not written yet"),
    (check_residual, (residual_forward, lambda d, block: np.zeros_like(d)), "is all zeros"),
    (check_residual, (residual_forward, lambda d, block: block.backward(d)),
     "you forgot the identity path"),
    (check_residual, (residual_forward, lambda d, block: d), "that is only the identity path"),
    (check_conv1x1, conv1x1_weights_regrouped, "reshaping it to (C, F) does not transpose it"),
    (check_conv1x1, lambda x, w, b: conv1x1(x.astype(np.float64), w, b),
     "turned float32 input into float64"),
    (check_global_avg_pool, (gap_forward, lambda d, s: np.full(s, 1 / (s[2] * s[3]))),
     "dx does not depend on dout"),
    (check_global_avg_pool, (gap_forward, lambda d, s: gap_backward(d, s) / (s[0] * s[1])),
     "not by the size of the whole batch"),
    (check_global_avg_pool, (gap_forward, lambda d, s: np.ones(s) * d[:, :, None, None]
                             / (s[2] * s[3])), "turned float32 input into float64"),
    (check_residual, (residual_forward_in_place, lambda d, block: block.backward(d) + d),
     "changed its input array in place"),
    (check_residual, (lambda x, block: np.maximum(x + block.forward(x), 0),
                      lambda d, block: block.backward(d) + d), "that is relu(x + block(x))"),
    (check_residual, (residual_forward, lambda d, block: block.backward(2 * d)),
     "the block path receives dout, not 2 * dout"),
]


@pytest.mark.parametrize("checker, answer", REFERENCES, ids=lambda v: getattr(v, "__name__", ""))
def test_the_tables_right_answers_pass(capsys, checker, answer):
    checker(*answer) if isinstance(answer, tuple) else checker(answer)
    assert capsys.readouterr().out.startswith("correct: ")


@pytest.mark.parametrize("checker, answer, message", WRONG,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(WRONG)])
def test_the_tables_mistakes_are_named(checker, answer, message):
    with pytest.raises(ExerciseError) as info:
        checker(*answer) if isinstance(answer, tuple) else checker(answer)
    assert message in str(info.value)
