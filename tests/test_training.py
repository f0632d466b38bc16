import errno
import zipfile

import numpy as np
import pytest

from cnnlib.layers import Affine
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.optim import SGD, Adam
from cnnlib.training import clip_grad_norm, evaluate, fit, load_params, predict, save_params


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
    runs = [fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=3, batch_size=32, seed=4, progress=False).loss
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=3, batch_size=32, seed=5, progress=False).loss
    assert other != runs[0]


def test_save_load_round_trip_is_exact(tmp_path):
    model = LeNet5(rng=np.random.default_rng(1))
    save_params(model, tmp_path / "w.npz")
    other = LeNet5(rng=np.random.default_rng(2))
    load_params(other, tmp_path / "w.npz")
    for name, p in model.params.items():
        np.testing.assert_array_equal(other.params[name], p)
        assert other.params[name].dtype == p.dtype
    with np.load(tmp_path / "w.npz", allow_pickle=False) as data:
        assert sorted(data.files) == sorted(model.params)


def test_load_params_lists_mismatches(tmp_path):
    save_params(TwoLayerNet(784, 50, 10), tmp_path / "w.npz")
    with pytest.raises(ValueError) as info:
        load_params(TwoLayerNet(784, 60, 10), tmp_path / "w.npz")
    message = str(info.value)
    assert "shape mismatch for affine1.W: model (784, 60), file (784, 50)" in message
    assert "affine2.W" in message
    with pytest.raises(ValueError, match="missing from .*conv1.W"):
        load_params(LeNet5(), tmp_path / "w.npz")


def test_resume_from_checkpoint_continues_exactly(tmp_path):
    x, y = _blobs()
    straight = TwoLayerNet(2, 8, 3)
    full = fit(straight, Adam(0.01), x, y, epochs=4, batch_size=32, progress=False)

    first, optimizer = TwoLayerNet(2, 8, 3), Adam(0.01)
    history = fit(first, optimizer, x, y, epochs=2, batch_size=32, progress=False)
    save_params(first, tmp_path / "ckpt.npz", optimizer)
    resumed, optimizer2 = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(9)), Adam(0.01)
    load_params(resumed, tmp_path / "ckpt.npz", optimizer2)
    fit(resumed, optimizer2, x, y, epochs=2, batch_size=32, progress=False, start_epoch=2, history=history)
    assert history.loss == full.loss
    for name, p in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], p)


def test_early_stopping_stops_and_restores_best():
    x, y = _blobs(200)
    x_val, y_val = _blobs(200, seed=1)
    y_val = (y_val + 1) % 3  # validation labels the model cannot learn: accuracy peaks early
    model = TwoLayerNet(2, 8, 3)
    history = fit(model, SGD(0.05), x, y, epochs=30, batch_size=20, x_val=x_val, y_val=y_val, patience=2,
                  progress=False)
    assert history.stopped_early and len(history.val_acc) == history.best_epoch + 3
    assert evaluate(model, x_val, y_val) == pytest.approx(max(history.val_acc))
    with pytest.raises(ValueError, match="needs validation data"):
        fit(model, SGD(0.1), x, y, epochs=1, patience=2, progress=False)


def test_nan_loss_raises_with_step():
    x, y = _blobs()
    with pytest.raises(FloatingPointError, match=r"epoch 1, step \d+.*lower learning rate"):
        with np.errstate(all="ignore"):
            fit(TwoLayerNet(2, 8, 3), SGD(1e30), x * 1e10, y, epochs=2, batch_size=32, progress=False)


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
    fit(TwoLayerNet(2, 8, 3), optimizer, x, y, epochs=3, batch_size=100, lr_schedule=lambda e: 0.1 / (e + 1),
        progress=False)
    assert seen == [0.1] * 3 + [0.05] * 3 + [pytest.approx(0.1 / 3)] * 3


def test_clip_grad_norm():
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([grads["a"][0], grads["b"][0]], [0.6, 0.8])
    x, y = _blobs()
    history = fit(TwoLayerNet(2, 8, 3), SGD(0.5), x, y, epochs=1, batch_size=32, clip=0.5, progress=False)
    assert np.isfinite(history.loss).all()


def test_predict_and_evaluate_in_batches():
    x, y = _blobs(250)
    model = Sequential(Affine(2, 3))
    np.testing.assert_array_equal(predict(model, x, batch_size=7), model.forward(x).argmax(axis=1))
    assert evaluate(model, x, np.eye(3)[y], batch_size=1000) == evaluate(model, x, y, batch_size=13)
    with pytest.raises(ValueError, match="lengths differ: 250 examples, 3 labels"):
        evaluate(model, x, y[:3])


# --- checkpoints: atomic, finite, validated before anything is assigned -------------------------

def _params_of(model):
    return {name: p.copy() for name, p in model.params.items()}


def test_save_params_failure_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    save_params(TwoLayerNet(2, 8, 3), path)
    good = path.read_bytes()

    def disk_full(file, **arrays):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_params(TwoLayerNet(2, 8, 3, rng=np.random.default_rng(5)), path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_save_params_refuses_non_finite_weights(tmp_path):
    model = TwoLayerNet(2, 8, 3)
    model.params["affine2.b"][1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf values in affine2.b"):
        save_params(model, tmp_path / "w.npz")
    assert list(tmp_path.iterdir()) == []


def test_fit_checks_parameters_at_epoch_end():
    x, y = _blobs()
    # one step per epoch: the loss before the update is finite, the update makes the weights inf/NaN
    with pytest.raises(FloatingPointError, match=r"during epoch 1: affine1\.W, .*lower learning rate"):
        with np.errstate(all="ignore"):
            fit(TwoLayerNet(2, 8, 3), SGD(np.inf), x, y, epochs=1, batch_size=len(x), progress=False)


@pytest.mark.parametrize("clip", [0, -1, np.nan, np.inf, "1"])
def test_fit_rejects_bad_clip(clip):
    x, y = _blobs()
    with pytest.raises(ValueError, match=rf"clip: .*got {clip!r}"):
        fit(TwoLayerNet(2, 8, 3), SGD(0.1), x, y, epochs=1, clip=clip, progress=False)


@pytest.mark.parametrize("bad, message", [
    (np.zeros(2, np.float32), r"shape mismatch for affine2\.b"),
    (np.zeros(3, np.int64), r"dtype mismatch for affine2\.b: model float32, file int64"),
    (np.zeros(3, bool), r"dtype mismatch for affine2\.b: model float32, file bool"),
    (np.zeros(3, np.complex64), r"dtype mismatch for affine2\.b: model float32, file complex64"),
    (np.array([0.0, np.nan, 1.0], np.float32), r"NaN or inf values in affine2\.b"),
])
def test_load_params_checks_everything_before_assigning(tmp_path, bad, message):
    source = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(1))
    arrays = _params_of(source)
    assert list(arrays)[-1] == "affine2.b"
    arrays["affine2.b"] = bad
    np.savez(tmp_path / "w.npz", **arrays)
    model = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(2))
    before = _params_of(model)
    with pytest.raises(ValueError, match=message):
        load_params(model, tmp_path / "w.npz")
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])


def test_load_params_without_optimizer_state_changes_nothing(tmp_path):
    save_params(TwoLayerNet(2, 8, 3, rng=np.random.default_rng(1)), tmp_path / "w.npz")
    model = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(2))
    before = _params_of(model)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_params(model, tmp_path / "w.npz", Adam(0.01))
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])


def write_bad_file(path, kind):
    """Write at ``path`` a file that is not a checkpoint, of the given kind (also used by test_cli)."""
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        save_params(TwoLayerNet(2, 8, 3), path)
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "text":
        path.write_text("conv1.W = [0.1, 0.2]\n")
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3, np.float32))
    elif kind == "directory":
        path.mkdir()
    elif kind == "zip of text":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "not an array")


@pytest.mark.parametrize("kind, reason", [
    ("empty", "the file is empty"), ("truncated", "truncated or corrupted"), ("text", "not a zip archive"),
    ("npy", r"an \.npy file"), ("directory", "is a directory"), ("zip of text", "not .npy arrays"),
])
def test_load_params_says_what_is_not_a_checkpoint(tmp_path, kind, reason):
    path = tmp_path / "w.npz"
    write_bad_file(path, kind)
    with pytest.raises(ValueError, match=reason) as info:
        load_params(TwoLayerNet(2, 8, 3), path)
    message = str(info.value)
    assert str(path) in message and "not a cnnlib checkpoint" in message and "pickle" not in message
