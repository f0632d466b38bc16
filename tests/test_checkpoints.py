"""Checkpoints: round trip, atomic writes, validation before assigning, and damaged files (byte
flips in every region of a real checkpoint, truncations, FIFOs) that must all be refused with a
ValueError."""

import errno
import io
import os
import struct
import threading
import zipfile

import numpy as np
import pytest

from cnnlib.checkpoints import load_params, save_params
from cnnlib.datasets import DATA_ROOT
from cnnlib.models import LeNet5, TwoLayerNet
from cnnlib.optim import SGD, Adam, Momentum

SHIPPED = DATA_ROOT / "lenet5_mnist.npz"


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
    """Write at ``path`` a file that is not a checkpoint, of the given kind (also used by
    test_cli)."""
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
    ("empty", "the file is empty"), ("truncated", "truncated or corrupted"),
    ("text", "not a zip archive"),
    ("npy", r"an \.npy file"), ("directory", "is a directory"), ("zip of text", "not .npy arrays"),
])
def test_load_params_says_what_is_not_a_checkpoint(tmp_path, kind, reason):
    path = tmp_path / "w.npz"
    write_bad_file(path, kind)
    with pytest.raises(ValueError, match=reason) as info:
        load_params(TwoLayerNet(2, 8, 3), path)
    message = str(info.value)
    assert str(path) in message and "not a cnnlib checkpoint" in message and "pickle" not in message


# --- optimizer state: checked in full before anything is assigned --------------------------------

def _trained(optimizer, path):
    """A TwoLayerNet after two updates with ``optimizer``, saved with that optimizer's state at
    ``path``."""
    model = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    for _ in range(2):
        model.loss(x, np.arange(6) % 3)
        model.backward()
        optimizer.update(model.params, model.grads)
    save_params(model, path, optimizer)


@pytest.mark.parametrize("saved_with, loaded_into, message", [
    (Adam, Momentum, r"optimizer state: unexpected m/affine1\.W \(not a Momentum slot"),
    (SGD, Adam, r"optimizer state: missing m/affine1\.W"),
    (Momentum, Adam, r"optimizer state: missing m/affine1\.W"),
])
def test_load_params_checks_the_optimizer_state_before_assigning(
    tmp_path, saved_with, loaded_into, message
):
    _trained(saved_with(0.01), tmp_path / "w.npz")
    model, optimizer = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(7)), loaded_into(0.01)
    before = _params_of(model)
    with pytest.raises(ValueError, match=message):
        load_params(model, tmp_path / "w.npz", optimizer)
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])
    assert optimizer.t == 0 and all(not values for values in optimizer.state.values())


def test_load_params_checks_optimizer_state_shapes_and_step_count(tmp_path):
    _trained(Adam(0.01), tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as data:
        arrays = {key: data[key] for key in data.files}
    arrays["optimizer:v/affine2.b"] = np.zeros(4, np.float32)
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError,
                       match=r"shape mismatch for v/affine2\.b: parameter \(3,\), file \(4,\)"):
        load_params(TwoLayerNet(2, 8, 3), tmp_path / "shape.npz", Adam(0.01))
    arrays["optimizer:t"] = np.array(-1)
    np.savez(tmp_path / "t.npz", **arrays)
    with pytest.raises(ValueError, match=r"t: expected a non-negative integer step count"):
        load_params(TwoLayerNet(2, 8, 3), tmp_path / "t.npz", Adam(0.01))


def test_an_optimizer_checkpoint_before_any_step_loads(tmp_path):
    save_params(TwoLayerNet(2, 8, 3), tmp_path / "w.npz", Adam(0.01))
    optimizer = Adam(0.01)
    load_params(TwoLayerNet(2, 8, 3), tmp_path / "w.npz", optimizer)
    assert optimizer.t == 0


# --- damaged files: a ValueError, never another exception ----------------------------------------

def _regions(raw):
    """``{region: (start, stop)}`` byte ranges of the zip file ``raw``: each entry's local header,
    its .npy header and its payload, the central directory and the end record."""
    archive = zipfile.ZipFile(io.BytesIO(raw))
    regions = {}
    for info in archive.infolist():
        name_len, extra_len = struct.unpack("<HH",
                                            raw[info.header_offset + 26:info.header_offset + 30])
        data = info.header_offset + 30 + name_len + extra_len
        header_len = struct.unpack("<H", raw[data + 8:data + 10])[0]
        regions[f"{info.filename} local header"] = (info.header_offset, data)
        regions[f"{info.filename} .npy header"] = (data, data + 10 + header_len)
        regions[f"{info.filename} payload"] = (data + 10 + header_len, data + info.file_size)
    end = raw.rindex(b"PK\x05\x06")
    directory = struct.unpack("<I", raw[end + 16:end + 20])[0]
    regions["central directory"] = (directory, end)
    regions["end record"] = (end, len(raw))
    return regions


def _load_damaged(raw, path):
    """Load the bytes ``raw`` as a checkpoint into a fresh LeNet5: True when they load, False when
    they are refused with the documented ValueError; any other exception fails the test."""
    path.write_bytes(raw)
    try:
        load_params(LeNet5(), path)
    except ValueError as err:
        assert "not a cnnlib checkpoint" in str(err) or "does not fit the model" in str(err), err
        return False
    return True


def test_the_regions_cover_the_shipped_checkpoint():
    raw = SHIPPED.read_bytes()
    spans = sorted(_regions(raw).values())
    assert spans[0][0] == 0 and spans[-1][1] == len(raw)
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(spans, spans[1:]))


def _write(path, raw):
    path.write_bytes(bytes(raw))
    return path


def test_the_byte_flip_that_broke_numpys_header_parser_is_refused(tmp_path):
    raw = bytearray(SHIPPED.read_bytes())
    raw[1139] ^= 9    # inside conv2.W's .npy header: numpy's parser raised tokenize.TokenError
    with pytest.raises(ValueError, match="not a cnnlib checkpoint"):
        load_params(LeNet5(), _write(tmp_path / "w.npz", raw))


def test_byte_flips_in_every_region_load_intact_or_are_refused(tmp_path):
    raw = SHIPPED.read_bytes()
    reference = LeNet5()
    load_params(reference, SHIPPED)
    rng = np.random.default_rng(0)
    for region, (start, stop) in _regions(raw).items():
        positions = np.unique(np.r_[start, stop - 1, rng.integers(start, stop, 12)])
        for position in positions:
            damaged = bytearray(raw)
            damaged[position] ^= int(rng.integers(1, 256))
            path = tmp_path / "w.npz"
            loaded = _load_damaged(bytes(damaged), path)
            if region.endswith("payload"):
                assert not loaded, f"a flip at byte {position} ({region}) escaped the CRC-32 check"
            # a field nothing reads (a timestamp, a comment length): the weights are intact
            if loaded:
                model = LeNet5()
                load_params(model, path)
                for name, p in reference.params.items():
                    np.testing.assert_array_equal(
                        model.params[name], p, err_msg=f"{region}, byte {position}"
                    )


def test_truncations_at_many_lengths_are_refused(tmp_path):
    raw = SHIPPED.read_bytes()
    lengths = np.unique(np.r_[np.arange(0, 80), np.linspace(80, len(raw) - 1, 150).astype(int),
                              np.arange(len(raw) - 30, len(raw))])
    for length in lengths:
        assert not _load_damaged(raw[:length], tmp_path / "w.npz"), f"truncated to {length} bytes"


def test_a_header_that_claims_a_huge_array_is_refused_without_allocating_it(tmp_path):
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy,
                                         {"descr": "<f4",
                                          "fortran_order": False, "shape": (10**15,)})
    npy.write(np.zeros(3, np.float32).tobytes())  # 3 values, where the header claims 10**15 (4 PB)
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as archive:
        archive.writestr("affine2.b.npy", npy.getvalue())
    with pytest.raises(ValueError, match="not a cnnlib checkpoint"):
        load_params(TwoLayerNet(2, 8, 3), tmp_path / "w.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX only")
def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "w.npz"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            load_params(TwoLayerNet(2, 8, 3), fifo)
        except ValueError as err:
            outcome.append(str(err))

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "load_params blocked on a FIFO with no writer"
    assert (
        outcome and "not a regular file" in outcome[0] and "not a cnnlib checkpoint" in outcome[0]
    )


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_params(TwoLayerNet(2, 8, 3), tmp_path / "missing.npz")


def test_an_archive_with_an_array_name_twice_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    save_params(TwoLayerNet(2, 8, 3), path)
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("affine2.b.npy", _npy(np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="the same array name twice"):
        load_params(TwoLayerNet(2, 8, 3), path)


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_compressed_checkpoint_loads(tmp_path):
    source = TwoLayerNet(2, 8, 3, rng=np.random.default_rng(3))
    np.savez_compressed(tmp_path / "w.npz", **source.params)
    model = TwoLayerNet(2, 8, 3)
    load_params(model, tmp_path / "w.npz")
    for name, p in source.params.items():
        np.testing.assert_array_equal(model.params[name], p)
