"""What a trained network looks at and how it fails (notebooks 12 and 13).

- :func:`score_gradient` and :func:`saliency`: the gradient of one class score with respect to the
  input image, and its size per pixel (a saliency map).
- :func:`occlusion`: how much the probability of a class drops when a patch covers each place
  (black, erasing, on a black background like MNIST's; grey on others).
- :func:`fgsm` and :func:`fgsm_accuracy`: the fast gradient sign method, an adversarial example
  ``clip(x + epsilon * sign(dL/dx), 0, 1)``, and accuracy as a function of ``epsilon``.
- :func:`targeted_attack`: small signed-gradient steps towards a chosen class, each projected back
  onto the images within ``epsilon`` of x (and into [0, 1]).
- :func:`shift_images` and :func:`rotate_images`: moved and turned copies of images, to measure
  how robust a network is to them; :func:`shifted_test_set`: the series' shifted test digits
  (notebook 10 introduces them, notebook 13 reuses them).

Every function that needs an input gradient takes a model built with ``input_grad=True`` (e.g.
``LeNet5(input_grad=True)``; ``model.input_grad = True`` switches it on later), and works through
the data ``batch_size`` images at a time.
"""

import numbers

import numpy as np

from ._checks import positive_int
from .functions import softmax
from .training import scores as batched_scores

# --- argument checks ---------------------------------------------------------------------------

def _check_model(model):
    if not hasattr(model, "backward_from_scores"):
        raise TypeError(f"model: expected a cnnlib Sequential (LeNet5, TwoLayerNet, ...), got "
                        f"{type(model).__name__}")
    if not model.input_grad:
        raise ValueError("model: this needs the gradient with respect to the input; build the "
                         "model with input_grad=True (e.g. LeNet5(input_grad=True)) or set "
                         "model.input_grad = True")


def _check_images(name, x, ndim=None):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: expected float images, got dtype {x.dtype}")
    if x.ndim < 2 or (ndim is not None and x.ndim != ndim):
        expected = f"a {ndim}-D array" if ndim else "an array (N, ...)"
        raise ValueError(f"{name}: expected {expected}, got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name}: expected at least one image, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: expected finite pixel values, got {np.isnan(x).sum()} NaN and "
                         f"{np.isinf(x).sum()} infinite values")
    return x


def _check_labels(name, labels, n, num_classes=None):
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: expected {n} integer class indices, shape ({n},), got "
                         f"{labels.dtype} of shape {labels.shape}")
    if num_classes is not None and labels.size and (labels.min() < 0
                                                    or labels.max() >= num_classes):
        raise ValueError(f"{name}: class indices must be in [0, {num_classes}), got "
                         f"{labels.min()}..{labels.max()}")
    return labels


def _check_epsilon(epsilon):
    if not isinstance(epsilon, numbers.Real) or not np.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"epsilon: expected a finite number >= 0, got {epsilon!r}")
    return float(epsilon)


# --- saliency ----------------------------------------------------------------------------------

def score_gradient(model, x, target, *, batch_size=500):
    """The gradient of class ``target``'s score with respect to the input, image by image.

    x: ``(N, ...)`` images as the model takes them (``(N, 1, 28, 28)`` for LeNet-5); target:
    ``(N,)`` class indices. Returns ``d scores[n, target[n]] / d x[n]``, shaped and typed like x.
    The score is the network's output before softmax; each image's gradient is that of its own
    score only (the examples of a batch do not interact). Needs ``model.input_grad``.
    """
    _check_model(model)
    x = _check_images("x", x)
    positive_int("batch_size", batch_size)
    grads = np.empty_like(x)
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        out = model.forward(batch)
        if start == 0:
            target = _check_labels("target", target, len(x), out.shape[1])
        dscores = np.zeros_like(out)
        dscores[np.arange(len(batch)), target[start:start + batch_size]] = 1
        grads[start:start + batch_size] = model.backward_from_scores(dscores)
    return grads


def saliency(model, x, target=None, *, batch_size=500):
    """Saliency maps ``(N, H, W)``: ``max over channels of |d score_target / d x|`` per pixel.

    x: ``(N, C, H, W)`` images; target: ``(N,)`` class indices, default the predicted classes.
    A large value marks a pixel whose small change moves the class score most. Needs
    ``model.input_grad``.
    """
    x = _check_images("x", x, ndim=4)
    if target is None:
        _check_model(model)
        target = batched_scores(model, x, batch_size).argmax(axis=1)
    return np.abs(score_gradient(model, x, target, batch_size=batch_size)).max(axis=1)


# --- occlusion ---------------------------------------------------------------------------------

def _patch_masks(height, width, patch, stride):
    """Boolean masks ``(P, H, W)``, one per patch position; the patch of side ``patch`` is centred
    on pixel ``(i * stride, j * stride)`` and cut off at the image's edges."""
    rows, cols = range(0, height, stride), range(0, width, stride)
    masks = np.zeros((len(rows), len(cols), height, width), dtype=bool)
    before = patch // 2
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            masks[a, b, max(r - before, 0):r - before + patch,
                  max(c - before, 0):c - before + patch] = True
    return masks.reshape(-1, height, width), (len(rows), len(cols))


def occlusion(model, x, labels, *, patch=6, stride=1, fill=0.5, batch_size=1000):
    """Occlusion sensitivity: how much the probability of ``labels`` drops under a patch.

    x: ``(N, C, H, W)`` images; labels: ``(N,)`` the class to watch (usually the true one). For each
    position ``(i, j)`` a ``patch x patch`` square of value ``fill`` is centred on pixel
    ``(i * stride, j * stride)`` (cut off at the edges) in every channel, and the map holds
    ``p(label | x) - p(label | occluded x)``. Returns ``(N, ceil(H / stride), ceil(W / stride))``
    (``(N, H, W)`` at stride 1, aligned with the pixels), typed like x: positive where covering
    the image hurts the class, negative where it helps. All positions of an image run as batches
    of ``batch_size``.
    Choose ``fill`` as the image's background: on a black background (MNIST) ``fill = 0`` erases
    what the patch covers, while the default grey 0.5 would ADD ink there (Zeiler & Fergus, 2014,
    covered with grey on natural images).
    """
    x = _check_images("x", x, ndim=4)
    labels = _check_labels("labels", labels, len(x))
    positive_int("patch", patch)
    positive_int("stride", stride)
    positive_int("batch_size", batch_size)
    if not isinstance(fill, numbers.Real) or not np.isfinite(fill):
        raise ValueError(f"fill: expected a finite number (the background value), got {fill!r}")
    n, channels, height, width = x.shape
    masks, map_shape = _patch_masks(height, width, patch, stride)
    maps = np.empty((n, len(masks)), dtype=np.float64)
    fill = x.dtype.type(fill)
    for k in range(n):
        base = softmax(model.forward(x[k:k + 1]).astype(np.float64))[0]
        if k == 0 and (labels.min() < 0 or labels.max() >= len(base)):
            raise ValueError(f"labels: class indices must be in [0, {len(base)}), got "
                             f"{labels.min()}..{labels.max()}")
        for start in range(0, len(masks), batch_size):
            chunk = masks[start:start + batch_size, None]
            covered = np.where(chunk, fill, x[k][None])
            probs = softmax(model.forward(covered).astype(np.float64))
            maps[k, start:start + len(chunk)] = base[labels[k]] - probs[:, labels[k]]
    return maps.reshape(n, *map_shape).astype(x.dtype, copy=False)


# --- adversarial examples ----------------------------------------------------------------------

def loss_gradient_sign(model, x, y, *, batch_size=500):
    """``sign(dL/dx)`` for the softmax cross-entropy loss of labels ``y``, shaped and typed like x.

    x: ``(N, ...)`` images; y: ``(N,)`` class indices. The loss is the batch mean, which only scales
    the gradient, so the sign is that of each image's own loss. Needs ``model.input_grad``.
    """
    _check_model(model)
    x = _check_images("x", x)
    y = _check_labels("y", y, len(x))
    positive_int("batch_size", batch_size)
    signs = np.empty_like(x)
    for start in range(0, len(x), batch_size):
        model.loss(x[start:start + batch_size], y[start:start + batch_size])
        signs[start:start + batch_size] = np.sign(model.backward())
    return signs


def fgsm(model, x, y, epsilon, *, batch_size=500):
    """The fast gradient sign method: ``clip(x + epsilon * sign(dL/dx), 0, 1)``.

    x: ``(N, ...)`` images with pixels in [0, 1]; y: ``(N,)`` true labels; epsilon >= 0: how far
    each pixel may move. Returns adversarial images shaped and typed like x (x itself is not
    changed); ``epsilon = 0`` gives x back. Each pixel moves by ``epsilon`` in the direction that
    increases the loss to first order: the step of largest first-order increase among all changes
    of at most ``epsilon`` per pixel. Needs ``model.input_grad``.
    """
    epsilon = _check_epsilon(epsilon)
    x = _check_images("x", x)
    signs = loss_gradient_sign(model, x, y, batch_size=batch_size)
    return np.clip(x + x.dtype.type(epsilon) * signs, 0, 1).astype(x.dtype, copy=False)


def fgsm_accuracy(model, x, y, epsilons, *, batch_size=500):
    """Accuracy ``(len(epsilons),)`` on FGSM examples of ``x`` for each epsilon.

    x: ``(N, ...)`` images in [0, 1]; y: ``(N,)`` labels. The gradient sign does not depend on
    epsilon, so it is computed once per batch and every epsilon costs one forward pass.
    """
    epsilons = [_check_epsilon(e) for e in np.atleast_1d(epsilons).tolist()]
    if not epsilons:
        raise ValueError("epsilons: expected at least one epsilon, got none")
    x = _check_images("x", x)
    y = _check_labels("y", y, len(x))
    correct = np.zeros(len(epsilons))
    for start in range(0, len(x), batch_size):
        batch, labels = x[start:start + batch_size], y[start:start + batch_size]
        signs = loss_gradient_sign(model, batch, labels, batch_size=batch_size)
        for i, epsilon in enumerate(epsilons):
            adversarial = np.clip(batch + batch.dtype.type(epsilon) * signs, 0, 1)
            correct[i] += np.sum(model.forward(adversarial).argmax(axis=1) == labels)
    return correct / len(x)


def targeted_attack(model, x, target, epsilon, *, step, steps=10, batch_size=500):
    """An iterative targeted attack: ``steps`` signed-gradient steps DOWN the loss of ``target``.

    x: ``(N, ...)`` images in [0, 1]; target: ``(N,)`` the classes the images should be read as;
    epsilon >= 0: the largest change of a pixel; step > 0: the size of each step. Starting from
    ``x_0 = x``, each step computes
    ``x_{k+1} = clip(clip(x_k - step * sign(dL(x_k, target)/dx), x - epsilon, x + epsilon), 0, 1)``:
    it lowers the cross-entropy loss of the target class, then projects back onto the pixels within
    ``epsilon`` of x (the epsilon-ball of the max norm) and into [0, 1]. Returns the last
    ``x_steps``, shaped and typed like x. Needs ``model.input_grad``.
    """
    epsilon = _check_epsilon(epsilon)
    if not isinstance(step, numbers.Real) or not np.isfinite(step) or step <= 0:
        raise ValueError(f"step: expected a finite number > 0, got {step!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps: expected an integer >= 0, got {steps!r}")
    x = _check_images("x", x)
    target = _check_labels("target", target, len(x))
    low = np.clip(x - x.dtype.type(epsilon), 0, 1)
    high = np.clip(x + x.dtype.type(epsilon), 0, 1)
    adversarial = x.copy()
    for _ in range(steps):
        signs = loss_gradient_sign(model, adversarial, target, batch_size=batch_size)
        adversarial = np.clip(adversarial - x.dtype.type(step) * signs, low, high)
    return adversarial


# --- moved and turned images -------------------------------------------------------------------

def shift_images(x, dy, dx, *, fill=0.0):
    """Images moved ``dy`` pixels down and ``dx`` pixels right (negative: up, left).

    x: ``(..., H, W)``; returns an array of the same shape and dtype where
    ``out[..., i, j] = x[..., i - dy, j - dx]``, and ``fill`` where that falls outside the image
    (nothing wraps around).
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x: expected images (..., H, W), got shape {x.shape}")
    for name, value in (("dy", dy), ("dx", dx)):
        if not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}: expected an integer number of pixels, got {value!r}")
    height, width = x.shape[-2:]
    out = np.full_like(x, fill)
    if abs(dy) < height and abs(dx) < width:
        out[..., max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            x[..., max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def shifted_test_set(x, y, max_shift=4, seed=0):
    """The digits of ``x`` moved by 0, 1, ..., ``max_shift`` pixels, each in its own direction.

    Every image gets one direction (right, left, down or up) drawn once from
    ``numpy.random.default_rng(seed)``; for shift ``s`` it is moved ``s`` pixels that way with
    :func:`shift_images` (zeros come in). Returns ``{s: (images, labels)}`` for
    ``s = 0 .. max_shift``, each ``images`` shaped and typed like ``x`` (new arrays; ``x`` is not
    changed) and ``labels`` a copy of ``y``. Notebooks 10 and 13 build it from the first 1,000 test
    digits: ``shifted_test_set(x_test[:1000], y_test[:1000])``.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 3 or len(y) != len(x):
        raise ValueError(f"x, y: expected images (N, ..., H, W) and N labels, got shapes "
                         f"{x.shape} and {y.shape}")
    if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"max_shift: expected a non-negative integer, got {max_shift!r}")
    directions = np.random.default_rng(seed).integers(4, size=len(x))
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)]                 # right, left, down, up
    shifted = {}
    for s in range(max_shift + 1):
        images = np.empty_like(x)
        for k, (dy, dx) in enumerate(steps):
            chosen = directions == k
            images[chosen] = shift_images(x[chosen], int(s * dy), int(s * dx))
        shifted[s] = (images, y.copy())
    return shifted


def rotate_images(x, degrees, *, fill=0.0):
    """Images turned ``degrees`` counter-clockwise about their centre, by bilinear interpolation.

    x: ``(..., H, W)``; returns the same shape and dtype. Output pixel p takes the value of the
    input at the point p turned back by ``degrees`` about ``((H - 1) / 2, (W - 1) / 2)``,
    interpolated between its four neighbours; points outside the image read ``fill``. A multiple
    of 90 degrees on a square image gives ``np.rot90``'s result (up to rounding).
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x: expected images (..., H, W), got shape {x.shape}")
    if not isinstance(degrees, numbers.Real) or not np.isfinite(degrees):
        raise ValueError(f"degrees: expected a finite number, got {degrees!r}")
    height, width = x.shape[-2:]
    theta = np.deg2rad(degrees)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    # with y pointing up, the output point (u, v) reads the input at (u, v) turned by -theta
    u, v = cols - cx, cy - rows
    src_col = u * np.cos(theta) + v * np.sin(theta) + cx
    src_row = cy - (-u * np.sin(theta) + v * np.cos(theta))
    # snap values within rounding of an integer, so that exact turns copy pixels exactly
    src_row = np.where(np.abs(src_row - np.round(src_row)) < 1e-9, np.round(src_row), src_row)
    src_col = np.where(np.abs(src_col - np.round(src_col)) < 1e-9, np.round(src_col), src_col)
    padded = np.pad(x.astype(np.float64), [(0, 0)] * (x.ndim - 2) + [(1, 2), (1, 2)],
                    constant_values=fill)
    r0, c0 = np.floor(src_row), np.floor(src_col)
    fr, fc = src_row - r0, src_col - c0
    # indices into the padded image, clamped to its fill border for points far outside
    r0 = np.clip(r0.astype(int) + 1, 0, height + 1)
    c0 = np.clip(c0.astype(int) + 1, 0, width + 1)
    outside = (src_row < -1) | (src_row > height) | (src_col < -1) | (src_col > width)
    out = (padded[..., r0, c0] * (1 - fr) * (1 - fc) + padded[..., r0 + 1, c0] * fr * (1 - fc)
           + padded[..., r0, c0 + 1] * (1 - fr) * fc + padded[..., r0 + 1, c0 + 1] * fr * fc)
    out = np.where(outside, fill, out)
    return out.astype(x.dtype, copy=False)
