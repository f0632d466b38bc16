"""Checkers of the interpretation exercises (notebook 10): saliency, FGSM and a targeted
attack.
"""

import numpy as np

from .. import layers
from ..gradcheck import numerical_gradient
from ..interpret import fgsm, saliency, score_gradient
from ..models import Sequential
from .diagnosis import ExerciseError, call, close, compare, correct


def _small_models():
    """A linear model on 1x4x4 images whose weights a learner can read, and a small float64
    conv net on 2x8x8 images; both built with ``input_grad=True``."""

    linear = Sequential(("fc", layers.Affine(16, 2, dtype=np.float64,
                                             rng=np.random.default_rng(0))), input_grad=True)
    linear.params["fc.W"][:] = np.stack([np.linspace(-1, 1, 16),
                                              0.3 + np.linspace(1, -1, 16) ** 3], 1)
    linear.params["fc.b"][:] = [0.5, -0.5]
    rng = np.random.default_rng(10)
    conv_net = Sequential(("conv", layers.Conv2D(2, 3, 3, pad=1, dtype=np.float64, rng=rng)),
                          ("relu", layers.ReLU()), ("pool", layers.MaxPool2D(2)),
                          ("fc", layers.Affine(48, 5, dtype=np.float64, rng=rng)), input_grad=True)
    conv_net.params["conv.b"][:] = [0.1, 0.0, -0.1]
    return linear, conv_net


def _loss_grad(model, x, y):
    model.loss(x, y)
    return model.backward()


def _images_unchanged(name, x, fn):
    """``fn(copy of x)``; raise if it changed the images it was given."""
    given = x.copy()
    result = fn(given)
    if not np.array_equal(given, x):
        raise ExerciseError(f"{name} changed x in place: compute new images (e.g. x + ...), the "
                            f"caller still needs the originals")
    return result


class _Watched:
    """A model as the learner's code sees it in notebook 10's checks: the same model, but a
    backward pass that does not follow a forward pass (or a loss call) of this call, or a
    ``dscores`` not shaped like the scores, is named instead of reading a stale cache or failing
    inside numpy."""

    def __init__(self, model):
        self._model, self._scores_shape, self._loss_called = model, None, False

    def __getattr__(self, name):
        return getattr(self._model, name)

    def forward(self, x):
        out = self._model.forward(x)
        self._scores_shape = out.shape
        return out

    def loss(self, x, y):
        value = self._model.loss(x, y)
        self._scores_shape, self._loss_called = self._model.last_scores.shape, True
        return value

    def backward_from_scores(self, dscores):
        if self._scores_shape is None:
            raise ExerciseError("run the forward pass on x first (scores = model.forward(x)): "
                                "backward uses what the last forward pass cached")
        if np.shape(dscores) != self._scores_shape:
            raise ExerciseError(f"dscores must be shaped like the scores (N, number of classes) "
                                f"= {self._scores_shape}, got {np.shape(dscores)}: build it from "
                                f"the scores, e.g. np.zeros_like(scores), not from a fixed number "
                                f"of classes")
        return self._model.backward_from_scores(dscores)

    def backward(self, dout=1.0):
        if not self._loss_called:
            raise ExerciseError("run model.loss(x, y) first: backward uses what the last loss "
                                "call cached (its probabilities and labels)")
        return self._model.backward(dout)


def _call_watched(what, fn, model, x, *args):
    """The learner's ``fn(model, x, *args)`` on a watched model and a copy of x. Another batch
    goes through the model first, so an answer that skips its own forward pass cannot borrow the
    cache of a previous call."""
    model.forward(np.ascontiguousarray(x[::-1]) * 0.5)
    return _images_unchanged(what, x, lambda v: call(what, fn, _Watched(model), v, *args))


def _compare_case(name, got, expected, mistakes, case):
    """:func:`compare`, with the description of the case at the end of the message."""
    try:
        compare(name, got, expected, mistakes)
    except ExerciseError as err:
        raise ExerciseError(f"{err} (checked {case})") from None


def check_saliency(fn):
    """Exercise: ``fn(model, x, target) -> (N, H, W)``, ``max over channels of |d score / d x|``
    for each image's ``target`` class (the score before softmax). Returns ``fn``."""

    linear, conv_net = _small_models()
    rng = np.random.default_rng(11)
    x_linear = rng.random((3, 1, 4, 4))
    x_conv = rng.random((4, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1, 0]), "on a linear model, score = w . x + b, "
              "whose saliency for class c is |w_c|, the class's weights"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), "on a small conv net with 2 input "
              "channels, 4 images")]
    for model, x, target, case in cases:
        got = _call_watched("your saliency", fn, model, x, target.copy())   # the learner's first
        expected = saliency(model, x, target)
        if got is not None and np.shape(got) == x.shape:
            raise ExerciseError(f"your saliency map has the shape of x, {x.shape}: reduce the "
                                f"channel axis with .max(axis=1) to get one map (N, H, W) "
                                f"(checked {case})")
        grad = score_gradient(model, x, target)
        predicted = model.forward(x).argmax(axis=1)
        loss_grad = np.abs(_loss_grad(model, x, target)).max(axis=1)
        ones = model.backward_from_scores(np.ones_like(model.forward(x)))
        mistakes = [
            (grad.max(axis=1), "take the absolute value |d score / d x| (np.abs) before the max: "
             "a pixel that lowers the score matters as much as one that raises it"),
            (np.abs(grad.max(axis=1)), "take the absolute value FIRST, then the max over the "
             "channels: np.abs(grad).max(axis=1); the max of the signed gradient misses a channel "
             "whose gradient is large and negative"),
            (np.abs(grad[:, 0]), "that is channel 0 only: take the max of |gradient| over ALL "
             "channels (axis 1)"),
            (np.abs(grad).max(axis=1) / len(x), "dscores must be 1 at the target class, not 1/N: "
             "each map is the gradient of its image's own score, not of a batch mean"),
            (loss_grad, "that is the gradient of the LOSS; a saliency map uses the class SCORE: "
             "model.forward(x), then model.backward_from_scores(dscores) with dscores one-hot "
             "(1 at each image's target class)"),
            (loss_grad * len(x), "that is the gradient of the LOSS; a saliency map uses the class "
             "SCORE: backward_from_scores with a one-hot dscores"),
            (np.abs(ones).max(axis=1), "dscores must be one-hot: 1 at the target class only, 0 "
             "elsewhere (ones everywhere give the gradient of the SUM of all scores)"),
            (np.abs(grad).sum(axis=1), "take the MAX over the channel axis (axis 1), not the sum"),
            (np.abs(grad).mean(axis=1), "take the MAX over the channel axis (axis 1), not the "
             "mean")]
        if np.any(predicted != target):
            mistakes.append((np.abs(score_gradient(model, x, predicted)).max(axis=1),
                             "use the score of each image's TARGET class (the argument target), "
                             "not the predicted class"))
        _compare_case("your saliency map", got, expected, mistakes, case)
    # against the numerical gradient of the class score, for one image
    x, target = x_conv[:1].copy(), np.array([2])
    got = _call_watched("your saliency", fn, conv_net, x, target)
    numeric = numerical_gradient(lambda v: conv_net.forward(v)[0, 2], x.copy())
    _compare_case("your saliency map", got, np.abs(numeric).max(axis=1), (),
                  "against the numerical gradient of the class score")
    correct("saliency = max over channels of |d score / d x|, as cnnlib and the numerical "
            "gradient")
    return fn


def check_fgsm(fn):
    """Exercise: ``fn(model, x, y, epsilon) -> clip(x + epsilon * sign(dL/dx), 0, 1)``, the
    fast gradient sign method with the softmax cross-entropy loss L of the labels y. Returns
    ``fn``."""

    linear, conv_net = _small_models()
    rng = np.random.default_rng(12)
    x_linear = np.full((2, 1, 4, 4), 0.5)
    x_linear[:, 0, 0] = [0.0, 1.0, 0.05, 0.95]          # pixels at or near the ends of [0, 1]
    x_conv = rng.random((4, 2, 8, 8))
    cases = [(linear, x_linear, np.array([0, 1]), 0.1,
              "on a linear model with two classes, where sign(dL/dx) = sign(w_other - w_true), "
              "epsilon = 0.1"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), 0.0, "with epsilon = 0: x must come back "
              "unchanged"),
             (conv_net, x_conv, np.array([3, 0, 4, 1]), 0.2, "on a small conv net, epsilon = 0.2")]
    for model, x, y, epsilon, case in cases:
        got = _call_watched("your fgsm", fn, model, x, y.copy(), epsilon)   # the learner's first
        expected = fgsm(model, x, y, epsilon)
        step = epsilon * np.sign(_loss_grad(model, x, y))
        score = np.sign(score_gradient(model, x, y))
        mistakes = [
            (np.clip(x - step, 0, 1), "you moved DOWN the loss (x - epsilon * sign): an attack "
             "ADDS epsilon * sign(dL/dx), so that the loss grows"),
            (x + step, "clip the result to [0, 1] (np.clip): pixels must stay valid intensities"),
            (np.minimum(x + step, 1), "clip at 0 as well as at 1, np.clip(..., 0, 1): a pixel "
             "cannot be darker than black"),
            (np.maximum(x + step, 0), "clip at 1 as well as at 0, np.clip(..., 0, 1): a pixel "
             "cannot be brighter than white"),
            (step, "return the adversarial IMAGES x + epsilon * sign(dL/dx) (clipped), not the "
             "perturbation alone"),
            (np.clip(step, 0, 1), "return the adversarial IMAGES, clip(x + epsilon * "
             "sign(dL/dx), 0, 1), not the clipped perturbation alone"),
            (np.clip(x + epsilon * _loss_grad(model, x, y), 0, 1), "use the SIGN of the "
             "gradient (np.sign): every pixel moves by exactly epsilon"),
            (np.clip(x + epsilon * score, 0, 1), "that follows the gradient of the true class's "
             "SCORE, which makes the class MORE likely; use the gradient of the LOSS: "
             "model.loss(x, y), then model.backward()"),
            (np.clip(x - epsilon * score, 0, 1), "that follows minus the gradient of the true "
             "class's score; FGSM uses the gradient of the LOSS, which also pushes the other "
             "classes up: model.loss(x, y), then model.backward()"),
            (x, "the images came back unchanged: add epsilon * sign(dL/dx)")]
        if epsilon == 0:
            mistakes = []
        _compare_case("your fgsm's result", got, expected, mistakes, case)
    correct("fgsm = clip(x + epsilon * sign(dL/dx), 0, 1), as cnnlib")
    return fn


def _signed_steps(model, x, labels, epsilon, step, steps, *, sign=-1, project=True):
    """``steps`` steps ``x_k + sign * step * sign(dL(x_k, labels)/dx)``, each clipped to [0, 1]
    and, with ``project``, to the pixels within ``epsilon`` of x: the reference and its typical
    mistakes."""
    adversarial = x.copy()
    for _ in range(steps):
        adversarial = adversarial + sign * step * np.sign(_loss_grad(model, adversarial, labels))
        if project:
            adversarial = np.clip(adversarial, x - epsilon, x + epsilon)
        adversarial = np.clip(adversarial, 0, 1)
    return adversarial


def check_targeted_attack(fn):
    """Exercise: ``fn(model, x, target, epsilon, step, steps)`` -> images within ``epsilon`` of x
    (max norm), in [0, 1], that the model reads as ``target``: ``steps`` signed-gradient steps
    down the loss of the target class, each projected back onto the epsilon-ball and [0, 1].
    Any schedule that reaches the target within the constraints passes. Returns ``fn``."""
    _, conv_net = _small_models()
    x = np.random.default_rng(13).random((6, 2, 8, 8))
    predicted = conv_net.forward(x).argmax(axis=1)
    target = (predicted + np.array([1, 2, 3, 4, 1, 2])) % 5
    epsilon, step, steps = 0.3, 0.05, 10
    case = (f"on a small conv net with 5 classes, 6 images, epsilon = {epsilon}, step = {step}, "
            f"steps = {steps}")
    got = _call_watched("your attack", fn, conv_net, x, target.copy(), epsilon, step, steps)
    expected = _signed_steps(conv_net, x, target, epsilon, step, steps)
    mistakes = [
        (_signed_steps(conv_net, x, target, epsilon, step, steps, project=False), "project back "
         "onto the epsilon-ball after each step, np.clip(x_adv, x - epsilon, x + epsilon): "
         "without it the steps add up to more than epsilon"),
        (_signed_steps(conv_net, x, target, epsilon, step, steps, sign=1), "you ascended the "
         "loss of the TARGET class, which makes it LESS likely: a targeted attack DESCENDS it, "
         "x_adv - step * sign(dL(x_adv, target)/dx)"),
        (_signed_steps(conv_net, x, predicted, epsilon, step, steps, sign=1), "that is an "
         "untargeted attack (up the loss of the class the model reads now); go DOWN the loss of "
         "the target labels: model.loss(x_adv, target)"),
        (np.clip(x - epsilon * np.sign(_loss_grad(conv_net, x, target)), 0, 1), "that is one "
         "step of size epsilon; take `steps` steps of size `step`, projecting after each"),
        (x, "the images came back unchanged: take `steps` steps of size `step`")]
    if got is None or np.shape(got) != x.shape:
        _compare_case("your attack's result", got, expected, (), case)
    if not np.any(got):
        raise ExerciseError(f"your attack's result is all zeros: return the adversarial images, "
                            f"which start from x (checked {case})")
    for wrong, message in mistakes:
        if close(got, wrong) and not close(got, expected):
            raise ExerciseError(f"your attack: {message} (checked {case})")
    got = np.asarray(got, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise ExerciseError(f"your attack's result holds nan or inf (checked {case})")
    if got.min() < 0 or got.max() > 1:
        raise ExerciseError(f"your attack's pixels run from {got.min():.3g} to {got.max():.3g}: "
                            f"clip them to [0, 1] after each step (checked {case})")
    largest = np.abs(got - x).max()
    if largest > epsilon + 1e-9:
        raise ExerciseError(f"a pixel moved by {largest:.3g}, more than epsilon: project back "
                            f"onto the epsilon-ball after each step, np.clip(x_adv, x - epsilon, "
                            f"x + epsilon) (checked {case})")
    read = conv_net.forward(got).argmax(axis=1)
    missed = np.flatnonzero(read != target)
    if missed.size:
        raise ExerciseError(f"images {missed.tolist()} are read as {read[missed].tolist()}, not "
                            f"as their targets {target[missed].tolist()}: each step should go "
                            f"DOWN the loss of the target labels, x_adv - step * "
                            f"sign(dL(x_adv, target)/dx) (checked {case})")
    correct(f"the attack moved every image to its target class within epsilon = {epsilon}")
    return fn
