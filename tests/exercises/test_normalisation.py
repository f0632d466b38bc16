"""The checkers of batch norm's backward pass (cnnlib.exercises.normalisation) accept right answers
(written independently of cnnlib where the exercise allows) and name each typical mistake."""

import numpy as np

from cnnlib import exercises, norm

from .helpers import checker_tests, layer, stub


def batchnorm(axes=(0, 2, 3), per="channel", mean_term=True, var_term=True, var_sign=-1,
              use_gamma=True, dgamma=None, dbeta=None):
    """A BatchNorm2D whose backward sums over ``axes`` (dividing by the count of those values, or by
    N with ``per="batch"``), optionally without the mean's or the variance's term, with the
    variance's term added, without gamma, and with dgamma/dbeta rules."""
    def backward(self, dout):
        xhat, gamma = self.xhat, self.params["gamma"].reshape(1, -1, 1, 1)
        self.grads["gamma"] = ((dout * xhat).sum(axis=(0, 2, 3)) if dgamma is None
                               else dgamma(self, dout))
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
     "dx misses the path through the variance"),
    (exercises.check_batchnorm_backward, batchnorm(mean_term=False),
     "dx misses the path through the mean:"),
    (exercises.check_batchnorm_backward, batchnorm(var_sign=1),
     "the variance's term has the wrong sign"),
    (exercises.check_batchnorm_backward, batchnorm(
        dgamma=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1)
                                * self.xhat).sum(axis=(0, 2, 3))),
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
    (exercises.check_batchnorm_backward, batchnorm(
        dgamma=lambda self, d: d.sum(axis=(0, 2, 3)),
        dbeta=lambda self, d: (d * self.xhat).sum(axis=(0, 2, 3))),
     "that is dbeta: dgamma = sum(dout * xhat)"),
    (exercises.check_batchnorm_backward, batchnorm(
        dbeta=lambda self, d: (d * self.params["gamma"].reshape(1, -1, 1, 1)).sum(axis=(0, 2, 3))),
     "dbeta = sum(dout): beta is added as it is, not times gamma"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, batchnorm_in_place),
     "changed dout in place"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, lambda self, d: None),
     "dx is None"),
]



# --- batch norm's forward pass (three correct answers written independently) ---------------------

def bn_forward_keepdims(x, gamma, beta, eps):
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    return gamma[None, :, None, None] * xhat + beta[None, :, None, None], xhat, inv_std


def bn_forward_transposed(x, gamma, beta, eps):
    """Per channel as rows of a (C, N*H*W) matrix, the way CS231n's spatial batch norm reshapes."""
    n, c, h, w = x.shape
    rows = x.transpose(1, 0, 2, 3).reshape(c, -1)
    mu = rows.sum(axis=1, keepdims=True) / rows.shape[1]
    var = ((rows - mu) ** 2).sum(axis=1, keepdims=True) / rows.shape[1]
    inv_std = (var + eps) ** -0.5
    xhat_rows = (rows - mu) * inv_std
    xhat = xhat_rows.reshape(c, n, h, w).transpose(1, 0, 2, 3)
    out = (gamma[:, None] * xhat_rows + beta[:, None]).reshape(c, n, h, w).transpose(1, 0, 2, 3)
    return out, xhat, inv_std.reshape(1, c, 1, 1).astype(x.dtype)


def bn_forward_loop(x, gamma, beta, eps):
    """A loop over channels, dtype kept with x.dtype.type."""
    out, xhat = np.empty_like(x), np.empty_like(x)
    inv_std = np.empty((1, x.shape[1], 1, 1), dtype=x.dtype)
    for c in range(x.shape[1]):
        values = x[:, c]
        mean = values.mean()
        s = np.sqrt(((values - mean) ** 2).mean() + x.dtype.type(eps))
        inv_std[0, c] = 1 / s
        xhat[:, c] = (values - mean) / s
        out[:, c] = gamma[c] * xhat[:, c] + beta[c]
    return out, xhat, inv_std


def bn_forward(ddof=0, eps_where="inside", axes=(0, 2, 3), sqrt=True, swap=False, affine=True,
               in_place=False, upcast=False, reduced=False):
    """A batch norm forward pass with one typical mistake."""
    def forward(x, gamma, beta, eps):
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        e = 0 if eps_where == "none" else eps
        if not sqrt:
            inv_std = 1 / (var + e)
        elif eps_where == "outside":
            inv_std = 1 / (np.sqrt(var) + e)
        else:
            inv_std = 1 / np.sqrt(var + e)
        if in_place:
            x -= mu
            xhat = x * inv_std
        else:
            xhat = (x - mu) * inv_std
        g, b = (beta, gamma) if swap else (gamma, beta)
        out = g.reshape(1, -1, 1, 1) * xhat + b.reshape(1, -1, 1, 1) if affine else xhat
        if upcast:
            out = out.astype(np.float64)
        return out, xhat, inv_std.reshape(-1) if reduced else inv_std
    return forward


# --- group norm's backward pass ------------------------------------------------------------------

def gn_backward_compact(self, dout):
    axes = (0,) + tuple(range(2, dout.ndim))
    self.grads["gamma"] = (dout * self.xhat).sum(axis=axes)
    self.grads["beta"] = dout.sum(axis=axes)
    n, g = len(dout), self.num_groups
    shape = (1, -1) + (1,) * (dout.ndim - 2)
    dxhat = (dout * self.params["gamma"].reshape(shape)).reshape(n, g, -1)
    xhat = self.xhat.reshape(n, g, -1)
    m = xhat.shape[2]
    dx = self.inv_std / m * (m * dxhat - dxhat.sum(axis=2, keepdims=True)
                             - xhat * (dxhat * xhat).sum(axis=2, keepdims=True))
    return dx.reshape(dout.shape)


def gn_backward_staged(self, dout):
    """Through the graph: dvar, dmu, then three paths, with x - mu = xhat / inv_std."""
    n, g = len(dout), self.num_groups
    axes = (0,) + tuple(range(2, dout.ndim))
    flat = dout.reshape(n, dout.shape[1], -1)
    self.grads["gamma"] = np.einsum("nck,nck->c", flat, self.xhat.reshape(flat.shape))
    self.grads["beta"] = np.einsum("nck->c", flat)
    gamma = self.params["gamma"].reshape((1, -1) + (1,) * (dout.ndim - 2))
    dxhat = (dout * gamma).reshape(n, g, -1)
    inv = self.inv_std
    centred = self.xhat.reshape(n, g, -1) / inv
    m = centred.shape[2]
    dvar = (dxhat * centred).sum(axis=2, keepdims=True) * -0.5 * inv ** 3
    dmu = -(dxhat * inv).sum(axis=2, keepdims=True) - dvar * 2 * centred.mean(axis=2, keepdims=True)
    del axes
    return (dxhat * inv + dvar * 2 * centred / m + dmu / m).reshape(dout.shape)


def gn_backward_loop(self, dout):
    """One image and group at a time, with the means of dxhat and dxhat * xhat."""
    n, g = len(dout), self.num_groups
    c = dout.shape[1]
    per = c // g
    dx = np.empty_like(dout)
    gamma = self.params["gamma"]
    dgamma, dbeta = np.zeros_like(gamma), np.zeros_like(gamma)
    for i in range(n):
        for k in range(g):
            sl = slice(k * per, (k + 1) * per)
            d = dout[i, sl] * gamma[sl].reshape((-1,) + (1,) * (dout.ndim - 2))
            xh = self.xhat[i, sl]
            dx[i, sl] = self.inv_std[i, k, 0] * (d - d.mean() - xh * (d * xh).mean())
        dgamma += (dout[i] * self.xhat[i]).reshape(c, -1).sum(axis=1)
        dbeta += dout[i].reshape(c, -1).sum(axis=1)
    self.grads["gamma"], self.grads["beta"] = dgamma, dbeta
    return dx


def gn_backward(per="group", ddof=0, mean_term=True, var_term=True, var_sign=-1, use_gamma=True,
                dgamma=None, in_place=False, upcast=False):
    def backward(self, dout):
        n, c, g = len(dout), dout.shape[1], self.num_groups
        axes = (0,) + tuple(range(2, dout.ndim))
        self.grads["gamma"] = (dout * self.xhat).sum(axis=axes) if dgamma is None \
            else dgamma(self, dout)
        self.grads["beta"] = dout.sum(axis=axes)
        shape = (1, -1) + (1,) * (dout.ndim - 2)
        if in_place:
            dout *= self.params["gamma"].reshape(shape)
            dxhat = dout
        else:
            dxhat = dout * self.params["gamma"].reshape(shape) if use_gamma else dout
        inv = (self.inv_std * np.ones((n, g, self.xhat[0].size // g))).reshape(dout.shape)
        view, sum_axes = {"group": ((n, g, -1), (2,)), "channel": ((n, c, -1), (2,)),
                          "batch": ((n, g, -1), (0, 2))}[per]
        dh, xh, iv = (a.reshape(view) for a in (dxhat, self.xhat, inv))
        m = np.prod([dh.shape[a] for a in sum_axes]) - ddof
        mp = dh.sum(axis=sum_axes, keepdims=True) / m if mean_term else 0
        vp = xh * (dh * xh).sum(axis=sum_axes, keepdims=True) / m if var_term else 0
        dx = (iv * (dh - mp + var_sign * vp)).reshape(dout.shape)
        return dx.astype(np.float64) if upcast else dx
    return layer(norm.GroupNorm, backward)


def bn_backward_centred_wrong(self, dout):
    """The staged backward pass with x - mu rebuilt as xhat * inv_std (it is xhat / inv_std)."""
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
    self.grads["beta"] = dout.sum(axis=(0, 2, 3))
    m = dout.size // dout.shape[1]
    centred = self.xhat * self.inv_std
    dxhat = dout * gamma
    dvar = (dxhat * centred).sum(axis=(0, 2, 3), keepdims=True) * -0.5 * self.inv_std ** 3
    dmu = -(dxhat * self.inv_std).sum(axis=(0, 2, 3), keepdims=True)
    return dxhat * self.inv_std + dvar * 2 * centred / m + dmu / m


def bn_backward_m_minus_1(self, dout):
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
    self.grads["beta"] = dout.sum(axis=(0, 2, 3))
    m = dout.size // dout.shape[1] - 1
    dxhat = dout * gamma
    return self.inv_std * (dxhat - dxhat.sum(axis=(0, 2, 3), keepdims=True) / m
                           - self.xhat * (dxhat * self.xhat).sum(axis=(0, 2, 3), keepdims=True) / m)


MORE_REFERENCES = [
    (exercises.check_batchnorm_forward, bn_forward_keepdims),
    (exercises.check_batchnorm_forward, bn_forward_transposed),
    (exercises.check_batchnorm_forward, bn_forward_loop),
    (exercises.check_groupnorm_backward, norm.GroupNorm),
    (exercises.check_groupnorm_backward, layer(norm.GroupNorm, gn_backward_compact)),
    (exercises.check_groupnorm_backward, layer(norm.GroupNorm, gn_backward_staged)),
    (exercises.check_groupnorm_backward, layer(norm.GroupNorm, gn_backward_loop)),
]

MORE_WRONG = [
    (exercises.check_batchnorm_forward, stub, "batchnorm_forward is not written yet"),
    (exercises.check_batchnorm_forward, bn_forward(ddof=1), "the variance divides by m - 1 = 7"),
    (exercises.check_batchnorm_forward, bn_forward(eps_where="outside"),
     "eps is added to the standard deviation"),
    (exercises.check_batchnorm_forward, bn_forward(eps_where="none"), "eps is missing"),
    (exercises.check_batchnorm_forward, bn_forward(sqrt=False), "you divide by the variance"),
    (exercises.check_batchnorm_forward, bn_forward(swap=True), "gamma and beta are swapped"),
    (exercises.check_batchnorm_forward, bn_forward(affine=False), "out is xhat alone"),
    (exercises.check_batchnorm_forward, bn_forward(axes=(0,)), "the statistics are per pixel"),
    (exercises.check_batchnorm_forward, bn_forward(axes=(1, 2, 3)), "as layer norm takes them"),
    (exercises.check_batchnorm_forward, bn_forward(axes=(2, 3)), "as instance norm takes them"),
    (exercises.check_batchnorm_forward, bn_forward(in_place=True), "changed the caller's x"),
    (exercises.check_batchnorm_forward, bn_forward(upcast=True),
     "out is float64, not float32, for float32 inputs"),
    (exercises.check_batchnorm_forward, bn_forward(reduced=True), "inv_std has shape (2,)"),
    (exercises.check_batchnorm_forward, lambda x, g, b, e: bn_forward()(x, g, b, e)[0],
     "should return three things"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, bn_backward_centred_wrong),
     "x - mu is xhat / inv_std"),
    (exercises.check_batchnorm_backward, layer(norm.BatchNorm2D, bn_backward_m_minus_1),
     "the sums are divided by m - 1 = 7"),
    (exercises.check_groupnorm_backward, layer(norm.GroupNorm, lambda self, d: stub()),
     "GroupNorm.backward is not written yet"),
    (exercises.check_groupnorm_backward, gn_backward(mean_term=False, var_term=False),
     "dx misses the paths through the mean and the variance"),
    (exercises.check_groupnorm_backward, gn_backward(var_term=False),
     "dx misses the path through the group's variance"),
    (exercises.check_groupnorm_backward, gn_backward(mean_term=False),
     "dx misses the path through the group's mean"),
    (exercises.check_groupnorm_backward, gn_backward(var_sign=1),
     "the variance's term has the wrong"),
    (exercises.check_groupnorm_backward, gn_backward(use_gamma=False), "you forgot gamma"),
    (exercises.check_groupnorm_backward, gn_backward(ddof=1), "the sums are divided by m - 1"),
    (exercises.check_groupnorm_backward, gn_backward(per="batch"), "as in batch norm"),
    (exercises.check_groupnorm_backward, gn_backward(per="channel"), "(instance norm)"),
    (exercises.check_groupnorm_backward, gn_backward(dgamma=lambda self, d: d * self.xhat),
     "grads['gamma'] has the shape of x"),
    (exercises.check_groupnorm_backward, gn_backward(dgamma=lambda self, d: d.sum(axis=(0, 2, 3))),
     "dgamma and dbeta are swapped"),
    (exercises.check_groupnorm_backward, gn_backward(in_place=True), "changed dout in place"),
    (exercises.check_groupnorm_backward, gn_backward(upcast=True),
     "dx of a float32 layer is float64, not float32"),
    (exercises.check_groupnorm_backward, layer(norm.GroupNorm, lambda self, d: 0 * d),
     "dx is all zeros"),
]

REFERENCES += MORE_REFERENCES
WRONG += MORE_WRONG + [(exercises.check_batchnorm_forward,
                        lambda x, g, b, e: tuple(0 * a for a in bn_forward()(x, g, b, e)),
                        "out is all zeros")]


# --- found by the learner trial of session 7: each had a generic message before ------------------

def bn_backward_staged_with(*, half=True, power=3, outer=True, m_all=False, keepdims=True):
    """The staged backward pass with one slip: the -1/2 of the variance's derivative missing, the
    power of inv_std, the outer 1/s left out, m counted over every value, the sums' axes dropped."""
    def backward(self, dout):
        axes = (0, 2, 3)
        gamma = self.params["gamma"].reshape(1, -1, 1, 1)
        self.grads["gamma"] = (dout * self.xhat).sum(axis=axes)
        self.grads["beta"] = dout.sum(axis=axes)
        m = dout.size if m_all else dout.size // dout.shape[1]
        dxhat = dout * gamma
        if not keepdims:
            s1, s2 = dxhat.sum(axis=axes), (dxhat * self.xhat).sum(axis=axes)
            return self.inv_std / m * (m * dxhat - s1 - self.xhat * s2)
        centred = self.xhat / self.inv_std
        dvar = (dxhat * centred).sum(axis=axes, keepdims=True) * (-0.5 if half else -1.0) \
            * self.inv_std ** power
        dmu = -(dxhat * self.inv_std).sum(axis=axes, keepdims=True)
        dx = dxhat * self.inv_std + dvar * 2 * centred / m + dmu / m
        return dx if outer else dx / self.inv_std
    return layer(norm.BatchNorm2D, backward)


def bn_forward_with(*, axes=(0, 2, 3), gamma_shape=(1, -1, 1, 1), give_var=False):
    def forward(x, gamma, beta, eps):
        mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        xhat = (x - mu) / np.sqrt(var + eps)
        out = gamma.reshape(gamma_shape) * xhat + beta.reshape(gamma_shape)
        inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
        return out, xhat, var if give_var else inv_std
    return forward


def gn_backward_no_inv_std(self, dout):
    n, g = len(dout), self.num_groups
    axes = (0,) + tuple(range(2, dout.ndim))
    self.grads["gamma"] = (dout * self.xhat).sum(axis=axes)
    self.grads["beta"] = dout.sum(axis=axes)
    d = (dout * self.params["gamma"].reshape((1, -1) + (1,) * (dout.ndim - 2))).reshape(n, g, -1)
    xh = self.xhat.reshape(n, g, -1)
    return (d - d.mean(axis=2, keepdims=True)
            - xh * (d * xh).mean(axis=2, keepdims=True)).reshape(dout.shape)


WRONG += [
    (exercises.check_batchnorm_backward, bn_backward_staged_with(half=False),
     "the variance's path comes out twice too large"),
    (exercises.check_batchnorm_backward, bn_backward_staged_with(power=2),
     "the variance's path is s times too large"),
    (exercises.check_batchnorm_backward, bn_backward_staged_with(outer=False),
     "dx misses the factor 1/s = inv_std"),
    (exercises.check_batchnorm_backward, bn_backward_staged_with(m_all=True),
     "the sums are divided by N*C*H*W = 16"),
    (exercises.check_batchnorm_backward, bn_backward_staged_with(keepdims=False),
     "it lines up with the LAST axis, W, not with the channels"),
    (exercises.check_batchnorm_forward, bn_forward_with(gamma_shape=(-1,)),
     "gamma and beta of shape (C,) broadcast against (N, C, H, W) line up with the LAST axis"),
    (exercises.check_batchnorm_forward, bn_forward_with(axes=(1,)),
     "the statistics are over the channels (axis=1)"),
    (exercises.check_batchnorm_forward, bn_forward_with(axes=(0, 2)),
     "the statistics leave out the W axis"),
    (exercises.check_batchnorm_forward, bn_forward_with(axes=(0, 3)),
     "the statistics leave out the H axis"),
    (exercises.check_batchnorm_forward, bn_forward_with(give_var=True), "that is the variance"),
    (exercises.check_groupnorm_backward, layer(norm.GroupNorm, gn_backward_no_inv_std),
     "dx misses the factor 1/s = self.inv_std"),
]

test_checker_accepts_a_right_answer, test_checker_names_the_mistake = checker_tests(
    REFERENCES, WRONG, RETURN_THE_FUNCTION)
