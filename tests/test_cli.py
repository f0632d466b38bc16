import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_checkpoints import write_bad_file

from cnnlib import __main__ as cli
from cnnlib.__main__ import build_parser, format_confusion, main
from cnnlib.datasets import DATA_ROOT, ScaledImages
from cnnlib.models import LeNet5

SHIPPED = DATA_ROOT / "lenet5_mnist.npz"


@pytest.mark.parametrize("argv, message", [
    ([], "required: command"),
    (["train", "--epochs", "0"], "--epochs: must be positive, got 0"),
    (["train", "--lr", "fast"], "--lr: expected a float, got 'fast'"),
    (["train", "--lr", "nan"], "--lr: must be positive, got nan"),
    (["train", "--lr", "inf"], "--lr: must be finite, got inf"),
    (["train", "--seed", "-1"], "--seed: must be a non-negative int, got -1"),
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["train", "--workers", "0"], "--workers: must be positive, got 0"),
    (["train", "--model", "resnet", "--workers", "2"], "--workers: the resnet model's batch norm"),
    (["evaluate", "--weights", "/no/such/file.npz"], "no such file"),
])
def test_bad_arguments_give_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err and "Traceback" not in err


def test_evaluate_rejects_weights_of_another_model(tmp_path, capsys):
    np.savez(tmp_path / "other.npz", **{"fc1.W": np.zeros((3, 3), np.float32)})
    with pytest.raises(SystemExit):
        main(["evaluate", "--weights", str(tmp_path / "other.npz")])
    assert "checkpoint does not fit the model" in capsys.readouterr().err


def test_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "w.npz"
    assert main(["train", "--epochs", "1", "--train-images", "512",
                 "--batch-size", "64", "--out", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    for expected in ("test accuracy:", "images/s", "peak memory:", f"saved weights to {out}"):
        assert expected in text
    assert out.exists()
    assert main(["evaluate", "--weights", str(out)]) == 0
    text = capsys.readouterr().out
    assert "on 10,000 images" in text and "true\\pred" in text


def test_train_hands_workers_to_fit(quick, tmp_path, capsys, monkeypatch):
    """--workers N reaches fit (which splits each batch across N processes;
    tests/test_split_batch.py checks the numbers); the default is one worker, and with more the
    peak memory says it counts this process only."""
    seen, real_fit = [], cli.fit

    def recording_fit(*args, **kwargs):
        seen.append(kwargs["workers"])
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(cli, "fit", recording_fit)
    for extra in ([], ["--workers", "2"]):
        assert main(["train", "--epochs", "1", "--batch-size", "256", "--no-progress", "--out",
                     str(tmp_path / f"w{len(extra)}.npz"), *extra]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out
    if "peak memory" in out:    # not on Windows
        assert "MB (this process; the 1 worker process not counted)" in out
    assert seen == [1, 2]


def test_format_confusion():
    text = format_confusion(np.array([[5, 0], [1, 12]]))
    assert text.splitlines()[0].split() == ["true\\pred", "0", "1"]
    assert text.splitlines()[2].split() == ["1", "1", "12"]


# --- train never replaces a file silently; Ctrl-C; divergence; unreadable weights ----------------

@pytest.fixture(scope="module")
def small_mnist(mnist):
    """The first MNIST images held as uint8 and scaled per batch, as load_mnist(lazy=True) gives."""
    (x, y), (xt, yt) = mnist
    pixels = [np.rint(images * 255).astype(np.uint8) for images in (x[:1024], xt[:200])]
    return (ScaledImages(pixels[0]), y[:1024]), (ScaledImages(pixels[1]), yt[:200])


def lazy_loader(data):
    """A stand-in for load_mnist that returns ``data`` and fails unless asked for ``lazy=True``
    (train must never hold a whole set as floats)."""
    def load(*args, lazy=False, **kwargs):
        assert lazy is True, "train loaded the images without lazy=True"
        return data
    return load


@pytest.fixture
def quick(monkeypatch, tmp_path, small_mnist):
    """The CLI on 1,024 training and 200 test images, in tmp_path, the shipped weights a copy."""
    monkeypatch.setattr(cli, "load_mnist", lazy_loader(small_mnist))
    shipped = tmp_path / "shipped" / "lenet5_mnist.npz"
    shipped.parent.mkdir()
    shipped.write_bytes(SHIPPED.read_bytes())
    monkeypatch.setattr(cli, "default_weights", lambda *args: shipped)
    monkeypatch.chdir(tmp_path)
    return shipped


def _no_fit(*args, **kwargs):
    raise AssertionError("fit must not run")


def test_defaults_train_to_runs_and_evaluate_the_shipped_weights(monkeypatch):
    monkeypatch.delenv("CNNLIB_DATA_DIR", raising=False)
    assert cli.default_out(build_parser().parse_args(["train"])) == Path("runs/lenet5_mnist.npz")
    args = build_parser().parse_args(["train", "--model", "resnet", "--dataset", "fashion-mnist",
                                      "--augment"])
    assert cli.default_out(args) == Path("runs/resnet_fashion_mnist_aug.npz")
    assert build_parser().parse_args(["evaluate"]).weights is None
    assert cli.default_weights() == SHIPPED


def test_train_writes_runs_by_default_and_replaces_a_file_only_with_force(
    quick, tmp_path, capsys, monkeypatch
):
    shipped, real_fit = quick.read_bytes(), cli.fit
    assert main(["train", "--epochs", "1", "--no-progress"]) == 0
    out = tmp_path / "runs" / "lenet5_mnist.npz"
    assert out.exists() and quick.read_bytes() == shipped
    trained = out.read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(cli, "fit", _no_fit)  # the refusal comes before training
    for argv in (["train"], ["train", "--out", str(quick)]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert (
            f"--out: {argv[-1] if len(argv) > 1 else Path('runs/lenet5_mnist.npz')} already exists"
            in err
        )
        assert "--force" in err and "Traceback" not in err
    assert quick.read_bytes() == shipped and out.read_bytes() == trained
    monkeypatch.setattr(cli, "fit", real_fit)
    assert main(["train", "--epochs", "1", "--seed", "1", "--force", "--no-progress"]) == 0
    assert out.read_bytes() != trained


def test_train_out_directory_is_refused_before_training(quick, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "fit", _no_fit)
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path), "--force"])
    assert info.value.code == 2
    assert f"--out: {tmp_path} is a directory" in capsys.readouterr().err


def _interrupt_after(backward_calls):
    """A stand-in for LeNet5 whose model raises KeyboardInterrupt on backward call number
    ``backward_calls``."""
    def make(*args, **kwargs):
        model = LeNet5(*args, **kwargs)
        real_backward, calls = model.backward, []

        def backward(*a, **k):
            calls.append(1)
            if len(calls) == backward_calls:
                raise KeyboardInterrupt
            return real_backward(*a, **k)

        model.backward = backward
        return model
    return make


def test_ctrl_c_in_the_second_epoch_saves_the_weights_so_far(quick, tmp_path, capsys, monkeypatch):
    # 1,024 images in batches of 128: 8 steps per epoch; the 9th backward pass is in epoch 2
    monkeypatch.setattr(cli, "LeNet5", _interrupt_after(9))
    out = tmp_path / "w.npz"
    assert main(["train", "--epochs", "3", "--out", str(out), "--no-progress"]) == 130
    saved = tmp_path / "w.interrupted.npz"
    err = capsys.readouterr().err.strip()
    assert err == f"interrupted in epoch 2 of 3 (1 completed); saved the weights so far to {saved}"
    assert saved.exists() and not out.exists()
    assert main(["evaluate", "--weights", str(saved)]) == 0
    assert main(["train", "--epochs", "3", "--out", str(out), "--no-progress"]) == 130
    assert (tmp_path / "w.interrupted-2.npz").exists()  # an earlier interrupted file is kept


def test_ctrl_c_in_the_first_epoch_saves_nothing(quick, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "LeNet5", _interrupt_after(2))
    assert main(["train", "--epochs", "3", "--out",
                 str(tmp_path / "w.npz"), "--no-progress"]) == 130
    assert "nothing saved" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shipped"]


def test_diverging_training_saves_nothing(quick, tmp_path, capsys):
    out = tmp_path / "w.npz"
    with np.errstate(all="ignore"):
        assert main(["train", "--epochs", "2", "--lr", "1e30", "--out",
                     str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "training diverged, nothing saved" in err and "lower learning rate" in err
    assert not out.exists()


def test_evaluate_names_the_weights_on_its_first_line(quick, capsys):
    assert main(["evaluate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"weights: {quick}" and lines[1] == "model: LeNet-5; data: MNIST"
    assert lines[2].endswith("on 200 images")


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "npy", "directory"])
def test_evaluate_unreadable_weights_is_a_usage_error(tmp_path, capsys, kind):
    path = tmp_path / "w.npz"
    write_bad_file(path, kind)
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--weights", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"--weights: {path}" in err and "not a cnnlib checkpoint" in err
    assert "Traceback" not in err and "pickle" not in err


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_help_shows_every_option_with_its_default(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "200")  # no line breaks inside the defaults
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    subparsers = next(a for a in build_parser()._actions if a.choices and command in a.choices)
    for action in subparsers.choices[command]._actions:
        assert action.help, action.option_strings
    if command == "evaluate":
        assert "None: the shipped lenet5_mnist.npz in $CNNLIB_DATA_DIR or the checkout's data/" \
            in text
    else:
        assert "(default: 10)" in text and "None: runs/MODEL_DATASET[_aug].npz" in text
        assert "{fashion-mnist,mnist}" in text and "{lenet5,resnet}" in text


def test_cli_works_without_the_unix_resource_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "resource", None)           # what Windows has: no such module
    assert cli.peak_memory_mb() is None


def test_the_command_line_does_not_import_matplotlib():
    code = "import sys, cnnlib.__main__; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout == "False\n"


# --- issue 24: every user error one message and exit 2; nothing lost, nothing left behind -------

def test_type_errors_use_the_right_article_and_the_help_names_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "x"])
    assert "--epochs: expected an int, got 'x'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    description = capsys.readouterr().out.split("\n\n")[1]
    assert all(word in description for word in ("Train", "evaluate", "student edition"))


@pytest.fixture
def offline_mnist(monkeypatch):
    """MNIST's mirrors replaced by a closed local port: a missing file fails without the network."""
    from test_datasets import _closed_port_url

    from cnnlib.datasets import DATASETS, Dataset
    offline = Dataset(files=DATASETS["mnist"].files, mirrors=(_closed_port_url(),))
    monkeypatch.setitem(DATASETS, "mnist", offline)
    return DATASETS["mnist"].files


def _copy_mnist(folder):
    (folder / "mnist").mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / "mnist" / name).write_bytes((DATA_ROOT / "mnist" / name).read_bytes())
    return folder / "mnist"


def _corrupt(mnist):
    data = bytearray((mnist / "t10k-labels-idx1-ubyte.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (mnist / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(data))


def _truncate(mnist):
    path = mnist / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])


def _directory_instead(mnist):
    (mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    (mnist / "t10k-labels-idx1-ubyte.gz").mkdir()


def _fifo_instead(mnist):
    (mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    os.mkfifo(mnist / "t10k-labels-idx1-ubyte.gz")


@pytest.mark.parametrize("damage, message", [
    (_corrupt, "t10k-labels-idx1-ubyte.gz"), (_truncate, "corrupted or truncated gzip data"),
    (_directory_instead, "not a regular file"), (_fifo_instead, "not a regular file"),
])
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_damaged_data_is_one_message_and_exit_2(tmp_path, monkeypatch, capsys, offline_mnist,
                                                command, damage, message):
    if damage is _fifo_instead and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    damage(_copy_mnist(tmp_path / "data"))
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "fit", _no_fit)
    argv = (["train", "--epochs", "1"] if command == "train"
            else ["evaluate", "--weights", str(SHIPPED)])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"python -m cnnlib {command}: error: cannot load MNIST: ")
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()      # train made its folder and removed it again


@pytest.mark.parametrize("layout", ["missing", "empty", "a regular file"])
def test_cnnlib_data_dir_missing_empty_or_a_file_is_one_message_and_creates_nothing(
        tmp_path, monkeypatch, capsys, offline_mnist, layout):
    folder = tmp_path / "data"
    if layout == "empty":
        folder.mkdir()
    elif layout == "a regular file":
        folder.write_text("not a folder")
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(folder))
    before = sorted(tmp_path.rglob("*"))
    assert main(["evaluate", "--weights", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert "error: cannot load MNIST: " in err and str(folder) in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


def test_outside_a_checkout_evaluate_names_every_place_tried(tmp_path, monkeypatch, capsys):
    from cnnlib import datasets
    monkeypatch.setattr(datasets, "DATA_ROOT", tmp_path / "site-packages" / "data")
    monkeypatch.delenv("CNNLIB_DATA_DIR", raising=False)
    assert main(["evaluate"]) == 2
    err = capsys.readouterr().err
    assert "CNNLIB_DATA_DIR, which is not set" in err and "not inside one" in err
    assert "Traceback" not in err
    assert not (tmp_path / "site-packages").exists()


def test_evaluate_without_shipped_weights_names_the_folders_tried(tmp_path, monkeypatch, capsys):
    from cnnlib import datasets
    monkeypatch.setattr(datasets, "DATA_ROOT", tmp_path / "site-packages" / "data")
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path))
    assert main(["evaluate"]) == 2
    err = capsys.readouterr().err
    assert f"lenet5_mnist.npz is in none of: {tmp_path}; pass --weights" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_as_weights_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "w.npz"
    os.mkfifo(fifo)
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--weights", str(fifo)])
    assert info.value.code == 2
    assert f"--weights: {fifo} is not a regular file" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_as_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "fit", _no_fit)
    fifo = tmp_path / "w.npz"
    os.mkfifo(fifo)
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(fifo), "--force"])
    assert info.value.code == 2 and "exists and is not a regular file" in capsys.readouterr().err


def _sys_is_read_only():
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            return False
    except OSError:
        return True


@pytest.mark.skipif(not Path("/sys").is_dir() or not _sys_is_read_only(),
                    reason="needs Linux's /sys")
def test_an_out_folder_that_cannot_be_written_is_refused_before_training(quick, capsys,
                                                                         monkeypatch):
    monkeypatch.setattr(cli, "fit", _no_fit)
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", "/sys/lenet5_mnist.npz"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--out: cannot write in /sys (" in err
    assert "Traceback" not in err


def test_a_full_disk_is_found_before_training_and_leaves_no_folder(quick, tmp_path, capsys,
                                                                   monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cli, "fit", _no_fit)
    monkeypatch.setattr(cli.tempfile, "TemporaryFile", full)
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path / "new" / "deeper" / "w.npz")])
    assert info.value.code == 2
    assert f"--out: cannot write in {tmp_path / 'new' / 'deeper'} (No space left on device)" in \
        capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_failed_final_save_goes_to_a_named_fallback(quick, tmp_path, capsys, monkeypatch):
    out, real_save = tmp_path / "w.npz", cli.save_params

    def save(model, path, *args):
        if Path(path) == out:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_save(model, path, *args)

    monkeypatch.setattr(cli, "save_params", save)
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress"]) == 1
    fallback = tmp_path / "w.unsaved.npz"
    err = capsys.readouterr().err
    assert f"cannot write {out} (Read-only file system)" in err
    assert f"saved the weights to {fallback} instead of {out}" in err
    assert fallback.exists() and not out.exists()
    assert main(["evaluate", "--weights", str(fallback)]) == 0


def test_a_file_that_appeared_while_training_is_not_replaced(quick, tmp_path, capsys, monkeypatch):
    out, real_fit = tmp_path / "w.npz", cli.fit

    def fit(*args, **kwargs):
        out.write_bytes(b"written by another run")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(cli, "fit", fit)
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{out} appeared while training (--force replaces it)" in err
    assert out.read_bytes() == b"written by another run" and (tmp_path / "w.unsaved.npz").exists()


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_save_the_completed_epochs_like_ctrl_c(quick, tmp_path, capsys,
                                                                  monkeypatch, name):
    if not hasattr(signal, name):
        pytest.skip(f"no {name} on this system")
    signum, before = getattr(signal, name), signal.getsignal(getattr(signal, name))

    def make(*args, **kwargs):      # LeNet5 whose 9th backward pass (epoch 2) gets the signal
        model = LeNet5(*args, **kwargs)
        real_backward, calls = model.backward, []

        def backward(*a, **k):
            calls.append(1)
            if len(calls) == 9:
                os.kill(os.getpid(), signum)
            return real_backward(*a, **k)

        model.backward = backward
        return model

    monkeypatch.setattr(cli, "LeNet5", make)
    out = tmp_path / "w.npz"
    assert main(["train", "--epochs", "3", "--out", str(out), "--no-progress"]) == 128 + signum
    saved = tmp_path / "w.interrupted.npz"
    assert capsys.readouterr().err.strip() == (f"stopped by {name} in epoch 2 of 3 (1 completed); "
                                               f"saved the weights so far to {saved}")
    assert saved.exists() and signal.getsignal(signum) == before


def test_the_interrupt_message_starts_on_a_line_of_its_own(quick, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "LeNet5", _interrupt_after(9))
    assert main(["train", "--epochs", "3", "--out", str(tmp_path / "w.npz")]) == 130
    err = capsys.readouterr().err
    assert "batch/s" in err          # a progress bar was drawn; the message has a line of its own
    assert any(line.startswith("interrupted in epoch 2 of 3") for line in err.split("\n"))


def test_a_run_that_ends_at_chance_says_so_and_saves_nothing(quick, tmp_path, capsys):
    out = tmp_path / "w.npz"
    with np.errstate(all="ignore"):
        status = main(["train", "--epochs", "1", "--lr", "1e3", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 1 and not out.exists() and "Traceback" not in err
    assert "training ended at chance accuracy" in err and "nothing saved: try a lower --lr" in err


def test_at_chance_compares_with_always_guessing_the_most_common_class():
    labels = np.repeat(np.arange(10), [1135] + [985] * 9)[:10000]
    assert cli.at_chance(0.1135, labels) and cli.at_chance(0.12, labels)
    assert not cli.at_chance(0.13, labels) and not cli.at_chance(0.99, labels)


def test_clip_reaches_fit_and_the_divergence_message_names_the_options(quick, tmp_path, capsys,
                                                                       monkeypatch):
    seen, real_fit = {}, cli.fit

    def fit(*args, **kwargs):
        seen["clip"] = kwargs["clip"]
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(cli, "fit", fit)
    assert main(["train", "--epochs", "1", "--clip", "1.0", "--out", str(tmp_path / "a.npz"),
                 "--no-progress"]) == 0
    assert seen["clip"] == 1.0 and "(cosine, clip 1.0)" in capsys.readouterr().out
    with np.errstate(all="ignore"):
        assert main(["train", "--epochs", "2", "--lr", "1e30", "--out", str(tmp_path / "b.npz"),
                     "--no-progress"]) == 1
    assert "a lower --lr, or --clip 1.0" in capsys.readouterr().err


def _run(code, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).parent.parent)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          **kwargs)


def test_train_and_evaluate_import_neither_the_checkers_nor_nbformat(tmp_path):
    code = ("import sys\nfrom cnnlib.__main__ import main\n"
            "assert main(['train', '--epochs', '1', '--train-images', '256', '--no-progress', "
            f"'--out', {str(tmp_path / 'w.npz')!r}]) in (0, 1)\n"
            "assert main(['evaluate']) == 0\n"
            "print(sorted(m for m in sys.modules if m in ('cnnlib.exercises', 'nbformat')))")
    result = _run(code, check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_a_closed_pipe_ends_evaluate_quietly():
    process = subprocess.Popen([sys.executable, "-m", "cnnlib", "evaluate"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ,
                                    "PYTHONPATH": str(Path(cli.__file__).parent.parent)})
    assert process.stdout.readline().startswith("weights: ")
    process.stdout.close()                  # like `| head -1`: the reader has gone
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141 and err == ""


def test_a_plain_pip_install_finds_data_through_cnnlib_data_dir_or_says_where_it_looked(tmp_path):
    """After a (non-editable) ``pip install .`` the package sits in site-packages, without data/."""
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    shutil.copytree(Path(cli.__file__).parent, source / "cnnlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(Path(cli.__file__).parent.parent / name, source / name)
    site = tmp_path / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site), str(source)],
                   check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "CNNLIB_DATA_DIR"}
    env["PYTHONPATH"] = str(site)
    command = [sys.executable, "-m", "cnnlib", "evaluate"]
    lost = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert lost.returncode == 2 and "Traceback" not in lost.stderr
    assert "CNNLIB_DATA_DIR, which is not set" in lost.stderr
    assert str(site / "cnnlib") in lost.stderr
    found = subprocess.run(command, cwd=tmp_path, env={**env, "CNNLIB_DATA_DIR": str(DATA_ROOT)},
                           capture_output=True, text=True)
    assert found.returncode == 0 and found.stdout.startswith(f"weights: {SHIPPED}\n")
    assert "test accuracy: 0.99" in found.stdout


# --- issue 27: --model, --dataset, --augment --------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "vgg16"], "argument --model: invalid choice: 'vgg16'"),
    (["train", "--dataset", "cifar10"], "argument --dataset: invalid choice: 'cifar10'"),
    (["train", "--augment", "yes"], "unrecognized arguments: yes"),
    (["evaluate", "--model", "resnet50"], "argument --model: invalid choice: 'resnet50'"),
    (["evaluate", "--dataset", "fashion"], "argument --dataset: invalid choice: 'fashion'"),
])
def test_bad_model_or_dataset_is_a_usage_error(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err and "Traceback" not in err


@pytest.fixture
def quick_fashion(monkeypatch, tmp_path, small_mnist):
    """The CLI in tmp_path with MNIST's first images standing in for Fashion-MNIST (the loader is
    what is tested, not the images), and a model that never counts as at chance."""
    monkeypatch.setattr(cli, "load_fashion_mnist", lazy_loader(small_mnist))
    monkeypatch.setattr(cli, "load_mnist", _no_fit)
    monkeypatch.setattr(cli, "at_chance", lambda *args: False)
    monkeypatch.chdir(tmp_path)


def test_train_a_resnet_on_fashion_mnist_with_augmentation_then_evaluate(quick_fashion, tmp_path,
                                                                          capsys):
    assert main(["train", "--model", "resnet", "--dataset", "fashion-mnist", "--augment",
                 "--epochs", "1", "--train-images", "64", "--batch-size", "32",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "small ResNet (16/32/64) on Fashion-MNIST, 78,090 parameters" in text
    assert "on 64 images; augmented: shifts up to 2 px, left-right flips" in text
    out = tmp_path / "runs" / "resnet_fashion_mnist_aug.npz"
    assert f"saved weights to {Path('runs/resnet_fashion_mnist_aug.npz')}" in text
    saved = np.load(out)
    assert saved["stem.conv.W"].dtype == np.float32 and "stage3.block0.conv2.W" in saved
    # evaluate tells the model from the names and the data set from the file name
    assert main(["evaluate", "--weights", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "model: small ResNet (16/32/64); data: Fashion-MNIST"
    assert lines[2].endswith("on 200 images")
    # ... unless told otherwise: LeNet-5's names do not fit these weights
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--weights", str(out), "--model", "lenet5"])
    assert info.value.code == 2 and "checkpoint does not fit the model" in capsys.readouterr().err


def test_evaluate_dataset_option_overrides_the_file_name(quick_fashion, tmp_path, capsys):
    weights = tmp_path / "plain.npz"
    weights.write_bytes(SHIPPED.read_bytes())
    with pytest.raises(AssertionError, match="fit must not run"):   # MNIST is not loaded...
        main(["evaluate", "--weights", str(weights)])
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(weights), "--dataset", "fashion-mnist"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "model: LeNet-5; data: Fashion-MNIST"


@pytest.mark.parametrize("dataset, flips", [("mnist", False), ("fashion-mnist", True)])
def test_augment_reaches_fit_seeded_with_flips_only_for_clothing(quick_fashion, monkeypatch,
                                                                  small_mnist, dataset, flips):
    from cnnlib.augment import Augmented
    seen = {}

    def fake_fit(model, optimizer, x, y, **kwargs):
        seen["x"] = x
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "fit", fake_fit)
    monkeypatch.setattr(cli, "load_mnist", lazy_loader(small_mnist))
    main(["train", "--dataset", dataset, "--augment", "--seed", "7", "--no-progress"])
    x = seen["x"]
    assert isinstance(x, Augmented) and x.flip is flips and x.seed == 7 and x.max_shift == 2
    first = x[np.arange(8)]
    x.reads = 0
    assert np.array_equal(x[np.arange(8)], first)          # same seed, same reads: same batch
    assert not np.array_equal(x[np.arange(8)], first)      # the next read draws anew
    assert first.dtype == np.float32 and first.shape == (8, 1, 28, 28)


def test_the_default_evaluate_weights_follow_model_and_dataset(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path))
    (tmp_path / "resnet_fashion_mnist.npz").write_bytes(b"")
    assert cli.default_weights(cli.weights_name("resnet", "fashion-mnist")) == \
        tmp_path / "resnet_fashion_mnist.npz"
    with pytest.raises(cli.CommandError, match="resnet_mnist_aug.npz is in none of"):
        cli.default_weights(cli.weights_name("resnet", "mnist", True))


def test_the_shipped_fashion_mnist_weights_load_and_are_recorded():
    import json

    runs = json.loads((DATA_ROOT / "fashion_mnist_runs.json").read_text())
    shipped = [run for run in runs if run["weights"]]
    assert {run["weights"] for run in shipped} == {
        "resnet_fashion_mnist.npz", "lenet5_fashion_mnist.npz", "lenet5_fashion_mnist_aug.npz"}
    for run in shipped:
        model = cli.build_model("resnet" if run["model"].startswith("small ResNet") else "lenet5")
        cli.load_params(model, DATA_ROOT / run["weights"])
        assert all(p.dtype == np.float32 for p in model.params.values())
        assert sum(p.size for p in model.params.values()) == run["parameters"]
        assert run["command"].startswith("python -m cnnlib train --model ")
        assert "--dataset fashion-mnist" in run["command"]
        assert ("--augment" in run["command"]) == run["augmented"]
