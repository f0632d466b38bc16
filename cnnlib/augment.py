"""Data augmentation: random shifts and horizontal flips of image batches, seeded.

:func:`shift_flip` moves each image of a batch by a random whole number of pixels (the uncovered
border is filled with 0, the background of MNIST and Fashion-MNIST) and, when asked, mirrors some of
them left to right. :class:`Augmented` wraps a training set so that every batch ``fit`` reads is a
freshly augmented copy: ``fit(model, opt, Augmented(x_train, seed=0), y_train, ...)``.

Flips suit clothing (a shirt mirrored is still a shirt; a left shoe mirrored is a right shoe) but
not digits (a mirrored 2 is no digit), so ``python -m cnnlib train --augment`` flips Fashion-MNIST
only.
"""

import numpy as np


def shift_flip(images, rng, max_shift=2, flip=False):
    """A shifted (and flipped) copy of ``images`` ``(N, C, H, W)``; the input is not changed.

    Each image moves by ``dy, dx`` drawn uniformly from ``-max_shift .. max_shift`` pixels (the same
    for all its channels), the uncovered border filled with 0; with ``flip``, each image is then
    mirrored left to right with probability 1/2. ``rng``: a ``numpy.random.Generator``. The dtype is
    kept.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"shift_flip: images: expected (N, C, H, W), got shape {images.shape}")
    if not isinstance(max_shift, (int, np.integer)) or isinstance(max_shift, bool) \
            or max_shift < 0:
        raise ValueError(f"shift_flip: max_shift: expected a non-negative int, got {max_shift!r}")
    n, _, h, w = images.shape
    s = int(max_shift)
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    flips = rng.random(n) < 0.5 if flip else np.zeros(n, bool)
    if s == 0 and not flips.any():
        return images.copy()
    padded = np.pad(images, ((0, 0), (0, 0), (s, s), (s, s)))
    rows = s - dy[:, None] + np.arange(h)                       # (N, H): source row of each row
    cols = s - dx[:, None] + np.arange(w)                       # (N, W)
    cols = np.where(flips[:, None], cols[:, ::-1], cols)
    picked = padded[np.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return np.ascontiguousarray(picked.transpose(0, 3, 1, 2))  # (N, H, W, C) -> (N, C, H, W)


class Augmented:
    """A training set whose batches come out shifted (and flipped): ``augmented[idx]`` is
    ``shift_flip(images[idx], ...)``.

    images: an array ``(N, C, H, W)`` or anything indexed like one (e.g.
    :class:`cnnlib.datasets.ScaledImages`). The k-th read draws from
    ``numpy.random.default_rng([seed, k])``, so the same seed and the same reads give the same
    batches. Use it for training only: evaluate on the images themselves.
    """

    def __init__(self, images, *, seed=0, max_shift=2, flip=False):
        if len(images.shape) != 4:
            raise ValueError(f"Augmented: images: expected (N, C, H, W), got shape {images.shape}")
        self.images, self.seed, self.max_shift, self.flip = images, seed, max_shift, flip
        self.reads = 0

    @property
    def shape(self):
        return self.images.shape

    @property
    def ndim(self):
        return len(self.images.shape)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.reads])
        self.reads += 1
        batch = np.asarray(self.images[index])
        if batch.ndim == 3:                    # a single image
            return shift_flip(batch[None], rng, self.max_shift, self.flip)[0]
        return shift_flip(batch, rng, self.max_shift, self.flip)

    def __repr__(self):
        return (f"Augmented({self.images!r}, seed={self.seed}, max_shift={self.max_shift}, "
                f"flip={self.flip})")
