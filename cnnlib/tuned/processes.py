"""Training steps split across processes: :class:`ProcessSplit`, what ``fit(..., workers=2)`` runs.

:class:`~cnnlib.tuned.SplitBatch` runs the slices of a batch in threads of one process. Between
numpy's calls each thread needs Python's global lock, and a tuned LeNet-5 step makes a few hundred
short calls, so the threads keep waiting for each other. Here every slice but the first runs in a
worker process of its own, with its own interpreter and lock, and the threads' waits are gone.
On a 2-core Intel Xeon (``benchmarks/bench_lenet.py``, README, 2026-12-04, 32 examples at a
time, before the layers kept their workspaces): 18,800 / 21,800 / 23,100 images/s at batch 64 /
128 / 256 against 14,400 / 18,100 / 20,700 with threads.

How a step travels:

* **Shared memory.** Each worker maps two files that the caller maps too: one holds the parameters
  and, after the worker's pass, its gradients (laid out as :func:`param_layout` says); the other
  holds the worker's slice of examples and labels. Before each step the caller copies the current
  parameters in (LeNet-5: 62,000 numbers, tens of microseconds); the worker's model uses them in
  place.
* **Pipes.** One small message each way per step: the caller's "run your slice" (its shape, dtype
  and share of the batch) through the worker's stdin, the worker's loss and scores back through its
  stdout (the worker moves Python's own stdout to stderr, so a stray ``print`` cannot corrupt it).
* **Chunks.** Each process runs its slice ``chunk`` examples at a time (64 by default) and adds
  the gradients up: a larger chunk's arrays outgrow the core's cache, a smaller one pays Python's
  fixed cost per call more often (Intel Xeon, one core, 128 images in chunks of 32 / 64 / 128:
  9.6-10.2 / 9.0-9.6 / 9.1-9.3 ms alone; beside the other busy process 128 at once took 12.2 ms,
  two chunks of 64 10.2 ms).

The workers are started with ``python -c`` (not ``multiprocessing``), so scripts need no ``if
__name__ == "__main__":`` guard, and they end when the caller closes them or goes away.
"""

import builtins
import mmap
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

from .._checks import positive_int
from .parallel import check_splittable, slices_and_shares

__all__ = ["ProcessSplit", "param_layout", "chunked_loss_and_grads"]

# One BLAS thread per worker; and glibc's allocator told to keep freed memory (64 MB) instead of
# handing it back to the system, which the next step's arrays then take again page by page (Intel
# Xeon, batch 256: a worker step 0.7 ms shorter before the tuned layers kept their large arrays in
# workspaces; since then about 1% faster; other C libraries ignore these names).
WORKER_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                      "MALLOC_TOP_PAD_": str(2**26), "MALLOC_TRIM_THRESHOLD_": str(2**26),
                      "MALLOC_MMAP_THRESHOLD_": str(2**25)}


def param_layout(model):
    """``[(layer name, key, shape, dtype, byte offset), ...]`` of ``model``'s parameters packed one
    after another (each at a multiple of 64 bytes), and the packed size in bytes."""
    layout, offset = [], 0
    for name, layer in model.layers.items():
        for key, param in layer.params.items():
            layout.append((name, key, param.shape, param.dtype, offset))
            offset += _aligned(param.nbytes)
    return layout, offset


def _aligned(nbytes):
    """``nbytes`` rounded up to a multiple of 64: where the next array in a shared file starts."""
    return -(-nbytes // 64) * 64


def _views(buffer, layout, start=0):
    """``{(layer name, key): array}`` viewing ``buffer`` from byte ``start`` as ``layout`` says."""
    return {(name, key): np.ndarray(shape, dtype, buffer, start + offset)
            for name, key, shape, dtype, offset in layout}


def chunked_loss_and_grads(model, x, y, share, chunk):
    """Run ``model`` on ``x``/``y`` ``chunk`` examples at a time; return ``(loss, scores)``.

    The loss is the slice's mean; the scores ``(N, classes)`` are the chunks' scores together; the
    model's ``grads`` become the slice's gradients times ``share`` (each chunk's backward pass is
    seeded with its part of ``share``). Stops after the forward pass of a chunk whose loss is NaN or
    infinite and returns that loss.
    """
    total, scores, sums = 0.0, [], None
    for start in range(0, len(x), chunk):
        part = slice(start, start + chunk)
        weight = len(x[part]) / len(x)
        loss = float(model.loss(x[part], y[part]))
        scores.append(model.last_scores)
        total += weight * loss
        if not np.isfinite(loss):
            return loss, np.concatenate(scores)
        model.backward(share * weight)
        if sums is None:
            sums = {(name, key): grad.copy() for name, key, grad in _grads(model)}
        else:
            for name, key, grad in _grads(model):
                sums[name, key] += grad
    for name, key, _ in _grads(model):
        model.layers[name].grads[key] = sums[name, key]
    return total, np.concatenate(scores)


def _grads(model):
    return [(name, key, grad) for name, layer in model.layers.items()
            for key, grad in layer.grads.items()]


class _SharedFile:
    """A file of ``size`` bytes mapped into memory, in ``/dev/shm`` where there is one."""

    def __init__(self, size):
        in_memory = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
        folder = "/dev/shm" if in_memory else None
        descriptor, self.path = tempfile.mkstemp(prefix="cnnlib-split-", dir=folder)
        with os.fdopen(descriptor, "wb") as handle:
            handle.truncate(max(size, 1))
        self.size = size
        self.map = _map(self.path)

    def remove(self):
        """Delete the file; the memory stays mapped (on POSIX) until every process unmaps it."""
        if self.path is not None:
            try:
                os.unlink(self.path)
                self.path = None
            except OSError:    # Windows keeps a mapped file: close() tries again
                pass


def _map(path):
    with open(path, "r+b") as handle:
        return mmap.mmap(handle.fileno(), 0)


class _Worker:
    """One worker process and the two shared files it computes from."""

    def __init__(self, model, layout, size, chunk):
        self.model_file = _SharedFile(2 * size)
        self.params = _views(self.model_file.map, layout)
        self.grads = _views(self.model_file.map, layout, size)
        self.data_file = None
        # the folder this cnnlib was imported from, first on the worker's path unless already there
        package_parent = str(Path(__file__).resolve().parents[2])
        code = (f"import sys\nif {package_parent!r} not in sys.path: "
                f"sys.path.insert(0, {package_parent!r})\n"
                "from cnnlib.tuned.processes import serve\nserve()")
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE,
                                        env=dict(os.environ, **WORKER_ENVIRONMENT))
        self._send((model, layout, size, self.model_file.path, chunk))    # pickled: a copy

    def _send(self, message):
        try:
            pickle.dump(message, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise RuntimeError(self._died()) from error

    def _died(self):
        code = self.process.poll()
        return (f"a worker process of ProcessSplit / fit(..., workers=...) stopped (exit code "
                f"{code}); its error, if any, is on the standard error of the process that started "
                f"it")

    def start(self, x, y, share):
        """Copy the slice ``x``/``y`` into the shared data file and tell the worker to run it."""
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
        y_at = _aligned(x.nbytes)    # y's byte offset
        needed = y_at + y.nbytes
        new_path = None
        if self.data_file is None or self.data_file.size < needed:
            if self.data_file is not None:
                self.data_file.remove()
            self.data_file = _SharedFile(2 * needed)
            new_path = self.data_file.path
        buffer = self.data_file.map
        np.ndarray(x.shape, x.dtype, buffer)[...] = x
        np.ndarray(y.shape, y.dtype, buffer, y_at)[...] = y
        self._send((new_path, x.shape, x.dtype, y_at, y.shape, y.dtype, share, np.geterr()))

    def receive(self):
        """The worker's reply to :meth:`start`: ``("ok", loss, scores)``, its gradients then in
        :attr:`grads`, or ``("error", exception name, traceback)``."""
        try:
            reply = pickle.load(self.process.stdout)
        except (EOFError, pickle.UnpicklingError) as error:
            raise RuntimeError(self._died()) from error
        for shared in (self.model_file, self.data_file):    # mapped by now: nothing left behind
            shared.remove()
        return reply

    def close(self):
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        for shared in (self.model_file, self.data_file):
            if shared is not None:
                shared.remove()


def serve():
    """A worker's main loop (run by :class:`ProcessSplit` as ``python -c``): read the model, then
    run one slice per message until the input closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the caller decides when to stop
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    model, layout, size, model_path, chunk = pickle.load(requests)
    model_map = _map(model_path)
    for (name, key), view in _views(model_map, layout).items():
        model.layers[name].params[key] = view
    grads = _views(model_map, layout, size)
    data_map = None
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        new_path, x_shape, x_dtype, y_at, y_shape, y_dtype, share, errors = request
        if new_path is not None:
            data_map = _map(new_path)
        x = np.ndarray(x_shape, x_dtype, data_map)
        y = np.ndarray(y_shape, y_dtype, data_map, y_at)
        try:
            with np.errstate(**errors):
                loss, scores = chunked_loss_and_grads(model, x, y, share, chunk)
            if np.isfinite(loss):
                for name, key, grad in _grads(model):
                    grads[name, key][...] = grad
            reply = ("ok", loss, scores)
        except Exception as error:    # reported to the caller, which raises it
            reply = ("error", type(error).__name__, traceback.format_exc())
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


def _same_kind(name):
    """The built-in exception class called ``name`` (ValueError, FloatingPointError, ...), else
    RuntimeError: how a worker's error is raised again in the calling process."""
    kind = getattr(builtins, name, None)
    return kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError


class ProcessSplit:
    """``loss``/``backward`` of ``model`` computed on ``workers`` slices of each batch at once, in
    ``workers - 1`` worker processes and the calling one; each process runs its slice ``chunk``
    examples at a time.

    The same contract as :class:`~cnnlib.tuned.SplitBatch` (whose :meth:`loss` docstring gives the
    arithmetic): after :meth:`loss` the model's ``last_scores`` hold the whole batch's scores, after
    :meth:`backward` its ``grads`` the whole batch's gradients, equal to one process's up to
    rounding. Use it as a context manager: it starts the workers (about a second: each imports
    numpy and cnnlib) and stops them on exit. Keep BLAS at one thread in the calling process while
    it runs (``fit(..., workers=2)`` does; the workers run one). ``model``: see
    :func:`~cnnlib.tuned.check_splittable`; it must pickle (every cnnlib model does).
    """

    def __init__(self, model, workers=2, chunk=64):
        positive_int("workers", workers)
        self.chunk = positive_int("chunk", chunk)
        check_splittable(model)
        self.model = model
        self.layout, self.size = param_layout(model)
        self.workers = []
        try:
            for _ in range(workers - 1):
                self.workers.append(_Worker(model, self.layout, self.size, self.chunk))
        except BaseException:
            self.close()
            raise
        self.active = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Stop the worker processes and remove their shared files."""
        for worker in self.workers:
            worker.close()
        self.workers = []

    def loss(self, x, y):
        """The mean loss of the batch ``x`` ``(N, ...)`` against labels ``y``, as ``model.loss``;
        each slice's gradients are computed too, ready for :meth:`backward`."""
        slices, shares = slices_and_shares(len(x), len(self.workers) + 1)
        self.active = self.workers[:len(slices) - 1]
        for worker, part, share in zip(self.active, slices[1:], shares[1:]):
            for name, key, *_ in self.layout:
                worker.params[name, key][...] = self.model.layers[name].params[key]
            worker.start(x[part], y[part], share)
        try:
            loss, scores = chunked_loss_and_grads(self.model, x[slices[0]], y[slices[0]],
                                                  shares[0], self.chunk)
        finally:
            replies = [worker.receive() for worker in self.active]    # all, whatever happened
        for reply in replies:
            if reply[0] == "error":
                raise _same_kind(reply[1])(f"in a worker process of ProcessSplit / fit(..., "
                                           f"workers=...):\n{reply[2]}")
        losses = [loss] + [reply[1] for reply in replies]
        self.model.last_scores = np.concatenate([scores] + [reply[2] for reply in replies])
        return sum(share * loss for share, loss in zip(shares, losses))

    def backward(self):
        """Make the model's ``grads`` the batch's gradients: its own slice's plus the workers'."""
        for worker in self.active:
            for name, key, *_ in self.layout:
                self.model.layers[name].grads[key] += worker.grads[name, key]
        self.active = []    # combined: a second call changes nothing
