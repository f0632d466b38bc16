"""Reading, verifying and downloading the IDX datasets MNIST and Fashion-MNIST.

The IDX format (LeCun et al.) is a big-endian header followed by raw array data:

    bytes 0-1   zero
    byte  2     dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E
    float64) byte  3     number of dimensions d
    4*d bytes   each dimension as a big-endian int32
    the rest    the values, row-major

Every file is verified against a checksum of its decompressed payload (or of the .gz itself), so a
truncated or corrupted file is reported instead of silently training on garbage.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import functions

IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}

DATA_ROOT = Path(__file__).resolve().parent.parent / "data"   # data/ of the checkout, if any


@dataclass(frozen=True)
class IdxFile:
    """One file of a dataset: its name on disk and on the mirrors, its shape and its checksums.

    A file is accepted when the md5 of the .gz is one of ``gz_md5`` or the md5 of the
    decompressed payload equals ``payload_md5``.
    """

    filename: str
    shape: tuple
    payload_md5: str | None = None
    gz_md5: tuple = ()


@dataclass(frozen=True)
class Dataset:
    """A dataset: its four files (train/test images/labels), mirrors to fetch from, extra places to
    look."""

    files: dict
    mirrors: tuple
    system_dirs: tuple = ()
    class_names: tuple = tuple(str(d) for d in range(10))


DATASETS = {
    "mnist": Dataset(
        files={
            "train_images": IdxFile("train-images-idx3-ubyte.gz", (60000, 28, 28),
                                    "6bbc9ace898e44ae57da46a324031adb",
                                    ("f68b3c2dcbeaaa9fbdd348bbdeb94873",)),
            "train_labels": IdxFile("train-labels-idx1-ubyte.gz", (60000,),
                                    "a25bea736e30d166cdddb491f175f624",
                                    ("d53e105ee54ea40749a09fcbcd1e9432",)),
            "test_images": IdxFile("t10k-images-idx3-ubyte.gz", (10000, 28, 28),
                                   "2646ac647ad5339dbf082846283269ea",
                                   ("9fb629c4189551a2d022fa330f9573f3",)),
            "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", (10000,),
                                   "27ae3e4e09519cfbb04c329615203637",
                                   ("ec29112dd5afa0611ce80d1b7f02629c",)),
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
    ),
    "fashion-mnist": Dataset(
        files={
            # .gz md5s: the upstream release; payload md5s: the files of Debian's
            # dataset-fashion-mnist (0.0~git20200523.55506a9-1), whose .gz wrappers differ from
            # upstream's
            "train_images": IdxFile("train-images-idx3-ubyte.gz", (60000, 28, 28),
                                    "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                                    ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",)),
            "train_labels": IdxFile("train-labels-idx1-ubyte.gz", (60000,),
                                    "9018921c3c673c538a1fc5bad174d6f9",
                                    ("25c81989df183df01b3e8a0aad5dffbe",)),
            "test_images": IdxFile("t10k-images-idx3-ubyte.gz", (10000, 28, 28),
                                   "8181f5470baa50b63fa0f6fddb340f0a",
                                   ("bef4ecab320f06d8554ea6380940ec79",)),
            "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", (10000,),
                                   "15d484375f8d13e6eb1aabb0c3f46965",
                                   ("bb300cfdad3c16e7a12a480ee83cd310",)),
        },
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}


class DownloadError(RuntimeError):
    """Raised when no mirror delivered a file that passed verification."""


class DataNotFoundError(FileNotFoundError):
    """Raised when cnnlib cannot tell where its data lives (no CNNLIB_DATA_DIR, not a checkout)."""


def _read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped when it starts with the gzip magic bytes."""
    if path.exists() and not path.is_file():    # a FIFO or a device would block or never end
        raise ValueError(f"{path}: not a regular file")
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise ValueError(f"{path}: corrupted or truncated gzip data ({err})") from None


def _parse_idx(data: bytes, path) -> np.ndarray:
    if len(data) < 4:
        raise ValueError(
            f"{path}: not an IDX file: only {len(data)} bytes, the header alone needs 4"
        )
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{data[:4].hex()}: the first two bytes must be zero"
        )
    if code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x} (expected one of "
                         f"{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_len} bytes, "
            f"file has {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header_len
    if payload != expected:
        raise ValueError(
            f"{path}: IDX payload is {payload} bytes but the header's dimensions {dims} "
            f"of {dtype.name} need {expected} bytes (truncated, padded or wrong dimensions)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into an array of its declared shape and dtype.

    Raises ValueError naming the file when the gzip stream is truncated or corrupted, the magic
    number or dtype code is wrong, or the payload length does not match the declared dimensions.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def write_idx(path, array) -> None:
    """Write ``array`` (at least 1-D, as :func:`read_idx` reads) as an IDX file, gzip-compressed
    when ``path`` ends in ``.gz``."""
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError(f"array: IDX stores arrays of at least 1 dimension, got a 0-d array "
                         f"{array!r}")
    code = IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"array: IDX cannot store dtype {array.dtype}; use one of "
                        f"{sorted(d.name for d in IDX_CODES)}")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    data = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def verify_file(path, spec: IdxFile) -> np.ndarray:
    """Read ``path`` and check it against ``spec``'s checksums and shape; return the array.

    Raises ValueError naming the file and what does not match.
    """
    path = Path(path)
    data = _read_bytes(path)
    raw = path.read_bytes()
    array = _parse_idx(data, path)
    if hashlib.md5(raw).hexdigest() not in spec.gz_md5:
        if spec.payload_md5 is None:
            raise ValueError(f"{path}: checksum mismatch: md5 {hashlib.md5(raw).hexdigest()}, "
                             f"expected one of {list(spec.gz_md5)}")
        digest = hashlib.md5(data).hexdigest()
        if digest != spec.payload_md5:
            raise ValueError(f"{path}: payload checksum mismatch: md5 {digest}, expected "
                             f"{spec.payload_md5}")
    if array.shape != tuple(spec.shape):
        raise ValueError(f"{path}: expected shape {tuple(spec.shape)}, file has {array.shape}")
    return array


def checkout_data_dir():
    """The ``data/`` folder of the repository checkout cnnlib runs from (``pyproject.toml`` beside
    it), or None when cnnlib runs from an installed copy (site-packages)."""
    in_checkout = DATA_ROOT.is_dir() and (DATA_ROOT.parent / "pyproject.toml").is_file()
    return DATA_ROOT if in_checkout else None


def data_root() -> Path:
    """The folder holding one sub-folder per dataset (``mnist/``, ``fashion-mnist/``) and the
    shipped weights ``lenet5_mnist.npz``: the environment variable ``CNNLIB_DATA_DIR`` when set,
    else the ``data/`` folder of the repository checkout cnnlib runs from.

    Raises DataNotFoundError naming both places when neither applies (cnnlib installed with a plain
    ``pip install .`` and ``CNNLIB_DATA_DIR`` unset): the data does not travel with the package.
    """
    if os.environ.get("CNNLIB_DATA_DIR"):
        return Path(os.environ["CNNLIB_DATA_DIR"])
    if checkout_data_dir() is not None:
        return DATA_ROOT
    raise DataNotFoundError(
        "cnnlib cannot find its data folder. Tried: (1) the environment variable CNNLIB_DATA_DIR, "
        f"which is not set; (2) the data/ folder of a repository checkout, but cnnlib runs from "
        f"{Path(__file__).resolve().parent}, which is not inside one. Fix: set CNNLIB_DATA_DIR to "
        "a folder holding mnist/ (and lenet5_mnist.npz for the shipped weights), such as the data/ "
        "folder of a clone of the repository, or install cnnlib from the clone with "
        "pip install -e . so that it runs from there.")


def _find_dir(name: str, data_dir) -> Path:
    """The first directory holding all of ``name``'s files, else the default download directory
    (DataNotFoundError when there is none: see :func:`data_root`)."""
    dataset = _dataset(name)
    if data_dir is not None:
        return Path(data_dir)
    try:
        default, not_found = data_root() / name, None
    except DataNotFoundError as err:
        default, not_found = None, err
    for directory in ([default] if default else []) + [Path(d) for d in dataset.system_dirs]:
        if all((directory / f.filename).exists() for f in dataset.files.values()):
            return directory
    if not_found is not None:
        raise not_found
    return default


def _dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"name: unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


def _fetch(url: str, target: Path, timeout: float) -> Path:
    """Stream ``url`` to a temporary file beside ``target`` with a progress bar; return the temp
    path."""
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, leave=False) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise ValueError(f"connection closed after {received} of {total} bytes")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def download(name: str = "mnist", data_dir=None, *, mirrors=None, timeout: float = 30.0) -> Path:
    """Fetch the files of dataset ``name`` that are missing from ``data_dir``; return the directory.

    Each file is tried on each mirror in order (``mirrors`` overrides the dataset's list), streamed
    to a temporary file in the same directory, verified, and only then renamed into place, so an
    interrupted or corrupted download leaves nothing behind (nor a folder it created). A file
    already there that fails verification is fetched again and replaced the same way. Raises
    DownloadError listing every mirror tried and why it failed (and naming a damaged file it could
    not replace).
    """
    dataset = _dataset(name)
    if not 0 < timeout < float("inf"):
        raise ValueError(f"timeout: expected a finite number of seconds > 0, got {timeout!r}")
    directory = Path(data_dir) if data_dir is not None else data_root() / name
    created = [d for d in (directory, *directory.parents) if not d.exists()]   # deepest first
    directory.mkdir(parents=True, exist_ok=True)
    try:
        for spec in dataset.files.values():
            _download_file(name, spec, directory / spec.filename,
                           mirrors if mirrors is not None else dataset.mirrors, timeout)
    except BaseException:
        for folder in created:      # a failed download leaves no new (empty) folder behind
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return directory


def _download_file(name, spec, target, mirrors, timeout):
    """Fetch ``target`` unless it is there and verifies; DownloadError if no mirror delivers it."""
    if target.exists():
        try:
            verify_file(target, spec)
            return
        except ValueError:
            pass  # damaged: fetch it again
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + spec.filename
        tmp = None
        try:
            tmp = _fetch(url, target, timeout)
            verify_file(tmp, spec)
            os.replace(tmp, target)
            return
        except (OSError, ValueError) as err:
            failures.append(f"  {url}: {err}")
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    damaged = (f"\n{target} is there but failed verification: delete it, or copy a good file there"
               if target.exists() else "")
    raise DownloadError(f"could not download {spec.filename} for {name!r}; mirrors tried:\n"
                        + "\n".join(failures) + damaged)


def _check_dtype(dtype, normalize):
    """Raise ValueError unless ``dtype`` is a float dtype, or uint8 when pixels are not
    normalized."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" and (normalize or dtype != np.uint8):
        expected = (
            "a float dtype (pixels scaled to [0, 1])" if normalize else "a float dtype or uint8"
        )
        raise ValueError(f"dtype: expected {expected}, got {dtype}")


def _load(name, normalize, flatten, one_hot, dtype, data_dir, lazy):
    _check_dtype(dtype, normalize)
    if lazy not in (True, False):
        raise TypeError(f"lazy: expected True or False, got {lazy!r}")
    if lazy and not normalize:
        raise ValueError("lazy: scales pixels batch by batch, so it needs normalize=True; "
                         "got normalize=False (the raw uint8 pixels are already compact)")
    dataset = _dataset(name)
    directory = _find_dir(name, data_dir)
    missing = [f.filename for f in dataset.files.values() if not (directory / f.filename).exists()]
    if missing:
        try:
            download(name, directory)
        except DownloadError as err:
            raise FileNotFoundError(
                f"{name}: {', '.join(missing)} missing from {directory} and the download "
                f"failed.\n{err}\n"
                f"Fix: copy the four IDX .gz files into {directory} (a git clone of the repository "
                f"ships MNIST in data/mnist/), point cnnlib at a folder that holds them "
                f"(data_dir=..., or the environment variable CNNLIB_DATA_DIR naming a folder with "
                f"a {name}/ sub-folder), or connect to the internet and call "
                f"cnnlib.datasets.download({name!r})."
            ) from None
    arrays = {key: verify_file(directory / spec.filename, spec)
              for key, spec in dataset.files.items()}

    def images(x):
        x = x.reshape(len(x), -1) if flatten else x[:, None, :, :]
        if lazy:
            return ScaledImages(x, dtype)
        return (x.astype(dtype) / dtype.type(255)) if normalize else x

    def labels(y):
        y = y.astype(np.int64)
        return functions.one_hot(y, len(dataset.class_names), dtype) if one_hot else y

    dtype = np.dtype(dtype)
    return ((images(arrays["train_images"]), labels(arrays["train_labels"])),
            (images(arrays["test_images"]), labels(arrays["test_labels"])))


def load_mnist(normalize=True, flatten=False, one_hot=False, dtype=np.float32, data_dir=None,
               lazy=False):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``.

    x: ``(N, 1, 28, 28)``, or ``(N, 784)`` when ``flatten``; values in [0, 1] of ``dtype`` when
    ``normalize``, else the raw uint8 pixels. With ``lazy=True`` (and ``normalize``) x is a
    :class:`ScaledImages`: the uint8 pixels stay in memory (a quarter of float32's size) and
    indexing returns the same floats, batch by batch (``lazy=True`` with ``normalize=False`` is a
    ValueError). y: int64 labels ``(N,)``, or ``(N, 10)`` one-hot of ``dtype``. N is 60000 for
    train and 10000 for test. Reads ``data_dir`` (default: ``mnist/`` in :func:`data_root`, the
    repository's ``data/`` unless ``CNNLIB_DATA_DIR`` is set), verifies every file's checksum, and
    downloads missing files. ``dtype`` must be a float dtype (uint8 is also accepted when not
    ``normalize``): ValueError otherwise.
    """
    return _load("mnist", normalize, flatten, one_hot, dtype, data_dir, lazy)


def load_fashion_mnist(normalize=True, flatten=False, one_hot=False,
                       dtype=np.float32, data_dir=None, lazy=False):
    """Load Fashion-MNIST with the same API and shapes as :func:`load_mnist`.

    Looks in ``data_dir``, else ``fashion-mnist/`` in :func:`data_root`, then Debian's
    ``/usr/share/datasets/fashion-mnist/`` (package dataset-fashion-mnist), and downloads into the
    first of these when neither has it.
    Class names are in ``DATASETS["fashion-mnist"].class_names``.
    """
    return _load("fashion-mnist", normalize, flatten, one_hot, dtype, data_dir, lazy)


class ScaledImages:
    """uint8 pixels that read as floats in [0, 1], one batch at a time.

    ``images[index]`` returns ``pixels[index].astype(dtype) / 255``: the same numbers as indexing
    the array that ``load_mnist()`` returns, while the whole set stays in memory as uint8, a quarter
    of the float32 size (MNIST's 60,000 training images: 47 MB instead of 188 MB). ``fit``,
    ``evaluate``, ``predict`` and ``scores`` read their data by indexing, so they take it wherever
    they take an array. Arithmetic and numpy functions need an array: index first (``images[:]``).

    pixels: uint8 ``(N, ...)``, e.g. ``(N, 1, 28, 28)``; dtype: the float dtype batches come out as.
    """

    def __init__(self, pixels, dtype=np.float32):
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8:
            raise TypeError(f"pixels: expected a uint8 array, got {pixels.dtype}")
        if pixels.ndim < 1:
            raise ValueError("pixels: expected an array of images (N, ...), got shape "
                             f"{pixels.shape}")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise ValueError(f"dtype: expected a float dtype, got {dtype}")
        self.pixels, self.dtype = pixels, dtype

    @property
    def shape(self):
        """The shape of the set, ``(N, ...)``, as the float array would have it."""
        return self.pixels.shape

    @property
    def ndim(self):
        """The number of dimensions, as the float array would have it."""
        return self.pixels.ndim

    def __len__(self):
        return len(self.pixels)

    def subset(self, start, stop=None):
        """Images ``start`` to ``stop - 1`` (to the end when ``stop`` is None), still stored as
        uint8: a :class:`ScaledImages` over a view of the same pixels, e.g. a training split."""
        for name, value in (("start", start), ("stop", stop)):
            if value is not None and not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
        return ScaledImages(self.pixels[start:stop], self.dtype)

    def reshape(self, *shape):
        """The same images in another shape, e.g. ``reshape(-1, 784)`` for a fully connected
        network: a :class:`ScaledImages` over a view of the same pixels."""
        try:
            pixels = self.pixels.reshape(*shape)
        except (TypeError, ValueError) as err:
            raise ValueError(f"reshape: cannot reshape images of shape {self.shape} to {shape}: "
                             f"{err}") from None
        return ScaledImages(pixels, self.dtype)

    def __getitem__(self, index):
        return self.pixels[index].astype(self.dtype) / self.dtype.type(255)

    def __array__(self, dtype=None, copy=None):
        images = self[...]
        return images if dtype is None else images.astype(dtype)

    def __repr__(self):
        return f"ScaledImages(shape={self.shape}, dtype={self.dtype}, stored as uint8)"
