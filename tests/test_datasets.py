import gzip
import hashlib
import http.server
import socket
import threading
from functools import partial

import numpy as np
import pytest

from cnnlib import datasets
from cnnlib.datasets import (
    DATASETS,
    Dataset,
    DownloadError,
    IdxFile,
    download,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("suffix", [".idx", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"a{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_write_idx_refuses_a_0d_array_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"array: IDX stores arrays of at least 1 dimension"):
        write_idx(tmp_path / "scalar.idx", np.uint8(7))
    assert not (tmp_path / "scalar.idx").exists()


def _idx_bytes(array):
    return struct_header(array) + array.tobytes()


def struct_header(array):
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b"\x01\x00" + b[2:], "magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "dtype code"),
    (lambda b: b[:-5], "payload is 55 bytes"),
    (lambda b: b[:3] + b"\x01" + b[4:], "payload"),
    (lambda b: b[:7] + b"\x04" + b[8:], "need 80 bytes"),
    (lambda b: b[:3], "only 3 bytes"),
    (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
])
def test_idx_corruptions_raise_clear_errors(tmp_path, mutate, message):
    data = _idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 20))
    path = tmp_path / "bad.idx"
    path.write_bytes(mutate(data))
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert "bad.idx" in str(info.value)


def test_truncated_gzip_is_reported(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.zeros((100, 28, 28), np.uint8) + 7)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="x.gz.*truncated"):
        read_idx(path)


def test_flipped_byte_fails_checksum(tmp_path):
    array = np.arange(200, dtype=np.uint8).reshape(2, 10, 10)
    good = tmp_path / "good.idx"
    write_idx(good, array)
    spec = IdxFile("good.idx", (2, 10, 10), hashlib.md5(good.read_bytes()).hexdigest())
    np.testing.assert_array_equal(datasets.verify_file(good, spec), array)
    data = bytearray(good.read_bytes())
    data[50] ^= 0xFF
    good.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="good.idx: payload checksum mismatch"):
        datasets.verify_file(good, spec)


def test_load_mnist_shapes_dtypes_ranges(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert np.bincount(y_train).tolist()[0] == 5923
    assert np.bincount(y_train, minlength=10).sum() == 60000
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_load_mnist_options():
    (x, y), (xt, yt) = load_mnist(normalize=False, flatten=True, one_hot=True, dtype=np.float64)
    assert x.shape == (60000, 784) and x.dtype == np.uint8 and x.max() == 255
    assert y.shape == (60000, 10) and y.dtype == np.float64
    np.testing.assert_array_equal(y.sum(axis=1), 1.0)
    assert int(y[:, 0].sum()) == 5923
    assert yt.shape == (10000, 10)


@pytest.mark.parametrize("normalize, dtype", [(True, np.int32), (True, np.uint8), (True, bool),
                                               (False, np.int32), (True, np.complex64)])
def test_load_mnist_refuses_non_float_dtypes(normalize, dtype):
    with pytest.raises(ValueError, match=rf"dtype: expected a float dtype.*got {np.dtype(dtype)}"):
        load_mnist(normalize=normalize, dtype=dtype)


def test_load_mnist_raw_pixels_accept_uint8():
    (x, y), _ = load_mnist(normalize=False, one_hot=True, dtype=np.uint8)
    assert x.dtype == np.uint8 and y.dtype == np.uint8 and y.shape == (60000, 10)


@pytest.mark.parametrize("flatten, dtype", [(False, np.float32), (True, np.float64)])
def test_load_mnist_lazy_reads_as_the_float_set(mnist, flatten, dtype):
    (x, y), (xt, yt) = load_mnist(lazy=True, flatten=flatten, dtype=dtype)
    assert isinstance(x, datasets.ScaledImages) and x.pixels.dtype == np.uint8
    assert x.shape == ((60000, 784) if flatten else (60000, 1, 28, 28)) and x.dtype == dtype
    assert xt.shape[0] == 10000 and y.dtype == np.int64
    (eager, eager_labels), (eager_test, _) = mnist
    index = np.random.default_rng(0).permutation(60000)[:500]
    # pixel counts over 255 in float64, rounded once to dtype (another route than load_mnist)
    expected = (eager * 255).round().astype(np.float64)[index] / 255
    np.testing.assert_array_equal(x[index], expected.reshape(x[index].shape).astype(dtype))
    np.testing.assert_array_equal(y, eager_labels)
    np.testing.assert_array_equal((xt[-3:] * 255).round().reshape(3, -1),
                                  (eager_test[-3:] * 255).round().reshape(3, -1))


def test_load_mnist_lazy_refuses_raw_pixels_and_non_bools():
    with pytest.raises(ValueError, match="lazy: .* needs normalize=True; got normalize=False"):
        load_mnist(lazy=True, normalize=False)
    with pytest.raises(TypeError, match="lazy: expected True or False, got 'yes'"):
        load_fashion_mnist(lazy="yes")


def test_load_mnist_detects_corruption(tmp_path):
    for spec in DATASETS["mnist"].files.values():
        (tmp_path / spec.filename).write_bytes(
            (datasets.DATA_ROOT / "mnist" / spec.filename).read_bytes()
        )
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(labels.read_bytes()))
    payload[100] = (payload[100] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(payload)))
    with pytest.raises(ValueError, match="t10k-labels.*checksum mismatch"):
        load_mnist(data_dir=tmp_path)


# --- downloads, from a local HTTP server on 127.0.0.1 only --------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A two-file dataset registered as 'tiny', and its good payload bytes."""
    source = tmp_path / "source"
    source.mkdir()
    files = {}
    for key, shape in [("train_images", (4, 28, 28)), ("train_labels", (4,))]:
        path = source / f"{key}.gz"
        write_idx(path, np.arange(np.prod(shape), dtype=np.uint8).reshape(shape))
        files[key] = IdxFile(path.name, shape, gz_md5=(hashlib.md5(path.read_bytes()).hexdigest(),))
    monkeypatch.setitem(DATASETS, "tiny", Dataset(files=files, mirrors=()))
    return source


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_good_file(server, tiny, tmp_path):
    root, url = server
    for f in tiny.iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    assert download("tiny", out, mirrors=[url]) == out
    assert sorted(p.name for p in out.iterdir()) == ["train_images.gz", "train_labels.gz"]
    assert read_idx(out / "train_labels.gz").tolist() == [0, 1, 2, 3]


def test_download_corrupted_file_leaves_nothing(server, tiny, tmp_path):
    root, url = server
    for f in tiny.iterdir():
        data = bytearray(f.read_bytes())
        data[-12] ^= 0x01
        (root / f.name).write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1.*(checksum|corrupted)"):
        download("tiny", out, mirrors=[url])
    assert not out.exists()      # neither a file nor the folder download created


def test_failed_download_keeps_a_folder_that_was_there(server, tiny, tmp_path):
    root, url = server
    (tmp_path / "kept").mkdir()
    with pytest.raises(DownloadError):
        download("tiny", tmp_path / "kept" / "new", mirrors=[url + "missing/"])
    assert (tmp_path / "kept").is_dir() and list((tmp_path / "kept").iterdir()) == []


def _damage(path):
    data = bytearray(path.read_bytes())
    data[-12] ^= 0x01
    path.write_bytes(bytes(data))


def test_download_replaces_a_damaged_file(server, tiny, tmp_path):
    root, url = server
    out = tmp_path / "out"
    out.mkdir()
    for f in tiny.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    _damage(out / "train_images.gz")
    # the server has only this one
    (root / "train_images.gz").write_bytes((tiny / "train_images.gz").read_bytes())
    download("tiny", out, mirrors=[url])
    for f in tiny.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["train_images.gz", "train_labels.gz"]


def test_download_names_a_damaged_file_it_cannot_replace(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for f in tiny.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    _damage(out / "train_labels.gz")
    with pytest.raises(DownloadError,
                       match=r"train_labels\.gz is there but failed verification: delete it"):
        download("tiny", out, mirrors=[_closed_port_url()], timeout=5)


def test_download_server_gone(tiny, tmp_path):
    out = tmp_path / "out"
    url = _closed_port_url()
    with pytest.raises(DownloadError) as info:
        download("tiny", out, mirrors=[url], timeout=5)
    assert url in str(info.value) and "refused" in str(info.value).lower()
    assert not out.exists()


def test_download_falls_back_to_second_mirror(server, tiny, tmp_path):
    root, url = server
    for f in tiny.iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    download("tiny", out, mirrors=[_closed_port_url(), url + "missing/", url])
    assert len(list(out.iterdir())) == 2


def test_missing_mnist_without_network_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setitem(DATASETS, "mnist",
                        Dataset(files=DATASETS["mnist"].files, mirrors=(_closed_port_url(),)))
    with pytest.raises(FileNotFoundError, match="copy the four IDX"):
        load_mnist(data_dir=tmp_path / "empty")


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_download_timeout_must_be_positive_and_finite(tmp_path, timeout):
    with pytest.raises(ValueError,
                       match=f"timeout: expected a finite number of seconds > 0, got {timeout}"):
        download("mnist", tmp_path / "new", timeout=timeout)
    assert not (tmp_path / "new").exists()


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        download("cifar")


def test_fashion_mnist_found_in_system_dir(monkeypatch, tmp_path):
    """load_fashion_mnist looks in data/fashion-mnist/, then Debian's
    /usr/share/datasets/fashion-mnist/."""
    system_dir = tmp_path / "usr-share-datasets-fashion-mnist"
    system_dir.mkdir()
    files = {}
    for key, shape in [("train_images", (6, 28, 28)), ("train_labels", (6,)),
                       ("test_images", (3, 28, 28)), ("test_labels", (3,))]:
        path = system_dir / f"{key}.gz"
        write_idx(path, (np.arange(np.prod(shape)) % 10).astype(np.uint8).reshape(shape))
        files[key] = IdxFile(path.name, shape,
                             hashlib.md5(gzip.decompress(path.read_bytes())).hexdigest())
    monkeypatch.setattr(datasets, "DATA_ROOT", tmp_path / "repo-data")
    monkeypatch.setitem(DATASETS, "fashion-mnist",
                        Dataset(files=files, mirrors=(), system_dirs=(str(system_dir),)))
    (x, y), (x_test, y_test) = datasets.load_fashion_mnist(one_hot=True)
    assert x.shape == (6, 1, 28, 28) and y.shape == (6, 10) and x_test.shape == (3, 1, 28, 28)
    assert not (tmp_path / "repo-data").exists()


def test_data_root_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path))
    assert datasets.data_root() == tmp_path
    (tmp_path / "mnist").mkdir()
    for spec in DATASETS["mnist"].files.values():
        (tmp_path / "mnist" / spec.filename).write_bytes(
            (datasets.DATA_ROOT / "mnist" / spec.filename).read_bytes()
        )
    (x, _), (_, y_test) = load_mnist()
    assert x.shape == (60000, 1, 28, 28) and len(y_test) == 10000
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setitem(DATASETS, "mnist",
                        Dataset(files=DATASETS["mnist"].files, mirrors=(_closed_port_url(),)))
    with pytest.raises(FileNotFoundError, match="CNNLIB_DATA_DIR") as info:
        load_mnist()
    assert str(tmp_path / "elsewhere" / "mnist") in str(info.value)
    assert not (tmp_path / "elsewhere").exists()      # a failed load creates no folder


@pytest.mark.parametrize("layout", ["no data folder", "data folder without pyproject.toml"])
def test_outside_a_checkout_without_cnnlib_data_dir_the_error_names_every_place_tried(
        monkeypatch, tmp_path, layout):
    site = tmp_path / "site-packages"
    if layout != "no data folder":
        (site / "data" / "mnist").mkdir(parents=True)
    monkeypatch.setattr(datasets, "DATA_ROOT", site / "data")
    monkeypatch.delenv("CNNLIB_DATA_DIR", raising=False)
    for call in (datasets.data_root, load_mnist):
        with pytest.raises(datasets.DataNotFoundError) as info:
            call()
        message = str(info.value)
        assert "CNNLIB_DATA_DIR, which is not set" in message and "not inside one" in message
        assert "Fix: set CNNLIB_DATA_DIR" in message and str(site / "data") not in message
    assert sorted(p.name for p in site.rglob("*")) == ([] if layout == "no data folder"
                                                        else ["data", "mnist"])


def test_in_a_checkout_data_root_is_its_data_folder(monkeypatch):
    monkeypatch.delenv("CNNLIB_DATA_DIR", raising=False)
    assert datasets.data_root() == datasets.DATA_ROOT
    assert (datasets.DATA_ROOT.parent / "pyproject.toml").is_file()


def test_fashion_mnist_ships_in_the_repository():
    """The four committed files in data/fashion-mnist/ load offline and pass their checksums."""
    directory = datasets.DATA_ROOT / "fashion-mnist"
    for spec in DATASETS["fashion-mnist"].files.values():
        datasets.verify_file(directory / spec.filename, spec)     # payload md5 and shape
    (x, y), (x_test, y_test) = datasets.load_fashion_mnist(data_dir=directory)
    assert x.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() == 1
    assert np.array_equal(np.bincount(y), np.full(10, 6000))
    assert np.array_equal(np.bincount(y_test), np.full(10, 1000))
    assert y[0] == y_test[0] == 9 and DATASETS["fashion-mnist"].class_names[9] == "Ankle boot"
