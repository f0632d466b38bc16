"""The checkers of the evaluation exercises (cnnlib.exercises.evaluation) accept right answers
(written independently of cnnlib where the exercise allows) and name each typical mistake."""

import numpy as np

from cnnlib import exercises

from .helpers import checker_tests, stub


def most_confused(cm):
    errors = cm - np.diag(np.diag(cm))
    worst = int(errors.sum(axis=1).argmax())
    return worst, int(errors[worst].argmax())


def confidence(probs, labels, top=lambda p, y: p.max(axis=1)):
    right = probs.argmax(axis=1) == labels
    value = top(probs, labels)
    return value[right].mean(), value[~right].mean()


def most_confused_by_loops(cm):
    """Plain Python: count each row's mistakes, then the row's largest off-diagonal cell."""
    n = len(cm)
    totals = [sum(int(cm[i][j]) for j in range(n) if j != i) for i in range(n)]
    worst = max(range(n), key=lambda i: totals[i])
    return worst, max((j for j in range(n) if j != worst), key=lambda j: cm[worst][j])


def most_confused_stable_sort(cm):
    """Ties broken the other way: the LAST of equal rows and cells (a stable sort, reversed)."""
    errors = cm.astype(float)
    errors[np.diag_indices_from(errors)] = 0
    worst = sorted(range(len(cm)), key=lambda i: errors[i].sum())[-1]
    return int(worst), int(sorted(range(len(cm)), key=lambda j: errors[worst, j])[-1])


def most_confused_masked(cm):
    errors = np.where(np.eye(len(cm), dtype=bool), 0, cm)
    worst = np.argmax(errors.sum(1))
    return int(worst), int(np.argmax(errors[worst]))


def zeroes_the_diagonal(cm):
    np.fill_diagonal(cm, 0)
    return most_confused(cm)


def reshapes_the_matrix(cm):
    answer = most_confused(cm)
    cm.shape = (-1,)
    return answer


def confidence_by_loops(probs, labels):
    right, wrong = [], []
    for p, y in zip(probs, labels):
        (right if int(np.argmax(p)) == y else wrong).append(float(max(p)))
    return sum(right) / len(right), sum(wrong) / len(wrong)


def confidence_sorted_top(probs, labels):
    top = np.sort(probs, axis=1)[:, -1]
    hit = np.argmax(probs, axis=1) == labels
    return np.average(top, weights=hit), np.average(top, weights=~hit)


def confidence_normalises_in_place(probs, labels):
    probs /= probs.sum(axis=1, keepdims=True) * 2
    return confidence(probs, labels)


def most_confused_as_array(cm):
    """The pair as one numpy array, via a copy whose diagonal is filled with zeros."""
    errors = cm.copy()
    np.fill_diagonal(errors, 0)
    worst = errors.sum(axis=1).argmax()
    return np.array([worst, errors[worst].argmax()])


def most_confused_variant(kind):
    """A most_confused with the mistake ``kind``."""
    def answer(cm):
        errors = cm - np.diag(np.diag(cm))
        worst = int(errors.sum(axis=1).argmax())
        if kind == "rate":
            worst = int((errors.sum(axis=1) / cm.sum(axis=1)).argmax())
        elif kind == "fewest_right":
            worst = int(np.diag(cm).argmin())
        confused = int(errors[worst].argmax())
        if kind == "swapped":
            return confused, worst
        if kind == "one_based":
            return worst + 1, confused + 1
        if kind == "count":
            return int(errors.sum(axis=1).max()), confused
        return worst, confused
    return answer


def largest_cell(cm):
    errors = cm - np.diag(np.diag(cm))
    return tuple(int(i) for i in np.unravel_index(errors.argmax(), errors.shape))


REFERENCES = [
    (exercises.check_most_confused, most_confused),
    (exercises.check_most_confused, exercises.most_confused),
    (exercises.check_most_confused, most_confused_by_loops),
    (exercises.check_most_confused, most_confused_stable_sort),
    (exercises.check_most_confused, most_confused_masked),
    (exercises.check_most_confused, most_confused_as_array),
    (exercises.check_confidence, confidence_by_loops),
    (exercises.check_confidence, confidence_sorted_top),
    (exercises.check_confidence, confidence),
    (exercises.check_confidence, exercises.confidence),
]

# checkers of functions that later cells use: a notebook writes f = check_f(my_f)
RETURN_THE_FUNCTION = {
    exercises.check_most_confused,
    exercises.check_confidence,
}


WRONG = [
    (exercises.check_most_confused, stub, "your most_confused is not written yet"),
    (exercises.check_most_confused, most_confused_variant("swapped"), "the pair is in the other "
     "order"),
    (exercises.check_most_confused, most_confused_variant("one_based"), "digits count from 0"),
    (exercises.check_most_confused, most_confused_variant("count"), "worst_digit is a digit "
     "(np.argmax), not its number of mistakes"),
    (exercises.check_most_confused, most_confused_variant("rate"), "not the one with the highest "
     "error rate"),
    (exercises.check_most_confused, most_confused_variant("fewest_right"), "the digit with the "
     "fewest correct answers is not always the one with the most mistakes"),
    (exercises.check_confidence, lambda p, y: tuple([v] for v in confidence(p, y)),
     "should each be one number, a mean"),
    (exercises.check_most_confused, lambda cm: (0, 0), "(worst_digit, confused_with) for the "
     "matrix [[50, 0, 1, 0], [0, 40, 5, 0], [3, 1, 30, 2], [0, 0, 0, 90]] is all zeros"),
    (exercises.check_most_confused, largest_cell, "for the matrix [[50, 0, 1, 0], [0, 40, 5, 0], "
     "[3, 1, 30, 2], [0, 0, 0, 90]]: worst_digit is the digit with the most mistakes in total (the "
     "sum of its row without the diagonal), not the row of the largest single cell"),
    (exercises.check_most_confused, lambda cm: most_confused(cm.T), "the rows are the true "
     "digits: sum each ROW's mistakes (axis=1)"),
    (exercises.check_most_confused, lambda cm: (int(cm.sum(axis=1).argmax()),
                                                int(cm[cm.sum(axis=1).argmax()].argmax())),
     "remove the diagonal (the correct answers) first"),
    (exercises.check_most_confused, lambda cm: (most_confused(cm)[0],
                                                int(cm[most_confused(cm)[0]].argmax())),
     "remove the diagonal before looking for the most frequent wrong prediction"),
    (exercises.check_most_confused, lambda cm: (2, 3), "confused_with is a digit (np.argmax), "
     "not a count"),
    (exercises.check_most_confused, lambda cm: 1, "return a pair (worst_digit, confused_with)"),
    (exercises.check_most_confused, zeroes_the_diagonal, "your most_confused changed the "
     "confusion matrix cm in place"),
    (exercises.check_most_confused, reshapes_the_matrix, "your most_confused changed the shape "
     "of the confusion matrix cm"),
    (exercises.check_confidence, confidence_normalises_in_place, "your confidence changed probs "
     "in place"),
    (exercises.check_confidence, stub, "your confidence is not written yet"),
    (exercises.check_confidence, lambda p, y: (0.0, 0.0), "is all zeros"),
    (exercises.check_confidence, lambda p, y: confidence(p, y)[::-1],
     "the first is the confidence when RIGHT"),
    (exercises.check_confidence, lambda p, y: confidence(p, y, lambda q, z: q[np.arange(len(z)),
                                                                               z]),
     "the TOP probability (that of the predicted class), not that of the true class"),
    (exercises.check_confidence, lambda p, y: (p.max(axis=1).mean(),) * 2,
     "split the examples"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
