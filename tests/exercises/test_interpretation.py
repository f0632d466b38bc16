"""The checkers of the interpretation exercises (cnnlib.exercises.interpretation) accept right
answers (written independently of cnnlib where the exercise allows) and name each typical
mistake."""

import numpy as np
import pytest

from cnnlib import exercises, interpret
from cnnlib.exercises import interpretation

from .helpers import checker_tests, stub


def loss_grad(model, x, y):
    model.loss(x, y)
    return model.backward()


def fgsm_with(direction):
    """An FGSM answer that moves x by epsilon * direction(model, x, y), clipped or not."""
    def fgsm(model, x, y, epsilon, clip=True):
        moved = x + epsilon * direction(model, x, y)
        return np.clip(moved, 0, 1) if clip else moved
    return fgsm


def fgsm_in_place(model, x, y, epsilon):
    x += epsilon * np.sign(loss_grad(model, x, y))
    return np.clip(x, 0, 1, out=x)


def saliency_without_forward(model, x, target):
    dscores = np.zeros((len(x), 2))                      # the linear model's 2 classes
    dscores[np.arange(len(x)), target] = 1
    return np.abs(model.backward_from_scores(dscores)).max(axis=1)


def saliency_eye10(model, x, target):
    model.forward(x)
    return np.abs(model.backward_from_scores(np.eye(10)[target])).max(axis=1)


def fgsm_without_loss(model, x, y, epsilon):
    return np.clip(x + epsilon * np.sign(model.backward()), 0, 1)


LINEAR_10 = "(checked on a linear model, score = w . x + b, whose saliency for class c is |w_c|, "


CONV_10 = "(checked on a small conv net with 2 input channels, 4 images)"


def attack(sign=-1, project=True, unit=True, labels=None, steps_used=None):
    """A targeted attack with one rule changed (sign=+1: up the loss; labels: 'pred' for the
    model's own reading)."""
    def fn(model, x, target, epsilon, step, steps):
        y = model.forward(x).argmax(axis=1) if labels == "pred" else target
        v = x.copy()
        for _ in range(steps if steps_used is None else steps_used):
            model.loss(v, y)
            v = v + sign * step * np.sign(model.backward())
            if project:
                v = np.clip(v, x - epsilon, x + epsilon)
            if unit:
                v = np.clip(v, 0, 1)
        return v
    return fn


def slow_attack(model, x, target, epsilon, step, steps):
    """A valid attack with another schedule: twice the steps at half the size."""
    return interpret.targeted_attack(model, x, target, epsilon, step=step / 2, steps=2 * steps)


# --- right answers written with the model's own passes, not cnnlib.interpret ----------------------

def saliency_by_passes(model, x, target):
    scores = model.forward(x)
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(x)), target] = 1
    return np.abs(model.backward_from_scores(dscores)).max(axis=1)


REFERENCES = [
    (exercises.check_saliency, interpret.saliency),
    (exercises.check_fgsm, interpret.fgsm),
    (exercises.check_targeted_attack, attack()),
    (exercises.check_saliency, saliency_by_passes),
    (exercises.check_fgsm, fgsm_with(lambda model, x, y: np.sign(loss_grad(model, x, y)))),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {
    exercises.check_saliency,
    exercises.check_fgsm,
    exercises.check_targeted_attack,
}


WRONG = [
    (exercises.check_saliency, stub, "your saliency is not written yet: the hint"),
    (exercises.check_saliency, lambda m, x, t: np.zeros((len(x),) + x.shape[2:]),
     "your saliency map is all zeros " + LINEAR_10 + "the class's weights)"),
    (exercises.check_saliency, lambda m, x, t: interpret.score_gradient(m, x, t).max(axis=1),
     "take the absolute value |d score / d x| (np.abs) before the max"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t).max(axis=1)),
     "take the absolute value FIRST, then the max over the channels"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)[:, 0]),
     "your saliency map: that is channel 0 only: take the max of |gradient| over ALL channels "
     "(axis 1) " + CONV_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).max(axis=1) / len(x),
     "dscores must be 1 at the target class, not 1/N"),
    (exercises.check_saliency, saliency_eye10,
     "dscores must be shaped like the scores (N, number of classes) = (3, 2), got (3, 10)"),
    (exercises.check_saliency, saliency_without_forward,
     "run the forward pass on x first (scores = model.forward(x)): backward uses what the last "
     "forward pass cached"),
    (exercises.check_saliency, lambda m, x, t: np.abs(loss_grad(m, x, t)).max(axis=1),
     "that is the gradient of the LOSS; a saliency map uses the class SCORE"),
    (exercises.check_saliency, lambda m, x, t: np.abs(
        m.backward_from_scores(np.ones_like(m.forward(x)))).max(axis=1),
     "dscores must be one-hot: 1 at the target class only"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).sum(axis=1),
     "take the MAX over the channel axis (axis 1), not the sum " + CONV_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)),
     "your saliency map has the shape of x, (3, 1, 4, 4)"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).max(axis=1).sum(axis=0),
     "your saliency map has the wrong shape: expected (3, 4, 4), got (4, 4) " + LINEAR_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(
        interpret.score_gradient(m, x, m.forward(x).argmax(axis=1))).max(axis=1),
     "use the score of each image's TARGET class"),
    (exercises.check_fgsm, stub, "your fgsm is not written yet: the hint"),
    (exercises.check_fgsm, lambda m, x, y, e: np.zeros_like(x),
     "your fgsm's result is all zeros (checked on a linear model with two classes, where "
     "sign(dL/dx) = sign(w_other - w_true), epsilon = 0.1)"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: -np.sign(loss_grad(m, x, y))),
     "you moved DOWN the loss"),
    (exercises.check_fgsm, lambda m, x, y, e: fgsm_with(
        lambda m, x, y: np.sign(loss_grad(m, x, y)))(m, x, y, e, clip=False),
     "clip the result to [0, 1] (np.clip)"),
    (exercises.check_fgsm, lambda m, x, y, e: np.minimum(x + e * np.sign(loss_grad(m, x, y)), 1),
     "clip at 0 as well as at 1"),
    (exercises.check_fgsm, lambda m, x, y, e: e * np.sign(loss_grad(m, x, y)),
     "return the adversarial IMAGES x + epsilon * sign(dL/dx) (clipped), not the perturbation"),
    (exercises.check_fgsm, fgsm_without_loss,
     "run model.loss(x, y) first: backward uses what the last loss call cached"),
    (exercises.check_fgsm, fgsm_with(loss_grad), "use the SIGN of the gradient (np.sign)"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: np.sign(interpret.score_gradient(m, x, y))),
     "that follows the gradient of the true class's SCORE, which makes the class MORE likely"),
    (exercises.check_fgsm, fgsm_with(lambda m, x, y: -np.sign(interpret.score_gradient(m, x, y))),
     "that follows minus the gradient of the true class's score"),
    (exercises.check_fgsm, lambda m, x, y, e: x.copy(), "the images came back unchanged"),
    (exercises.check_fgsm, fgsm_in_place, "your fgsm changed x in place"),
    (exercises.check_fgsm, lambda m, x, y, e: interpret.fgsm(m, x, y, e)[:, 0],
     "your fgsm's result has the wrong shape"),
    (exercises.check_targeted_attack, stub, "your attack is not written yet: the hint"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: np.zeros_like(x),
     "your attack's result is all zeros"),
    (exercises.check_targeted_attack, attack(project=False),
     "project back onto the epsilon-ball after each step"),
    (exercises.check_targeted_attack, attack(sign=1), "you ascended the loss of the TARGET class"),
    (exercises.check_targeted_attack, attack(sign=1, labels="pred"),
     "that is an untargeted attack"),
    (exercises.check_targeted_attack, attack(unit=False),
     "clip them to [0, 1] after each step"),
    (exercises.check_targeted_attack, attack(steps_used=1),
     "are read as"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: x.copy(),
     "the images came back unchanged"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: x[:, 0],
     "your attack's result has the wrong shape"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)


def test_the_targeted_attack_check_accepts_another_schedule(capsys):
    assert exercises.check_targeted_attack(slow_attack) is slow_attack
    assert capsys.readouterr().out.startswith("correct: ")


def test_targeted_attack_matches_the_checkers_steps_and_stays_in_the_ball():
    _, conv_net = interpretation._small_models()
    x = np.random.default_rng(3).random((3, 2, 8, 8))
    target = np.array([0, 1, 2])
    got = interpret.targeted_attack(conv_net, x, target, 0.2, step=0.05, steps=6)
    np.testing.assert_allclose(got, attack()(conv_net, x, target, 0.2, 0.05, 6))
    assert np.abs(got - x).max() <= 0.2 + 1e-12 and got.min() >= 0 and got.max() <= 1
    np.testing.assert_array_equal(interpret.targeted_attack(conv_net, x, target, 0.2, step=0.05,
                                                            steps=0), x)
    with pytest.raises(ValueError, match="step: expected a finite number > 0"):
        interpret.targeted_attack(conv_net, x, target, 0.2, step=0)
