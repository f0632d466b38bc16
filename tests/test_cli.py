import numpy as np
import pytest

from cnnlib.__main__ import format_confusion, main


@pytest.mark.parametrize("argv, message", [
    ([], "required: command"),
    (["train", "--epochs", "0"], "--epochs: must be positive, got 0"),
    (["train", "--lr", "fast"], "--lr: expected a float, got 'fast'"),
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
