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


def fgsm_reshaping_x(model, x, y, epsilon):
    out = fgsm_by_where(model, x, y, epsilon)
    x.shape = (len(x), -1)
    return out


def occlusion_variant(**kw):
    return lambda m, x, t, p, f: interpretation._occlusion_variant(m, x, t, p, f, **kw)


def occlusion_leaving_the_patch(model, x, labels, patch, fill):
    maps = occlusion_by_loops(model, x, labels, patch, fill)
    x[:, :, :patch, :patch] = fill
    return maps


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
# three independent styles per checker

def saliency_by_passes(model, x, target):
    scores = model.forward(x)
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(x)), target] = 1
    return np.abs(model.backward_from_scores(dscores)).max(axis=1)


def saliency_by_eye(model, x, target):
    scores = model.forward(x)
    onehot = np.eye(scores.shape[1], dtype=scores.dtype)[target]
    return np.max(np.abs(model.backward_from_scores(onehot)), axis=1)


def saliency_image_by_image(model, x, target):
    maps = []
    for image, t in zip(x, target):
        scores = model.forward(image[None])
        d = np.zeros_like(scores)
        d[0, t] = 1.0
        grad = model.backward_from_scores(d)[0]
        maps.append(np.maximum.reduce(np.abs(grad), axis=0))
    return np.stack(maps)


def fgsm_by_where(model, x, y, epsilon):
    model.loss(x, y)
    g = model.backward()
    moved = np.where(g > 0, x + epsilon, np.where(g < 0, x - epsilon, x))
    return np.minimum(np.maximum(moved, 0), 1)


def fgsm_image_by_image(model, x, y, epsilon):
    out = x.copy()
    for n in range(len(x)):
        model.loss(x[n:n + 1], y[n:n + 1])
        out[n] += epsilon * np.sign(model.backward()[0])
    np.clip(out, 0, 1, out=out)
    return out


def attack_with_bounds(model, x, target, epsilon, step, steps):
    low, high = np.maximum(x - epsilon, 0), np.minimum(x + epsilon, 1)
    adv = x.copy()
    for _ in range(steps):
        model.loss(adv, target)
        adv = np.clip(adv - step * np.sign(model.backward()), low, high)
    return adv


def attack_on_delta(model, x, target, epsilon, step, steps):
    delta = np.zeros_like(x)
    for _ in range(steps):
        model.loss(x + delta, target)
        delta = np.clip(delta - step * np.sign(model.backward()), -epsilon, epsilon)
        delta = np.clip(x + delta, 0, 1) - x
    return x + delta


def softmax_rows(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def occlusion_by_loops(model, x, labels, patch, fill):
    n, _, h, w = x.shape
    out = np.zeros((n, h, w), dtype=x.dtype)
    half = patch // 2
    for k in range(n):
        p = softmax_rows(model.forward(x[k:k + 1]))[0, labels[k]]
        for i in range(h):
            for j in range(w):
                covered = x[k:k + 1].copy()
                covered[:, :, max(i - half, 0):i - half + patch,
                        max(j - half, 0):j - half + patch] = fill
                out[k, i, j] = p - softmax_rows(model.forward(covered))[0, labels[k]]
    return out


def occlusion_one_batch_per_image(model, x, labels, patch, fill):
    n, c, h, w = x.shape
    rows, cols = np.arange(h), np.arange(w)
    maps = []
    for image, label in zip(x, labels):
        batch = np.repeat(image[None], h * w, axis=0)
        for pos in range(h * w):
            i, j = divmod(pos, w)
            inside_r = (rows >= i - patch // 2) & (rows < i - patch // 2 + patch)
            inside_c = (cols >= j - patch // 2) & (cols < j - patch // 2 + patch)
            batch[pos][:, inside_r[:, None] & inside_c[None, :]] = fill
        scores = model.forward(batch)
        base = model.forward(image[None])
        probs = np.exp(scores - scores.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        p0 = np.exp(base - base.max())
        p0 /= p0.sum()
        maps.append((p0[0, label] - probs[:, label]).reshape(h, w))
    return np.array(maps)


def occlusion_by_padding(model, x, labels, patch, fill):
    n, c, h, w = x.shape
    before = patch // 2
    result = np.empty((n, h, w), dtype=x.dtype)
    for k in range(n):
        scores = model.forward(x[k:k + 1])[0]
        p = np.exp(scores[labels[k]]) / np.exp(scores).sum()
        padded = np.pad(x[k], ((0, 0), (before, patch), (before, patch)),
                        constant_values=np.nan)
        for i in range(h):
            for j in range(w):
                covered = padded.copy()
                covered[:, i:i + patch, j:j + patch] = fill
                inner = covered[:, before:before + h, before:before + w]
                s = model.forward(inner[None])[0]
                result[k, i, j] = p - np.exp(s[labels[k]]) / np.exp(s).sum()
    return result


def saliency_put_along(model, x, target):
    scores = model.forward(x)
    d = np.zeros_like(scores)
    np.put_along_axis(d, np.asarray(target)[:, None], 1, axis=1)
    g = model.backward_from_scores(d)
    return np.sqrt(np.max(g * g, axis=-3))          # |g| as the root of its square


def fgsm_sign_by_division(model, x, y, epsilon):
    g = loss_grad(model, x, y)
    unit = np.divide(g, np.abs(g), out=np.zeros_like(g), where=g != 0)
    return (x + epsilon * unit).clip(0, 1)


def attack_stopping_early(model, x, target, epsilon, step, steps):
    adv = x.copy()
    for _ in range(steps):
        if np.all(model.forward(adv).argmax(axis=1) == target):
            break                                   # every image already reads as its target
        model.loss(adv, target)
        adv -= step * np.sign(model.backward())
        np.clip(adv, x - epsilon, x + epsilon, out=adv)
        np.clip(adv, 0, 1, out=adv)
    return adv


def attack_clipping_in_the_other_order(model, x, target, epsilon, step, steps):
    adv = x.copy()
    for _ in range(steps):
        model.loss(adv, target)
        adv = np.clip(np.clip(adv - step * np.sign(model.backward()), 0, 1), x - epsilon,
                      x + epsilon)
    return adv


def occlusion_by_masks(model, x, labels, patch, fill):
    n, c, h, w = x.shape
    b, r, q = patch // 2, np.arange(h), np.arange(w)
    rows = (r[None, :] >= r[:, None] - b) & (r[None, :] < r[:, None] - b + patch)
    cols = (q[None, :] >= q[:, None] - b) & (q[None, :] < q[:, None] - b + patch)
    masks = (rows[:, None, :, None] & cols[None, :, None, :]).reshape(h * w, 1, h, w)
    out = np.empty((n, h, w), dtype=x.dtype)
    for k in range(n):
        covered = np.where(masks, fill, x[k][None]).astype(x.dtype)
        p0 = softmax_rows(model.forward(x[k:k + 1]))[0, labels[k]]
        out[k] = (p0 - softmax_rows(model.forward(covered))[:, labels[k]]).reshape(h, w)
    return out


def occlusion_with(**kw):
    """occlusion_by_loops with its slice rule, softmax or dtype changed: learners' mistakes."""
    def fn(model, x, labels, patch, fill):
        n, _, h, w = x.shape
        half = patch // 2
        low = kw.get("low", lambda i, p: max(i - half, 0))
        high = kw.get("high", lambda i, p: i - half + p)
        out = np.zeros((n, h, w), dtype=kw.get("dtype", x.dtype))
        for k in range(n):
            p = softmax_rows(model.forward(x[k:k + 1]))[0, labels[k]]
            for i in range(h):
                for j in range(w):
                    covered = x[k:k + 1].copy()
                    covered[:, :, low(i, patch):high(i, patch), low(j, patch):high(j, patch)] = fill
                    out[k, i, j] = p - softmax_rows(model.forward(covered))[0, labels[k]]
        return out
    return fn


def occlusion_softmax_without_axis(model, x, labels, patch, fill):
    n, _, h, w = x.shape
    out = np.zeros((n, h, w), dtype=x.dtype)
    for k in range(n):
        copies = np.repeat(x[k:k + 1], h * w, axis=0)
        for i in range(h):
            for j in range(w):
                copies[i * w + j, :, max(i - patch // 2, 0):i - patch // 2 + patch,
                       max(j - patch // 2, 0):j - patch // 2 + patch] = fill
        s = model.forward(copies)
        p_covered = np.exp(s) / np.exp(s).sum()                  # no axis: the whole batch
        p = softmax_rows(model.forward(x[k:k + 1]))[0, labels[k]]
        out[k] = (p - p_covered[:, labels[k]]).reshape(h, w)
    return out


def saliency_of_the_probability(model, x, target):
    s = model.forward(x)
    p = softmax_rows(s)
    onehot = np.eye(s.shape[1])[target]
    d = p[np.arange(len(x)), target][:, None] * (onehot - p)
    return np.abs(model.backward_from_scores(d)).max(axis=1)


def saliency_by_columns(model, x, target):
    s = model.forward(x)
    d = np.zeros_like(s)
    d[:, target] = 1
    return np.abs(model.backward_from_scores(d)).max(axis=1)


def fgsm_where(model, x, y, epsilon, strict=True):
    g = loss_grad(model, x, y)
    return np.clip(x + epsilon * np.where(g > 0 if strict else g >= 0, 1.0, -1.0), 0, 1)


def attack_with_one_sign(model, x, target, epsilon, step, steps):
    model.loss(x, target)
    s = np.sign(model.backward())                   # computed once, at x
    adv = x.copy()
    for _ in range(steps):
        adv = np.clip(np.clip(adv - step * s, x - epsilon, x + epsilon), 0, 1)
    return adv


def attack_raw_gradient(model, x, target, epsilon, step, steps):
    adv = x.copy()
    for _ in range(steps):
        model.loss(adv, target)
        adv = np.clip(np.clip(adv - step * model.backward(), x - epsilon, x + epsilon), 0, 1)
    return adv


def attack_projecting_at_the_end(model, x, target, epsilon, step, steps):
    adv = x.copy()
    for _ in range(steps):
        model.loss(adv, target)
        adv = adv - step * np.sign(model.backward())
    return np.clip(np.clip(adv, x - epsilon, x + epsilon), 0, 1)


REFERENCES = [
    (exercises.check_saliency, interpret.saliency),
    (exercises.check_fgsm, interpret.fgsm),
    (exercises.check_targeted_attack, attack()),
    (exercises.check_saliency, saliency_by_passes),
    (exercises.check_saliency, saliency_by_eye),
    (exercises.check_saliency, saliency_image_by_image),
    (exercises.check_fgsm, fgsm_with(lambda model, x, y: np.sign(loss_grad(model, x, y)))),
    (exercises.check_fgsm, fgsm_by_where),
    (exercises.check_fgsm, fgsm_image_by_image),
    (exercises.check_targeted_attack, attack_with_bounds),
    (exercises.check_targeted_attack, attack_on_delta),
    (exercises.check_occlusion, occlusion_by_loops),
    (exercises.check_occlusion, occlusion_one_batch_per_image),
    (exercises.check_occlusion, occlusion_by_padding),
    (exercises.check_occlusion,
     lambda m, x, t, p, f: interpret.occlusion(m, x, t, patch=p, fill=f)),
    (exercises.check_saliency, saliency_put_along),
    (exercises.check_fgsm, fgsm_sign_by_division),
    (exercises.check_targeted_attack, attack_stopping_early),
    (exercises.check_targeted_attack, attack_clipping_in_the_other_order),
    (exercises.check_occlusion, occlusion_by_masks),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {
    exercises.check_saliency,
    exercises.check_fgsm,
    exercises.check_targeted_attack,
    exercises.check_occlusion,
}


WRONG = [
    (exercises.check_saliency, stub, "your saliency is not written yet: the hint"),
    (exercises.check_saliency, lambda m, x, t: np.zeros((len(x),) + x.shape[2:]),
     "your saliency map is all zeros " + LINEAR_10 + "the class's weights)"),
    (exercises.check_saliency, lambda m, x, t: interpret.score_gradient(m, x, t).max(axis=1),
     "take the absolute value |d score / d x| (np.abs) before the max"),
    (exercises.check_saliency,
     lambda m, x, t: np.abs(interpret.score_gradient(m, x, t).max(axis=1)),
     "take the absolute value FIRST, then the max over the channels"),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)[:, 0]),
     "your saliency map: that is channel 0 only: take the max of |gradient| over ALL channels "
     "(axis 1) " + CONV_10),
    (exercises.check_saliency,
     lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).max(axis=1) / len(x),
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
     "dscores must be one-hot: in each ROW, 1 at that image's target class only"),
    (exercises.check_saliency,
     lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).sum(axis=1),
     "take the MAX over the channel axis (axis 1), not the sum " + CONV_10),
    (exercises.check_saliency, lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)),
     "your saliency map has the shape of x, (3, 1, 4, 4)"),
    (exercises.check_saliency,
     lambda m, x, t: np.abs(interpret.score_gradient(m, x, t)).max(axis=1).sum(axis=0),
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
    (exercises.check_fgsm, fgsm_in_place, "your fgsm changed the images x in place"),
    (exercises.check_fgsm, lambda m, x, y, e: interpret.fgsm(m, x, y, e)[:, 0],
     "your fgsm's result has the wrong shape"),
    (exercises.check_targeted_attack, stub, "your attack is not written yet: the hint"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: np.zeros_like(x),
     "your attack's result is all zeros"),
    (exercises.check_targeted_attack, attack(project=False),
     "the steps add up to more than epsilon"),
    (exercises.check_targeted_attack, attack(sign=1), "you ascended the loss of the TARGET class"),
    (exercises.check_targeted_attack, attack(sign=1, labels="pred"),
     "that is an untargeted attack"),
    (exercises.check_targeted_attack, attack(unit=False),
     "keep them in [0, 1] after each step"),
    (exercises.check_targeted_attack, attack(steps_used=1),
     "you took 1 step, not `steps` = 10: the direction is right"),
    (exercises.check_targeted_attack, attack(steps_used=4), "you took 4 steps, not"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: attack()(m, x, t, e, e, 1),
     "that is ONE signed step of size epsilon from x: either one step of size epsilon"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: attack()(m, x, t, e, s / 5, n),
     "Your steps go the right way"),
    (exercises.check_targeted_attack,
     lambda m, x, t, e, s, n: attack()(m, x, t, e, s, n).astype(float),
     "is float64, not float32, for float32 inputs"),
    (exercises.check_saliency, lambda m, x, t: saliency_by_passes(m, x, t).astype(np.float64),
     "is float64, not float32, for float32 inputs"),
    (exercises.check_fgsm, lambda m, x, y, e: fgsm_by_where(m, x, y, e).astype(np.float64),
     "is float64, not float32, for float32 inputs"),
    (exercises.check_fgsm, fgsm_reshaping_x,
     "your fgsm changed the shape of the images x"),
    (exercises.check_occlusion, stub, "your occlusion is not written yet: the hint"),
    (exercises.check_occlusion, lambda m, x, t, p, f: np.zeros((len(x),) + x.shape[2:]),
     "your occlusion map is all zeros"),
    (exercises.check_occlusion, occlusion_variant(quantity="covered"),
     "your map holds the probability WITH the patch"),
    (exercises.check_occlusion, occlusion_variant(quantity="rise"),
     "your map has its sign flipped"),
    (exercises.check_occlusion, occlusion_variant(quantity="score"),
     "your map uses the raw scores"),
    (exercises.check_occlusion, occlusion_variant(anchor="corner"),
     "your patch starts AT the pixel (its top-left corner)"),
    (exercises.check_occlusion,
     lambda m, x, t, p, f: occlusion_by_loops(m, x, t, p, f).transpose(0, 2, 1),
     "rows and columns are swapped"),
    (exercises.check_occlusion, occlusion_variant(channels=0), "only the first channel is covered"),
    (exercises.check_occlusion, lambda m, x, t, p, f: occlusion_by_loops(m, x, t, p, 0.0),
     "the patch must hold the value `fill` (0.5), not 0.0"),
    (exercises.check_occlusion, occlusion_leaving_the_patch,
     "your occlusion changed the images x in place"),
    (exercises.check_occlusion, lambda m, x, t, p, f: occlusion_by_loops(m, x, t, p, f)[:, 0],
     "your occlusion map has the wrong shape"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: x.copy(),
     "the images came back unchanged"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: x[:, 0],
     "your attack's result has the wrong shape"),
    # found by a learner trial: each with the message that names it
    (exercises.check_saliency, saliency_of_the_probability,
     "that is the gradient of the PROBABILITY p_c (after softmax)"),
    (exercises.check_saliency, saliency_by_columns, "in each ROW, 1 at that image's target class"),
    (exercises.check_saliency, lambda m, x, t: list(saliency_by_passes(m, x, t)),
     "your saliency returned a list, not a numpy array"),
    (exercises.check_fgsm, fgsm_where, "a pixel whose gradient is exactly 0 must stay where it "
     "is (its sign is 0); yours moved it by -epsilon"),
    (exercises.check_fgsm, lambda m, x, y, e: fgsm_where(m, x, y, e, strict=False),
     "yours moved it by +epsilon"),
    (exercises.check_fgsm, lambda m, x, y, e: (fgsm_by_where(m, x, y, e), loss_grad(m, x, y)),
     "your fgsm returned a tuple, not a numpy array"),
    (exercises.check_targeted_attack, attack_with_one_sign,
     "or the gradient's sign computed once, at x, and reused in every step"),
    (exercises.check_targeted_attack, attack_raw_gradient, "use the SIGN of the gradient in each "
     "step"),
    (exercises.check_targeted_attack, attack_projecting_at_the_end,
     "only once, after the loop; the method projects after EACH step"),
    (exercises.check_targeted_attack, attack(steps_used=9), "you took 9 steps, not `steps` = 10"),
    (exercises.check_targeted_attack, attack(steps_used=11), "you took 11 steps, not `steps` = 10"),
    (exercises.check_targeted_attack, lambda m, x, t, e, s, n: list(attack()(m, x, t, e, s, n)),
     "your attack returned a list, not a numpy array"),
    (exercises.check_occlusion, occlusion_with(high=lambda i, p: i + p // 2),
     "your square is one row and one column short"),
    (exercises.check_occlusion, occlusion_with(high=lambda i, p: i + p // 2 + 1),
     "your square is one row and one column too long"),
    (exercises.check_occlusion, occlusion_with(low=lambda i, p: i - p // 2),
     "Python counts a negative slice start from the END of the axis"),
    (exercises.check_occlusion, occlusion_softmax_without_axis,
     "normalised over the whole batch of covered copies"),
    (exercises.check_occlusion, occlusion_with(dtype=np.float64),
     "is float64, not float32, for float32 inputs"),
    (exercises.check_occlusion, lambda m, x, t, p, f: list(occlusion_by_loops(m, x, t, p, f)),
     "your occlusion returned a list, not a numpy array"),
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
