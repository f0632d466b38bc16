"""The checkers of the two-layer network exercises (cnnlib.exercises.two_layer_net) accept right
answers (written independently of cnnlib where the exercise allows) and name each typical
mistake."""

import numpy as np

from cnnlib import exercises

from .helpers import checker_tests, stub


def two_layer(g_s=lambda p, t, n: (p - t) / n, mask=lambda h, g_a: g_a * (h > 0),
              dw2_input="a", db=lambda g: g.sum(axis=0), dw=lambda inp, g: inp.T @ g,
              drop=(), before=None):
    """A two-layer backward pass with one rule changed."""
    def backward(params, x, y, h, a, p):
        if before:
            before(params, p)
        t = np.eye(p.shape[1], dtype=p.dtype)[y]
        gs = g_s(p, t, len(x))
        gh = mask(h, gs @ params["affine2.W"].T)
        grads = {"affine2.W": dw(a if dw2_input == "a" else h, gs), "affine2.b": db(gs),
                 "affine1.W": dw(x, gh), "affine1.b": db(gh)}
        return {k: v for k, v in grads.items() if k not in drop}
    return backward


def subtract_in_place(params, p):
    p[:, 0] -= 1


def step_on_w2(params, p):
    params["affine2.W"] -= 0.1


def sgd(rule, keys=None):
    def step(params, grads, lr):
        for key in params if keys is None else [k for k in params if k in keys]:
            rule(params, key, grads[key], lr)
    return step


def copy_step(params, grads, lr):
    return {key: p - lr * grads[key] for key, p in params.items()}


def scale_grads(params, key, g, lr):
    g *= lr
    params[key] -= g


def n_params(rule):
    return lambda sizes: sum(rule(i, o) for i, o in zip(sizes[:-1], sizes[1:]))


def bad_rows(x):
    return np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))


def set_rebind(params, key, g, lr):
    params[key] = params[key] - lr * g


def set_inplace(value):
    def rule(params, key, g, lr):
        params[key][...] = value(params[key], g, lr)
    return rule


FIXED_03 = exercises.FIXED_TWO_LAYER


def ten_classes(params, x, y, h, a, p):
    """The hint of old, one-hot labels of 10 classes whatever p's width: a broadcast error."""
    return two_layer(g_s=lambda p, t, n: (p - np.eye(10)[y]) / n)(params, x, y, h, a, p)





def backward_by_subtracting_one(params, x, y, h, a, p):
    """p - t by subtracting 1 at each label; the biases' gradients by einsum."""
    g_s = p.copy()
    g_s[np.arange(len(y)), y] -= 1
    g_s /= len(x)
    g_h = (g_s @ params["affine2.W"].T) * (h > 0)
    return {"affine1.W": x.T @ g_h, "affine1.b": np.einsum("nh->h", g_h),
            "affine2.W": a.T @ g_s, "affine2.b": np.einsum("nc->c", g_s)}


def backward_by_loops(params, x, y, h, a, p):
    """One example at a time, the gradients summed with outer products."""
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for xn, yn, hn, an, pn in zip(x, y, h, a, p):
        g_s = pn.copy()
        g_s[yn] -= 1
        g_s /= len(x)
        g_h = np.where(hn > 0, params["affine2.W"] @ g_s, 0)
        grads["affine2.W"] += np.outer(an, g_s)
        grads["affine2.b"] += g_s
        grads["affine1.W"] += np.outer(xn, g_h)
        grads["affine1.b"] += g_h
    return grads


def sgd_by_multiply_add(params, grads, lr):
    for key, g in grads.items():
        params[key] += -lr * g


def sgd_by_items(params, grads, lr):
    for key, value in params.items():
        value -= np.multiply(lr, grads[key], dtype=value.dtype)


def bad_by_loop(x):
    return [i for i, example in enumerate(x) if not np.all(np.isfinite(example))]


def bad_by_nan_and_inf(x):
    flat = x.reshape(x.shape[0], -1)
    return np.nonzero(np.isnan(flat).any(axis=1) | np.isinf(flat).any(axis=1))[0]


def nan_to_zero(x):
    x[~np.isfinite(x)] = 0          # "cleans" the caller's data as it looks
    return []


def float64_labels(params, x, y, h, a, p):
    """The one-hot labels built with np.eye's default dtype."""
    g_s = (p - np.eye(p.shape[1])[y]) / len(x)
    g_h = (g_s @ params["affine2.W"].T) * (h > 0)
    return {"affine1.W": x.T @ g_h, "affine1.b": g_h.sum(axis=0),
            "affine2.W": a.T @ g_s, "affine2.b": g_s.sum(axis=0)}


def backward_dividing_last(params, x, y, h, a, p):
    """The mean's 1/N applied to each gradient at the end; the mask by np.where."""
    n, g_s = len(x), p - np.eye(p.shape[1], dtype=p.dtype)[y]
    g_h = np.where(h > 0, g_s @ params["affine2.W"].T, 0)
    return {"affine2.W": a.T @ g_s / n, "affine2.b": g_s.sum(axis=0) / n,
            "affine1.W": x.T @ g_h / n, "affine1.b": g_h.sum(axis=0) / n}


def bad_by_index_loop(x):
    bad = []
    for i in range(x.shape[0]):
        if np.isnan(x[i]).any() or np.isinf(x[i]).any():
            bad.append(i)
    return bad


REFERENCES = [
    (exercises.check_two_layer_backward, backward_dividing_last),
    (exercises.check_bad_examples, bad_by_index_loop),
    (exercises.check_bad_examples, lambda x: np.unique(np.argwhere(~np.isfinite(x))[:, 0])),
    (exercises.check_n_params,
     lambda sizes: sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1))),
    (exercises.check_two_layer_backward, exercises.two_layer_backward),
    (exercises.check_sgd_step, exercises.sgd_step),
    (exercises.check_n_params, n_params(lambda i, o: i * o + o)),
    (exercises.check_bad_examples, bad_rows),
    (exercises.check_two_layer_backward, two_layer()),      # written with np.eye, in this file
    (exercises.check_sgd_step, sgd(lambda params, key, g, lr: np.subtract(params[key], lr * g,
                                                                          out=params[key]))),
    (exercises.check_two_layer_backward, backward_by_subtracting_one),
    (exercises.check_two_layer_backward, backward_by_loops),
    (exercises.check_sgd_step, sgd_by_multiply_add),
    (exercises.check_sgd_step, sgd_by_items),
    (exercises.check_n_params, lambda sizes: sum((i + 1) * o for i, o in zip(sizes, sizes[1:]))),
    (exercises.check_n_params, lambda sizes: int(np.dot(np.add(sizes[:-1], 1), sizes[1:]))),
    (exercises.check_bad_examples, bad_by_loop),
    (exercises.check_bad_examples, bad_by_nan_and_inf),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {
    exercises.check_two_layer_backward,
    exercises.check_sgd_step,
}


WRONG = [
    (exercises.check_two_layer_backward, stub, "your backward is not written yet: the hint"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: 0 * p),
     f"grads['affine2.W'] {FIXED_03} is all zeros"),
    (exercises.check_two_layer_backward, ten_classes,
     "your backward raised ValueError on the fixed case x = [[1, 2], [-1, 1]], y = [0, 1], "
     "W1 = [[1, -1, 0.5], [0, 1, -0.25]], W2 = [[1, 0], [0, 1], [1, -1]], zero biases (N = 2, "
     "D = 2, H = 3, C = 2; so h = [[1, 1, 0], [-1, 2, -0.75]]): operands could not be broadcast"),
    (exercises.check_two_layer_backward,
     lambda params, x, y, h, a, p: {"W2": 0, "b2": 0, "W1": 0, "b1": 0},
     "use the parameter names as keys ('affine1.W', 'affine1.b', 'affine2.W', 'affine2.b'): "
     "got ['W1', 'W2', 'b1', 'b2']"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: p - t),
     "divide by the batch size N: the loss is the MEAN over the batch"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: p / n),
     "subtract the one-hot labels t"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: (t - p) / n),
     f"grads['affine2.W'] {FIXED_03} has its sign flipped"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g * (h >= 0)),
     f"grads['affine1.W'] {FIXED_03}: at h = 0 the ReLU's slope is 0: mask with h > 0, "
     "not h >= 0"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g * (h <= 0)),
     "your mask is the other way round"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g),
     "multiply by the ReLU's mask"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: np.maximum(g, 0)),
     "not from the sign of the gradient"),
    (exercises.check_two_layer_backward, two_layer(dw2_input="h"),
     "affine2's input, which is the ReLU's OUTPUT a, not h"),
    (exercises.check_two_layer_backward, two_layer(dw=lambda inp, g: g.T @ inp),
     "grads['affine2.W'] has shape (2, 3), the transpose of W's (3, 2)"),
    (exercises.check_two_layer_backward, two_layer(db=lambda g: g),
     f"grads['affine2.b'] has the wrong shape {FIXED_03}: expected (2,), got (2, 2) (a sum "
     "over the batch, axis 0, is missing)"),
    (exercises.check_two_layer_backward, two_layer(db=lambda g: g.mean(axis=0)),
     "db is the SUM of g over the batch (axis 0)"),
    (exercises.check_two_layer_backward, two_layer(drop=("affine2.b",)),
     "the gradients have no 'affine2.b': return one for every parameter, the biases too"),
    (exercises.check_two_layer_backward, two_layer(before=subtract_in_place),
     "your function changed the forward pass's p in place: copy an array before changing it"),
    (exercises.check_two_layer_backward, two_layer(before=step_on_w2),
     "changed params['affine2.W'] in place: the backward pass only computes gradients"),
    (exercises.check_two_layer_backward, lambda params, x, y, h, a, p: (0, 0, 0, 0),
     "return a dict {name: gradient}"),
    (exercises.check_sgd_step, stub, "your sgd_step is not written yet: the hint"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: 0 * p)),
     "params['W'] after the step on the fixed case W = [[1, 2]], b = [0.5], dW = [[0.5, -1]], "
     "db = [2], lr = 0.1 is all zeros"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p + lr * g)),
     "step DOWNHILL: subtract lr * grad (you added it)"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p - g)),
     "multiply the gradient by the learning rate lr"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: -lr * g)),
     "you replaced the parameter by the step"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p - lr * g.sum())),
     "each parameter moves by its own gradient"),
    (exercises.check_sgd_step, sgd(set_rebind),
     "params['W'] is a new array on the fixed case"),
    (exercises.check_sgd_step, copy_step, "params did not change on the fixed case W = [[1, 2]], "
     "b = [0.5], dW = [[0.5, -1]], db = [2], lr = 0.1: you returned new arrays"),
    (exercises.check_sgd_step, sgd(set_inplace(lambda p, g, lr: p - lr * g), keys=("W",)),
     "params['b'] did not change on the fixed case"),
    (exercises.check_sgd_step, sgd(scale_grads), "your function changed grads['W'] in place"),
    (exercises.check_n_params, stub, "your n_params is not written yet"),
    (exercises.check_n_params, lambda sizes: 0, "for the layer sizes (784, 100, 10) is all zeros"),
    (exercises.check_n_params, n_params(lambda i, o: i * o), "add the biases"),
    (exercises.check_n_params, n_params(lambda i, o: i * o + i), "one entry per OUTPUT"),
    (exercises.check_n_params, lambda sizes: sum(sizes), "not the units"),
    (exercises.check_n_params, lambda sizes: 79510,
     "the count is wrong for the layer sizes (2, 3, 1)"),
    (exercises.check_bad_examples, stub, "your bad_examples is not written yet"),
    (exercises.check_bad_examples, lambda x: np.zeros(1, dtype=int),
     "the indices for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4) are all zeros"),
    (exercises.check_bad_examples, lambda x: np.where(~np.isfinite(x))[0],
     "got [1, 1] for 4 rows, row 1 holding both a NaN and an inf: name each example once: "
     "reduce each example to one bool first"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(np.isinf(x).any(axis=1)),
     "missed the NaNs for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4): np.isinf "
     "misses NaN"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(np.isnan(x).any(axis=1)),
     "missed the infinities for 5 rows"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero((x == np.nan).any(axis=1)),
     "x == np.nan is always False"),
    (exercises.check_bad_examples, lambda x: ~np.isfinite(x.reshape(len(x), -1)).all(axis=1),
     "not a mask of 5 booleans"),
    (exercises.check_bad_examples, lambda x: np.argwhere(~np.isfinite(x)),
     "not (row, column) pairs"),
    (exercises.check_bad_examples, lambda x: np.flatnonzero(~np.isfinite(x).all(axis=1)),
     "the bad examples for 4 images (1, 2, 2) with a NaN in image 1 are [1]"),
    (exercises.check_bad_examples, nan_to_zero, "your code changed x in place for 5 rows"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g * np.maximum(h, 0)),
     "the ReLU's factor is its slope, 1 where h > 0 and 0 elsewhere, not the activation a"),
    (exercises.check_two_layer_backward, two_layer(g_s=lambda p, t, n: (p - t) / p.shape[1]),
     "divide by the batch size N (rows of p), not by the number of classes C"),
    (exercises.check_two_layer_backward, two_layer(mask=lambda h, g: g.T @ h),
     "Check the shape of each factor of each product against the table"),
    (exercises.check_two_layer_backward, two_layer(db=lambda g: g.sum(axis=0).tolist()),
     "grads['affine2.b'] is a list, not a numpy array"),
    (exercises.check_n_params, lambda s: sum(s[i] * s[i + 1] + s[i + 1]
                                             for i in range(len(s) - 2)),
     "the last layer is missing"),
    (exercises.check_n_params, lambda s: sum(s[i] * s[i + 1] + s[i + 1]
                                             for i in range(1, len(s) - 1)),
     "the first layer is missing"),
    (exercises.check_n_params, lambda s: sum(i * o for i, o in zip(s, s[1:])) + sum(s),
     "the input units have no bias"),
    (exercises.check_n_params, lambda s: [i * o + o for i, o in zip(s, s[1:])],
     "got 2 numbers for the layer sizes (784, 100, 10), one per layer: return the total"),
    (exercises.check_bad_examples,
     lambda x: np.nonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1)),
     "got a tuple of 1 array(s) for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4): "
     "np.nonzero and np.where with one argument return a tuple"),
    (exercises.check_bad_examples,
     lambda x: int((~np.isfinite(x.reshape(len(x), -1)).all(axis=1)).sum()),
     "got the single number 3 for 5 rows"),
    (exercises.check_bad_examples, lambda x: bad_rows(x)[::-1],
     "got [4, 3, 0] for 5 rows holding inf (row 0), -inf (row 3) and NaN (row 4): the right "
     "examples, but return them sorted"),
    (exercises.check_two_layer_backward, float64_labels,
     "grads['affine2.W'] on a random float32 batch (N = 3, D = 6, H = 7, C = 4) is float64, not "
     "float32, for float32 inputs: an array built in float64 (np.eye"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
