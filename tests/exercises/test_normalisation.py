"""The checkers of batch norm's backward pass (cnnlib.exercises.normalisation) accept right answers
(written independently of cnnlib where the exercise allows) and name each typical mistake."""

import numpy as np

from cnnlib import exercises, norm

from .helpers import checker_tests, layer, stub


def batchnorm(axes=(0, 2, 3), per="channel", mean_term=True, var_term=True, var_sign=-1, use_gamma=True,
              dgamma=None, dbeta=None):
    """A BatchNorm2D whose backward sums over ``axes`` (dividing by the count of those values, or by N
    with ``per="batch"``), optionally without the mean's or the variance's term, with the variance's
    term added, without gamma, and with dgamma/dbeta rules."""
    def backward(self, dout):
        xhat, gamma = self.xhat, self.params["gamma"].reshape(1, -1, 1, 1)
        self.grads["gamma"] = (dout * xhat).sum(axis=(0, 2, 3)) if dgamma is None else dgamma(self, dout)
        self.grads["beta"] = dout.sum(axis=(0, 2, 3)) if dbeta is None else dbeta(self, dout)
        dxhat = dout * gamma if use_gamma else dout
        if (per, mean_term, var_term, var_sign) == ("channel", True, True, -1):
            return norm.normalisation_backward(dxhat, xhat, self.inv_std, axes)
        m = len(dout) if per == "batch" else int(np.prod([dout.shape[a] for a in axes]))
        mean_path = dxhat.sum(axis=axes, keepdims=True) / m if mean_term else 0
        var_path = xhat * (dxhat * xhat).sum(axis=axes, keepdims=True) / m if var_term else 0
        return self.inv_std * (dxhat - mean_path + var_sign * var_path)
    return layer(norm.BatchNorm2D, backward)


def batchnorm_staged(self, dout):
    """A correct backward pass written stage by stage through xhat, the variance and the mean (the
    computational graph), with einsum for dgamma and dbeta and x rebuilt from xhat."""
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    self.grads["gamma"] = np.einsum("nchw,nchw->c", dout, self.xhat)
    self.grads["beta"] = np.einsum("nchw->c", dout)
    m = dout.size // dout.shape[1]
    centred = self.xhat / self.inv_std                      # x - mu
    dxhat = dout * gamma
    dvar = (dxhat * centred).sum(axis=(0, 2, 3), keepdims=True) * -0.5 * self.inv_std ** 3
    dmu = -(dxhat * self.inv_std).sum(axis=(0, 2, 3), keepdims=True) \
        - 2 / m * dvar * centred.sum(axis=(0, 2, 3), keepdims=True)
    return dxhat * self.inv_std + dvar * 2 * centred / m + dmu / m


def batchnorm_two_stage(self, dout):
    """A correct compact form whose sums go in two stages (over N, then over H and W)."""
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    self.grads["gamma"] = (dout * self.xhat).sum(axis=0).sum(axis=(1, 2))
    self.grads["beta"] = dout.sum(axis=0).sum(axis=(1, 2))
    dxhat, m = dout * gamma, dout.size // dout.shape[1]
    s1 = dxhat.sum(axis=0, keepdims=True).sum(axis=(2, 3), keepdims=True)
    s2 = (dxhat * self.xhat).sum(axis=0, keepdims=True).sum(axis=(2, 3), keepdims=True)
    return self.inv_std * (dxhat - s1 / m - self.xhat * s2 / m)


def batchnorm_in_place(self, dout):
    dout *= self.params["gamma"].reshape(1, -1, 1, 1)
    return batchnorm().backward(self, dout)


REFERENCES = [
    (exercises.check_batchnorm_backward, norm.BatchNorm2D),
    (exercises.check_batchnorm_backward, batchnorm()),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_staged)),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_two_stage)),
]


RETURN_THE_FUNCTION = set()


WRONG = [
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: stub()),
     "BatchNorm2D.backward is not written yet: the hint for this exercise"),
    (exercises.check_batchnorm_backward, batchnorm(mean_term=False, var_term=False),
     "dx misses the paths through the mean and the variance"),
    (exercises.check_batchnorm_backward, batchnorm(var_term=False),
     "dx misses the path through the variance (the most common mistake)"),
    (exercises.check_batchnorm_backward, batchnorm(mean_term=False), "dx misses the path through the mean:"),
    (exercises.check_batchnorm_backward, batchnorm(var_sign=1), "the variance's term has the wrong sign"),
    (exercises.check_batchnorm_backward, batchnorm(
        dgamma=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1) * self.xhat).sum(axis=(0, 2, 3))),
     "grads['gamma'] is multiplied by gamma"),
    (exercises.check_batchnorm_backward, batchnorm(use_gamma=False), "you forgot gamma"),
    (exercises.check_batchnorm_backward, batchnorm(per="batch"),
     "m is the number of values behind each mean, N*H*W = 8, not the batch size N = 2"),
    (exercises.check_batchnorm_backward, batchnorm(axes=(0,), per="batch"),
     "not over the batch axis only"),
    (exercises.check_batchnorm_backward, batchnorm(axes=(1, 2, 3)),
     "batch norm's statistics are per CHANNEL"),
    (exercises.check_batchnorm_backward, batchnorm(axes=(2, 3)), "per image and channel"),
    (exercises.check_batchnorm_backward, batchnorm(dgamma=lambda self, d: d * self.xhat),
     "grads['gamma'] has the shape of x (2, 2, 2, 2): sum it over N, H and W"),
    (exercises.check_batchnorm_backward, batchnorm(dbeta=lambda self, d: d.sum(axis=0)),
     "grads['beta'] has shape (2, 2, 2): it is summed over the batch only"),
    (exercises.check_batchnorm_backward, batchnorm(dbeta=lambda self, d: 0 * d.sum(axis=(0, 2, 3))),
     "grads['beta'] is all zeros (on the fixed case x = arange(16).reshape(2, 2, 2, 2)**2, dout = "
     "(arange(16) % 3 - 1).reshape(2, 2, 2, 2), gamma and beta random): store its gradient in "
     "self.grads['beta']"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: 0 * d),
     "dx is all zeros (on the fixed case"),
    (exercises.check_batchnorm_backward, batchnorm(dgamma=lambda self, d: d.sum(axis=(0, 2, 3)),
                                                   dbeta=lambda self, d: (d * self.xhat).sum(axis=(0, 2, 3))),
     "that is dbeta: dgamma = sum(dout * xhat)"),
    (exercises.check_batchnorm_backward, batchnorm(
        dbeta=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3))),
     "dbeta = sum(dout): beta is added as it is, not times gamma"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_in_place), "changed dout in place"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: None), "dx is None"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
