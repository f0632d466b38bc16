"""Checkers of the evaluation exercises (notebook 07): the most confused pair of digits and the
confidence of each prediction, with the references :func:`most_confused` and :func:`confidence`.
"""

import numpy as np

from ..functions import softmax
from .diagnosis import ExerciseError, call, caller_unchanged, compare, correct


def check_most_confused(fn):
    """Check ``fn(cm) -> (worst_digit, confused_with)`` for a confusion matrix ``cm`` (rows: true
    classes, columns: predictions): the class with the most mistakes, and its most frequent wrong
    prediction; returns ``fn``."""
    fixed = np.array([[50, 0, 1, 0],
                      [0, 40, 5, 0],
                      [3, 1, 30, 2],
                      [0, 0, 0, 90]])
    # seed 40: no two rows have the same number of mistakes, and the worst row has one largest
    # wrong answer, so any way of breaking ties gives the same answer
    rng = np.random.default_rng(40)
    random = rng.permutation(100).reshape(10, 10) + np.diag(rng.integers(500, 900, 10))
    # rows of very different sizes: the most mistakes, the highest error rate and the fewest
    # correct answers are three different rows
    sizes = np.array([[10, 1, 2, 5],
                      [7, 100, 4, 1],
                      [0, 0, 5, 1],
                      [1, 3, 1, 50]])
    for cm, where in [(fixed, f"for the matrix {fixed.tolist()}"),
                      (sizes, f"for the matrix {sizes.tolist()}"),
                      (random, "for a random 10 x 10 matrix")]:
        given = cm.copy()
        got = call("your most_confused", fn, given)
        caller_unchanged("the confusion matrix cm", given, cm, where, who="your most_confused")
        errors = cm - np.diag(np.diag(cm))
        worst = int(errors.sum(axis=1).argmax())
        by_column = int(errors.sum(axis=0).argmax())
        with_diagonal = int(cm.sum(axis=1).argmax())
        cell = [int(i) for i in np.unravel_index(errors.argmax(), errors.shape)]
        rate = int((errors.sum(axis=1) / cm.sum(axis=1)).argmax())
        fewest_right = int(np.diag(cm).argmin())
        pair = isinstance(got, (tuple, list)) or (isinstance(got, np.ndarray) and got.ndim == 1)
        if not pair or len(got) != 2:
            raise ExerciseError(f"return a pair (worst_digit, confused_with), got {got!r}")
        compare("(worst_digit, confused_with)", np.array(got, dtype=float),
                [worst, errors[worst].argmax()], [
                    ([by_column, errors[:, by_column].argmax()], "the rows are the true "
                     "digits: sum each ROW's mistakes (axis=1), then look along that row"),
                    ([with_diagonal, cm[with_diagonal].argmax()], "remove the diagonal (the "
                     "correct answers) first: a digit is not confused with itself"),
                    ([worst, cm[worst].argmax()], "remove the diagonal before looking for the "
                     "most frequent wrong prediction: a digit is not confused with itself"),
                    ([worst, errors[worst].max()], "confused_with is a digit (np.argmax), not "
                     "a count"),
                    ([errors[worst].argmax(), worst], "the pair is in the other order: first "
                     "the digit with the most mistakes, then the digit it is most often taken "
                     "for"),
                    ([worst + 1, errors[worst].argmax() + 1], "digits count from 0: row i is "
                     "digit i, and argmax already gives that index"),
                    ([errors.sum(axis=1).max(), errors[worst].argmax()], "worst_digit is a "
                     "digit (np.argmax), not its number of mistakes"),
                    ([rate, errors[rate].argmax()], "worst_digit is the digit with the most "
                     "mistakes, a count, not the one with the highest error rate (mistakes "
                     "divided by the row's total)"),
                    ([fewest_right, errors[fewest_right].argmax()], "the digit with the fewest "
                     "correct answers is not always the one with the most mistakes, since the "
                     "digits have different numbers of images: count each row's mistakes"),
                    (cell, "worst_digit is the digit with the most mistakes in total (the sum "
                     "of its row without the diagonal), not the row of the largest single "
                     "cell; then look along that row for its most frequent wrong answer")],
                where)
    correct("the digit with the most mistakes and what it is most often taken for")
    return fn


def most_confused(cm):
    """cnnlib's answer to notebook 07's exercise: ``(worst_digit, confused_with)`` for a confusion
    matrix ``cm`` (C, C) (rows: true classes, columns: predictions), two ints."""
    errors = np.asarray(cm) - np.diag(np.diag(cm))
    worst = int(errors.sum(axis=1).argmax())
    return worst, int(errors[worst].argmax())


def confidence(probs, labels):
    """cnnlib's answer to notebook 07's exercise: the mean top probability of ``probs`` (N, C)
    over the examples predicted right and over those predicted wrong (``labels`` (N,))."""
    right, top = probs.argmax(axis=1) == labels, probs.max(axis=1)
    return float(top[right].mean()), float(top[~right].mean())


def check_confidence(fn):
    """Check ``fn(probs, labels) -> (confidence_right, confidence_wrong)``: the mean top
    probability over the examples predicted right, and over those predicted wrong; returns
    ``fn``."""
    fixed = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
    rng = np.random.default_rng(37)
    random = softmax(rng.standard_normal((50, 10)) * 3)
    float32 = softmax(rng.standard_normal((40, 10)).astype(np.float32) * 3)
    for probs, labels, where in [(fixed, np.array([0, 2, 2, 1]), "for the four examples "
                                  f"{fixed.tolist()} with labels [0, 2, 2, 1]"),
                                 (random, rng.integers(0, 10, 50), "for 50 random examples"),
                                 (float32, rng.integers(0, 10, 40),
                                  "for 40 random float32 examples")]:
        given_probs, given_labels = probs.copy(), labels.copy()
        got = call("your confidence", fn, given_probs, given_labels)
        for saved, given, what in [(probs, given_probs, "probs"), (labels, given_labels, "labels")]:
            caller_unchanged(what, given, saved, where, who="your confidence")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise ExerciseError(f"return a pair (confidence_right, confidence_wrong), got {got!r}")
        if any(np.ndim(value) != 0 for value in got):
            raise ExerciseError(f"confidence_right and confidence_wrong should each be one "
                                f"number, a mean; got {got!r}")
        right = probs.argmax(axis=1) == labels
        probs = probs.astype(np.float64)
        top, true = probs.max(axis=1), probs[np.arange(len(labels)), labels]
        expected = [top[right].mean(), top[~right].mean()]
        compare("(confidence_right, confidence_wrong)", np.array(got, dtype=float), expected, [
           (expected[::-1], "the first is the confidence when RIGHT, the second when wrong"),
           ([true[right].mean(), true[~right].mean()], "the confidence is the TOP probability "
            "(that of the predicted class), not that of the true class"),
           ([top.mean()] * 2, "split the examples: predictions == labels for the right ones, "
            "!= for the wrong ones")], where)
    correct("the network's mean confidence when right and when wrong")
    return fn
