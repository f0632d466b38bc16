"""BLAS threads that follow the machine's load, for training.

numpy hands its matrix products to a BLAS library (OpenBLAS in the pip wheels), which runs one
thread per core. On an idle 2-core machine two threads train LeNet-5 about 1.3x faster than one;
with one other busy process on the machine they train about 2x *slower* than one, because BLAS
threads wait for each other by spinning while one of them keeps losing its core
(``benchmarks/bench_threads.py`` measures both cases). Environment variables such as
``OPENBLAS_NUM_THREADS`` only act before numpy is imported, and the load changes while a notebook
runs, so :class:`AdaptiveThreads` looks at the load while training: every few tenths of a second it
reads how much CPU time the cores it may run on spent on *other* processes (Linux's ``/proc/stat``
minus this process's own CPU time) and gives BLAS the cores left free. Timing the training steps
themselves with each setting was tried first and dropped: on a busy machine step times jump by 2-8x
from one step to the next, too noisy to compare. The thread count can change the last digits of a
matrix product (OpenBLAS may split it differently between threads), and training amplifies them:
runs are repeatable bit for bit only with a fixed ``threads=``. It uses ``threadpoolctl`` to change
the count at run time, and leaves the count alone without it or without ``/proc/stat``.
"""

import os
import time

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # optional: without it, the BLAS library keeps its own setting
    ThreadpoolController = None

BUSY_FIELDS = (0, 1, 2, 5, 6)    # user, nice, system, irq, softirq in a /proc/stat "cpuN" line
_last_count = {}  # the count the last AdaptiveThreads chose, keyed by the threads BLAS started with


def blas_controllers():
    """threadpoolctl's controllers of the loaded BLAS libraries (an empty list without
    threadpoolctl)."""
    if ThreadpoolController is None:
        return []
    return ThreadpoolController().select(user_api="blas").lib_controllers


def cpu_seconds():
    """``(busy, own)``: CPU seconds spent so far by everything on the cores this process may use,
    and by this process; None where ``/proc/stat`` cannot be read (not Linux)."""
    try:
        cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        with open("/proc/stat") as stat:
            rows = [line.split() for line in stat]
        ticks = sum(int(row[1 + i]) for row in rows if row and row[0] in cpus for i in BUSY_FIELDS)
        return ticks / os.sysconf("SC_CLK_TCK"), time.process_time()
    except (OSError, AttributeError, ValueError, IndexError):
        return None


class AdaptiveThreads:
    """Sets the BLAS thread count to the cores that other processes leave free, again and again.

    Use it as a context manager around a training loop (it restores the thread counts on exit) and
    call :meth:`prepare_step` before every step. Before a step, once ``interval`` seconds have
    passed since the last look, it measures the CPU time other processes used on our cores over that
    time (in cores, e.g. 1.0 for one busy process) and sets ``all cores - others`` threads, rounded
    with a bias towards more threads (``slack`` cores of background activity are ignored), at least
    one and at most the count in force when it is created: a limit set before, such as
    ``threadpoolctl.threadpool_limits(1)`` or ``OPENBLAS_NUM_THREADS=1`` in the environment, holds.
    It starts with the count the previous instance ended with, so that back-to-back short runs do
    not start with the wrong one. ``counts`` records every step's count.
    ``threads=n`` (an int) runs every step with n threads; ``threads=None`` leaves them alone.
    """

    def __init__(self, threads="auto", *, interval=0.25, slack=0.3):
        positive_int = isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1
        if threads not in ("auto", None) and not positive_int:
            raise ValueError(f"threads: expected 'auto', None or a positive int, got {threads!r}")
        if not 0 <= interval < float("inf"):
            raise ValueError("interval: expected a finite number of seconds >= 0, got "
                             f"{interval!r}")
        if not 0 <= slack < 1:
            raise ValueError(f"slack: expected a fraction of a core in [0, 1), got {slack!r}")
        self.libraries = blas_controllers()
        self.most = max((lib.num_threads for lib in self.libraries), default=1)
        self.cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1)
        self.interval, self.slack = interval, slack
        self.auto = threads == "auto" and self.most > 1
        self.count = {"auto": _last_count.get(self.most, self.most),
                      None: self.most}.get(threads, threads)
        self.sample = cpu_seconds() if self.auto else None
        self.sampled_at = time.perf_counter()
        self.counts = []

    def __enter__(self):
        self._saved = [lib.num_threads for lib in self.libraries]
        return self

    def __exit__(self, *exc_info):
        for lib, count in zip(self.libraries, self._saved):
            if lib.num_threads != count:
                lib.set_num_threads(count)
        if self.auto:
            _last_count[self.most] = self.count

    def _update(self):
        now = time.perf_counter()
        if self.sample is None or now - self.sampled_at < self.interval:
            return
        sample = cpu_seconds()
        if sample is None:
            self.sample = None
            return
        busy, own = (new - old for new, old in zip(sample, self.sample))
        others = max(0.0, busy - own) / (now - self.sampled_at)
        self.count = min(self.most, max(1, int(self.cores - others + self.slack)))
        self.sample, self.sampled_at = sample, now

    def prepare_step(self):
        """Call before each step: sets the thread count chosen for the current load."""
        self._update()
        self.counts.append(self.count)
        for lib in self.libraries:
            if lib.num_threads != self.count:
                lib.set_num_threads(self.count)
