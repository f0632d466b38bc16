import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlib import __main__ as cli
from cnnlib.__main__ import DEFAULT_WEIGHTS, build_parser, format_confusion, main
from cnnlib.models import LeNet5
from test_training import write_bad_file


@pytest.mark.parametrize("argv, message", [
    ([], "required: command"),
    (["train", "--epochs", "0"], "--epochs: must be positive, got 0"),
    (["train", "--lr", "fast"], "--lr: expected a float, got 'fast'"),
    (["train", "--lr", "nan"], "--lr: must be positive, got nan"),
    (["train", "--lr", "inf"], "--lr: must be finite, got inf"),
    (["train", "--seed", "-1"], "--seed: must be a non-negative int, got -1"),
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
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
    assert main(["train", "--epochs", "1", "--train-images", "512", "--batch-size", "64", "--out", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    for expected in ("test accuracy:", "images/s", "peak memory:", f"saved weights to {out}"):
        assert expected in text
    assert out.exists()
    assert main(["evaluate", "--weights", str(out)]) == 0
    text = capsys.readouterr().out
    assert "on 10,000 images" in text and "true\\pred" in text


def test_format_confusion():
    text = format_confusion(np.array([[5, 0], [1, 12]]))
    assert text.splitlines()[0].split() == ["true\\pred", "0", "1"]
    assert text.splitlines()[2].split() == ["1", "1", "12"]


# --- train never replaces a file silently; Ctrl-C; divergence; unreadable weights ----------------

@pytest.fixture(scope="module")
def small_mnist(mnist):
    (x, y), (xt, yt) = mnist
    return (x[:256], y[:256]), (xt[:200], yt[:200])


@pytest.fixture
def quick(monkeypatch, tmp_path, small_mnist):
    """The CLI on 256 training and 200 test images, run in tmp_path, with the shipped weights at a copy."""
    monkeypatch.setattr(cli, "load_mnist", lambda *args, **kwargs: small_mnist)
    shipped = tmp_path / "shipped" / "lenet5_mnist.npz"
    shipped.parent.mkdir()
    shipped.write_bytes(DEFAULT_WEIGHTS.read_bytes())
    monkeypatch.setattr(cli, "DEFAULT_WEIGHTS", shipped)
    monkeypatch.chdir(tmp_path)
    return shipped


def _no_fit(*args, **kwargs):
    raise AssertionError("fit must not run")


def test_defaults_train_to_runs_and_evaluate_the_shipped_weights():
    assert build_parser().parse_args(["train"]).out == Path("runs/lenet5_mnist.npz")
    assert build_parser().parse_args(["evaluate"]).weights == DEFAULT_WEIGHTS
    assert DEFAULT_WEIGHTS.parent.name == "data" and DEFAULT_WEIGHTS.name == "lenet5_mnist.npz"


def test_train_writes_runs_by_default_and_replaces_a_file_only_with_force(quick, tmp_path, capsys, monkeypatch):
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
        assert f"--out: {argv[-1] if len(argv) > 1 else Path('runs/lenet5_mnist.npz')} already exists" in err
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
    """A stand-in for LeNet5 whose model raises KeyboardInterrupt on backward call number ``backward_calls``."""
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
    # 256 images in batches of 128: 2 steps per epoch; the 3rd backward pass is in epoch 2
    monkeypatch.setattr(cli, "LeNet5", _interrupt_after(3))
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
    assert main(["train", "--epochs", "3", "--out", str(tmp_path / "w.npz"), "--no-progress"]) == 130
    assert "nothing saved" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shipped"]


def test_diverging_training_saves_nothing(quick, tmp_path, capsys):
    out = tmp_path / "w.npz"
    with np.errstate(all="ignore"):
        assert main(["train", "--epochs", "2", "--lr", "1e30", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "training diverged, nothing saved" in err and "lower learning rate" in err
    assert not out.exists()


def test_evaluate_names_the_weights_on_its_first_line(quick, capsys):
    assert main(["evaluate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"weights: {quick}" and lines[1].endswith("on 200 images")


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
        assert f"(default: {DEFAULT_WEIGHTS})" in text
    else:
        assert "(default: 10)" in text and "(default: runs/lenet5_mnist.npz)" in text


def test_cli_works_without_the_unix_resource_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "resource", None)           # what Windows has: no such module
    assert cli.peak_memory_mb() is None


def test_the_command_line_does_not_import_matplotlib():
    code = "import sys, cnnlib.__main__; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
