
import re

import numpy as np
import pytest

from cnnlib.layers import Affine
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.optim import SGD, Adam
from cnnlib.training import clip_grad_norm, evaluate, fit, load_params, predict, save_params, scores


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]], np.float32)
    return (centers[y] + rng.standard_normal((n, 2)).astype(np.float32) * 0.5), y


def test_tiny_lenet_overfits_100_images(mnist):
    (x, y), _ = mnist
    model = LeNet5()
    history = fit(model, Adam(lr=2e-3), x[:100], y[:100], epochs=30, batch_size=20, progress=False)
    assert evaluate(model, x[:100], y[:100]) == 1.0
    assert history.loss[-1] < 0.05 and len(history.loss) == 150 and len(history.train_acc) == 30


def test_same_seed_same_history():
    x, y = _blobs()
    runs = [fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=3, batch_size=32,
                seed=4, progress=False).loss
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=3, batch_size=32,
                seed=5, progress=False).loss
    assert other != runs[0]


def test_resume_from_checkpoint_continues_exactly(tmp_path):
    x, y = _blobs()
    straight = TwoLayerNet(2, 8, 3)
    full = fit(straight, Adam(0.01), x, y, epochs=4, batch_size=32, progress=False)

    first, optimizer = TwoLayerNet(2, 8, 3), Adam(0.01)
    history = fit(first, optimizer, x, y, epochs=2, batch_size=32, progress=False)
    save_params(first, tmp_path / "ckpt.npz", optimizer)
    resumed, optimizer2 = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(9)), Adam(0.01)
    load_params(resumed, tmp_path / "ckpt.npz", optimizer2)
    fit(resumed, optimizer2, x, y, epochs=2, batch_size=32, progress=False,
        start_epoch=2, history=history)
    assert history.loss == full.loss
    for name, p in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], p)


def test_early_stopping_stops_and_restores_best():
    x, y = _blobs(200)
    x_val, y_val = _blobs(200, seed=1)
    y_val = (y_val + 1) % 3  # validation labels the model cannot learn: accuracy peaks early
    model = TwoLayerNet(2, 8, 3)
    history = fit(model, SGD(0.05), x, y, epochs=30, batch_size=20, x_val=x_val, y_val=y_val,
                  patience=2, progress=False)
    assert history.stopped_early and len(history.val_acc) == history.best_epoch + 3
    assert evaluate(model, x_val, y_val) == pytest.approx(max(history.val_acc))
    with pytest.raises(ValueError, match="needs validation data"):
        fit(model, SGD(0.1), x, y, epochs=1, patience=2, progress=False)


def test_nan_loss_raises_with_step():
    x, y = _blobs()
    with pytest.raises(FloatingPointError, match=r"epoch 1, step \d+.*lower learning rate"):
        with np.errstate(all="ignore"):
            fit(TwoLayerNet(2, 8, 3), SGD(1e30), x * 1e10, y, epochs=2,
                batch_size=32, progress=False)


def test_nan_input_is_named():
    x, y = _blobs()
    x[57, 1] = np.nan
    with pytest.raises(FloatingPointError, match=r"NaN or inf values in examples \[57\]"):
        fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=1, batch_size=32, progress=False)


def test_lr_schedule_sets_the_rate_each_epoch():
    x, y = _blobs()
    seen = []

    class Recording(SGD):
        def update(self, params, grads):
            seen.append(self.lr)
            super().update(params, grads)

    optimizer = Recording(0.1)
    fit(TwoLayerNet(2, 8, 3), optimizer, x, y, epochs=3, batch_size=100,
        lr_schedule=lambda e: 0.1 / (e + 1), progress=False)
    assert seen == [0.1] * 3 + [0.05] * 3 + [pytest.approx(0.1 / 3)] * 3


def test_clip_grad_norm():
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([grads["a"][0], grads["b"][0]], [0.6, 0.8])
    x, y = _blobs()
    history = fit(TwoLayerNet(2, 8, 3), SGD(0.5), x, y, epochs=1, batch_size=32,
                  clip=0.5, progress=False)
    assert np.isfinite(history.loss).all()


def test_predict_and_evaluate_in_batches():
    x, y = _blobs(250)
    model = Sequential(Affine(2, 3))
    np.testing.assert_array_equal(predict(model, x, batch_size=7), model.forward(x).argmax(axis=1))
    assert evaluate(model, x, np.eye(3)[y], batch_size=1000) == evaluate(model, x, y, batch_size=13)
    with pytest.raises(ValueError, match="lengths differ: 250 examples, 3 labels"):
        evaluate(model, x, y[:3])


def test_fit_checks_parameters_at_epoch_end():
    x, y = _blobs()
    # one step per epoch: the loss before the update is finite, the update makes the weights inf/NaN
    with pytest.raises(FloatingPointError,
                       match=r"during epoch 1: affine1\.W, .*lower learning rate"):
        with np.errstate(all="ignore"):
            fit(TwoLayerNet(2, 8, 3), SGD(1e300), x, y, epochs=1, batch_size=len(x), progress=False)


@pytest.mark.parametrize("clip", [0, -1, np.nan, np.inf, "1"])
def test_fit_rejects_bad_clip(clip):
    x, y = _blobs()
    with pytest.raises(ValueError, match=rf"clip: .*got {clip!r}"):
        fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=1, clip=clip, progress=False)


# --- arguments checked before any training -------------------------------------------------------

class _CountingSGD(SGD):
    """SGD that counts its updates: a bad argument must be refused before the first one."""

    updates = 0

    def update(self, params, grads):
        self.updates += 1
        super().update(params, grads)


X, Y = _blobs()


@pytest.mark.parametrize("change, error, message", [
    (dict(x_val=X), ValueError, "x_val and y_val: validation needs both, got only x_val"),
    (dict(y_val=Y), ValueError, "x_val and y_val: validation needs both, got only y_val"),
    (dict(x=X[:0], y=Y[:0]), ValueError,
     r"x: expected at least one example, got an empty array of shape \(0, 2\)"),
    (dict(y=np.r_[Y[1:], 3]), ValueError, r"y: class indices must be in \[0, 3\).*got 0\.\.3"),
    (dict(y=np.r_[Y[1:], -1]), ValueError, r"y: class indices must be in \[0, 3\)"),
    (dict(y=Y.astype(float)), TypeError, "y: expected integer class indices, got dtype float64"),
    (dict(y=np.eye(4)[Y]), ValueError, r"y: expected 300 labels, .* got shape \(300, 4\)"),
    (dict(x_val=X, y_val=np.full(300, 5)), ValueError, r"y_val: class indices must be in \[0, 3\)"),
    (dict(x_val=X[:0], y_val=Y[:0]), ValueError, "x_val: expected at least one example"),
    (dict(x_val=X, y_val=Y[:3]), ValueError,
     "x_val and y_val: lengths differ: 300 examples, 3 labels"),
    (dict(batch_size=0), ValueError, "batch_size: expected a positive integer, got 0"),
    (dict(batch_size=32.0), ValueError, "batch_size: expected a positive integer, got 32.0"),
    (dict(batch_size=True), ValueError, "batch_size: expected a positive integer, got True"),
    (dict(epochs=-1), ValueError, "epochs: expected a non-negative integer, got -1"),
    (dict(epochs=2.5), ValueError, "epochs: expected a non-negative integer, got 2.5"),
    (dict(epochs="3"), ValueError, "epochs: expected a non-negative integer, got '3'"),
    (dict(start_epoch=-2), ValueError, "start_epoch: expected a non-negative integer, got -2"),
    (dict(x_val=X, y_val=Y, patience=0), ValueError,
     "patience: expected a positive integer, got 0"),
])
def test_fit_checks_every_argument_before_training(change, error, message):
    kwargs = {"x": X, "y": Y, "epochs": 1, "batch_size": 32, **change}
    model, optimizer = TwoLayerNet(2, 8, 3), _CountingSGD(0.1)
    before = {name: p.copy() for name, p in model.params.items()}
    with pytest.raises(error, match=message):
        fit(model, optimizer, kwargs.pop("x"), kwargs.pop("y"), progress=False, **kwargs)
    assert optimizer.updates == 0
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])


def test_fit_accepts_one_hot_labels_and_numpy_integers():
    x, y = _blobs()
    one_hot = fit(TwoLayerNet(2, 8, 3), SGD(0.1), x,
                  np.eye(3, dtype=np.float32)[y], epochs=np.int64(2),
                  batch_size=np.int32(32), progress=False)
    ints = fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=2, batch_size=32, progress=False)
    assert one_hot.loss == ints.loss and one_hot.train_acc == ints.train_acc


@pytest.mark.parametrize("call", [predict, evaluate])
def test_predict_and_evaluate_refuse_empty_input(call):
    x, y = _blobs()
    args = (x[:0],) if call is predict else (x[:0], y[:0])
    with pytest.raises(ValueError, match=r"x: expected at least one example, got an empty array of "
                                         r"shape \(0, 2\)"):
        call(TwoLayerNet(2, 8, 3), *args)


@pytest.mark.parametrize("labels, error, message", [
    (np.full(300, 3), ValueError, r"y: class indices must be in \[0, 3\) \(the model has 3 "
                                  r"outputs\), got 3\.\.3"),
    (np.full(300, -1), ValueError, r"y: class indices must be in \[0, 3\)"),
    (np.zeros(300), TypeError, "y: expected integer class indices, got dtype float64"),
    (np.zeros((300, 5)), ValueError, r"y: expected 300 labels, .*\(300, 3\), got shape \(300, 5\)"),
])
def test_evaluate_refuses_labels_the_model_cannot_predict(labels, error, message):
    x, _ = _blobs()
    with pytest.raises(error, match=message):
        evaluate(TwoLayerNet(2, 8, 3), x, labels)


def test_scores_and_predict_check_batch_size():
    x, _ = _blobs()
    for bad in (0, 2.0, None):
        with pytest.raises(ValueError,
                           match=f"batch_size: expected a positive integer, got {bad!r}"):
            scores(TwoLayerNet(2, 8, 3), x, batch_size=bad)


def test_the_progress_bar_shows_accuracy_as_a_percentage(capsys):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    fit(TwoLayerNet(6, 5, 3), SGD(0.1), x, y, epochs=1, batch_size=20, x_val=x[:10],
        y_val=y[:10])
    bar = capsys.readouterr().err
    assert re.search(r"acc=\d+\.\d\d%", bar) and re.search(r"val_acc=\d+\.\d\d%", bar), bar
