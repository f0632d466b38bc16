"""cnnlib.tuned.SplitBatch (threads), cnnlib.tuned.ProcessSplit (processes) and fit(workers=...):
a batch split across workers gives the batch's loss, scores and gradients (float64, to rounding);
models they cannot split are refused by name; a worker's failure is reported, not hung on."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnlib.blocks import Block
from cnnlib.layers import Affine, ReLU
from cnnlib.models import LeNet5, Sequential, TwoLayerNet
from cnnlib.norm import BatchNorm1D, Dropout
from cnnlib.optim import Adam
from cnnlib.training import fit
from cnnlib.tuned import ProcessSplit, SplitBatch


def batch(n, seed=0, shape=(1, 28, 28)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, 10, n)


SPLITTERS = [SplitBatch, ProcessSplit]


@pytest.mark.parametrize("workers, n", [(2, 16), (2, 7), (3, 10), (4, 3), (3, 1)])
@pytest.mark.parametrize("tuned", [True, False])
@pytest.mark.parametrize("splitter", SPLITTERS)
def test_split_step_equals_the_whole_batch(workers, n, tuned, splitter):
    x, y = batch(n, seed=workers * 100 + n)
    whole = LeNet5(dtype=np.float64, tuned=tuned, rng=np.random.default_rng(1))
    split = LeNet5(dtype=np.float64, tuned=tuned, rng=np.random.default_rng(1))
    loss = whole.loss(x, y)
    whole.backward()
    with splitter(split, workers) as step:
        split_loss = step.loss(x, y)
        step.backward()
    np.testing.assert_allclose(split_loss, loss, rtol=1e-12)
    np.testing.assert_allclose(split.last_scores, whole.last_scores, rtol=1e-12, atol=1e-14)
    assert split.last_scores.shape == (n, 10)
    for name, grad in whole.grads.items():
        np.testing.assert_allclose(split.grads[name], grad, rtol=1e-9, atol=1e-13, err_msg=name)


def test_replicas_share_parameters_but_not_gradients():
    model = TwoLayerNet(20, 8, 3, dtype=np.float64)
    with SplitBatch(model, 2) as step:
        twin = step.replicas[1]
        for name, layer in model.layers.items():
            for key in layer.params:
                assert twin.layers[name].params[key] is layer.params[key]
            assert twin.layers[name].grads is not layer.grads
        x, y = batch(6, shape=(20,))
        step.loss(x, y % 3)
        step.backward()
        # the replica's gradient is its own slice's, not the batch's
        assert not np.allclose(twin.grads["affine1.W"], model.grads["affine1.W"])


def test_fit_with_workers_matches_one_worker():
    x, y = batch(96, seed=5)
    histories, models = [], []
    for workers in (1, 2):
        model = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(3))
        histories.append(fit(model, Adam(1e-3), x, y, epochs=2, batch_size=32, progress=False,
                             threads=1, workers=workers))
        models.append(model)
    np.testing.assert_allclose(histories[1].loss, histories[0].loss, rtol=1e-10)
    assert histories[1].train_acc == histories[0].train_acc
    for name, p in models[0].params.items():
        np.testing.assert_allclose(models[1].params[name], p, rtol=1e-8, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("layer, reason", [
    (BatchNorm1D(8), "buffers"),
    (Dropout(0.5, rng=np.random.default_rng(0)), "random numbers"),
    (Block(Affine(8, 8)), "nests layers"),
])
@pytest.mark.parametrize("splitter", SPLITTERS)
def test_models_that_cannot_be_split_are_refused_by_layer(layer, reason, splitter):
    model = Sequential(("fc1", Affine(4, 8)), ("odd", layer), ("relu", ReLU()),
                       ("fc2", Affine(8, 3)))
    with pytest.raises(ValueError, match=f"layer 'odd'.*{reason}"):
        splitter(model, 2)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2"])
def test_bad_worker_counts_are_named(workers):
    x, y = batch(8)
    with pytest.raises((ValueError, TypeError), match="workers"):
        fit(LeNet5(tuned=True), Adam(), x, y, epochs=1, progress=False, workers=workers)


@pytest.mark.parametrize("splitter", SPLITTERS)
def test_a_model_without_layers_is_a_type_error(splitter):
    with pytest.raises(TypeError, match="model: expected a Sequential"):
        splitter(object(), 2)


@pytest.mark.parametrize("splitter", SPLITTERS)
def test_backward_combines_once(splitter):
    """A second backward call leaves the batch's gradients as they are (nothing added twice)."""
    x, y = batch(10, seed=11)
    whole = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(2))
    split = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(2))
    whole.loss(x, y)
    whole.backward()
    with splitter(split, 2) as step:
        step.loss(x, y)
        step.backward()
        step.backward()
    for name, grad in whole.grads.items():
        np.testing.assert_allclose(split.grads[name], grad, rtol=1e-9, atol=1e-13, err_msg=name)


def test_each_slice_backward_is_seeded_with_its_share():
    """The replica's gradients are its slice's mean gradients times slice size / batch size."""
    x, y = batch(10, seed=12)
    alone = LeNet5(dtype=np.float64, rng=np.random.default_rng(4))
    alone.loss(x[5:], y[5:])
    alone.backward()
    split = LeNet5(dtype=np.float64, rng=np.random.default_rng(4))
    with SplitBatch(split, 2) as step:
        step.loss(x, y)
        twin = step.replicas[1]
        for name, grad in alone.grads.items():
            np.testing.assert_allclose(twin.grads[name], 0.5 * grad, rtol=1e-10, atol=1e-14,
                                       err_msg=name)


@pytest.mark.parametrize("bad", [1, 6])    # in the calling thread's slice, in the worker's
@pytest.mark.parametrize("splitter", SPLITTERS)
def test_a_non_finite_slice_gives_a_non_finite_loss(bad, splitter):
    x, y = batch(8, seed=13)
    x[bad, 0, 3, 3] = np.inf
    with splitter(LeNet5(dtype=np.float64, tuned=True), 2) as step:
        with np.errstate(all="raise"):    # holds in the worker thread or process too
            with pytest.raises(FloatingPointError):
                step.loss(x, y)
        with np.errstate(all="ignore"):
            assert not np.isfinite(step.loss(x, y))


def test_a_non_finite_example_fails_fit_with_workers():
    x, y = batch(32, seed=13)
    x[9, 0, 3, 3] = np.inf
    with pytest.raises(FloatingPointError, match=r"NaN or inf values in examples \[9\]"):
        with np.errstate(all="ignore"):
            fit(LeNet5(dtype=np.float64, tuned=True), Adam(1e-3), x, y, epochs=1,
                batch_size=16, progress=False, workers=2, seed=0)


@pytest.mark.parametrize("chunk", [1, 3, 32])
def test_chunks_give_the_whole_batch(chunk):
    """Each process runs its slice ``chunk`` examples at a time; the sums equal the whole batch's,
    computed here without cnnlib's split (one loss over all 13 examples)."""
    x, y = batch(13, seed=14)
    whole = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(5))
    split = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(5))
    loss = whole.loss(x, y)
    whole.backward()
    with ProcessSplit(split, 2, chunk=chunk) as step:
        np.testing.assert_allclose(step.loss(x, y), loss, rtol=1e-12)
        step.backward()
    for name, grad in whole.grads.items():
        np.testing.assert_allclose(split.grads[name], grad, rtol=1e-9, atol=1e-13, err_msg=name)


def test_the_parameters_reach_the_worker_every_step():
    """After an update in the calling process, the worker's slice uses the new weights."""
    x, y = batch(8, seed=15)
    whole = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(6))
    split = LeNet5(dtype=np.float64, tuned=True, rng=np.random.default_rng(6))
    with ProcessSplit(split, 2) as step:
        step.loss(x, y)
        for model in (whole, split):
            model.params["fc3.W"][...] *= -2.0
        np.testing.assert_allclose(step.loss(x, y), whole.loss(x, y), rtol=1e-12)


def test_an_error_in_a_worker_is_raised_with_its_traceback():
    x, y = batch(8, seed=16)
    y[6] = 99    # a label out of range, in the worker's half
    with ProcessSplit(LeNet5(dtype=np.float64, tuned=True), 2) as step:
        with pytest.raises(ValueError, match=r"in a worker process(.|\n)*labels: values must "
                                             r"be in \[0, 10\), got 99"):
            step.loss(x, y)
        y[6] = 3
        assert np.isfinite(step.loss(x, y))    # the worker carries on


def test_the_shared_files_are_deleted_once_the_worker_has_mapped_them():
    """After the first step no file is left to outlive a crash; the step after still works."""
    x, y = batch(8, seed=17)
    with ProcessSplit(LeNet5(dtype=np.float64, tuned=True), 2) as step:
        model_file = step.workers[0].model_file.path
        assert os.path.exists(model_file)
        step.loss(x, y)
        data_file = step.workers[0].data_file
        assert not os.path.exists(model_file) and data_file.path is None
        assert np.isfinite(step.loss(x, y))


def test_a_worker_that_dies_is_reported():
    x, y = batch(8, seed=17)
    with ProcessSplit(LeNet5(dtype=np.float64, tuned=True), 2) as step:
        step.loss(x, y)
        step.workers[0].process.kill()
        step.workers[0].process.wait()
        with pytest.raises(RuntimeError, match=r"worker process .* stopped \(exit code"):
            step.loss(x, y)


def test_workers_end_with_the_split():
    with ProcessSplit(TwoLayerNet(20, 8, 3), 3) as step:
        processes = [worker.process for worker in step.workers]
        x, y = batch(6, shape=(20,))
        step.loss(x.astype(np.float32), y % 3)
    assert all(process.poll() is not None for process in processes)


def test_a_script_without_a_main_guard_trains_with_workers(tmp_path):
    """The workers start with ``python -c``, so a script needs no ``if __name__ == "__main__"``;
    and they import the very cnnlib the script imported: here a copy, found through the script's
    own ``sys.path``, which says where it was imported from."""
    copy = tmp_path / "copy"
    shutil.copytree(Path(__file__).resolve().parent.parent / "cnnlib", copy / "cnnlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = copy / "cnnlib" / "__init__.py"
    init.write_text(init.read_text()
                    + "\nimport sys\nprint('cnnlib from', __file__, file=sys.stderr)\n")
    script = tmp_path / "train_script.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(copy)!r})
        import numpy as np
        from cnnlib.models import LeNet5
        from cnnlib.optim import Adam
        from cnnlib.training import fit

        rng = np.random.default_rng(0)
        x, y = rng.random((40, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 40)
        history = fit(LeNet5(tuned=True), Adam(1e-3), x, y, epochs=1, batch_size=20,
                      progress=False, workers=2)
        print("steps:", len(history.loss))
    """))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "steps: 2"
    imported = [line for line in result.stderr.splitlines() if line.startswith("cnnlib from")]
    assert imported == [f"cnnlib from {init}"] * 2    # the script, then its worker
