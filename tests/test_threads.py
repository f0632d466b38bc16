import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlib import threads
from cnnlib.datasets import load_mnist
from cnnlib.models import LeNet5
from cnnlib.optim import Adam
from cnnlib.threads import AdaptiveThreads
from cnnlib.training import fit


class FakeBlas:
    """Stands in for a threadpoolctl controller of a BLAS library with ``num_threads`` threads."""

    def __init__(self, num_threads):
        self.num_threads = num_threads
        self.calls = []

    def set_num_threads(self, count):
        self.calls.append(count)
        self.num_threads = count


@pytest.fixture
def blas(monkeypatch):
    fake = FakeBlas(2)
    monkeypatch.setattr(threads, "blas_controllers", lambda: [fake])
    return fake


class Machine:
    """A fake clock and fake CPU accounting: each step takes 0.5 s, in which other processes use
    ``others`` cores and this process ``own`` cores of CPU time."""

    def __init__(self, monkeypatch):
        self.now, self.busy, self.own = 0.0, 0.0, 0.0
        monkeypatch.setattr(threads.time, "perf_counter", lambda: self.now)
        monkeypatch.setattr(threads, "cpu_seconds", lambda: (self.busy, self.own))

    def run(self, adaptive, others, own=1.5):
        adaptive.prepare_step()
        self.now += 0.5
        self.busy += 0.5 * (others + own)
        self.own += 0.5 * own


@pytest.fixture
def machine(monkeypatch, blas):
    threads._last_count.clear()
    return Machine(monkeypatch)


def test_gives_blas_the_cores_that_other_processes_leave_free(machine, blas):
    adaptive = AdaptiveThreads()
    with adaptive:
        for others in [0.0, 0.0, 0.1, 1.0, 0.8, 1.0, 0.2, 0.05, 0.0]:
            machine.run(adaptive, others)
        assert blas.num_threads == 2
    # a step runs with the count chosen from the load measured up to its start
    assert adaptive.counts == [2, 2, 2, 2, 1, 1, 1, 2, 2]
    assert blas.num_threads == 2


def test_starts_with_the_last_choice_and_restores_the_count(machine, blas):
    with AdaptiveThreads() as adaptive:
        for _ in range(3):
            machine.run(adaptive, others=1.0)
    assert adaptive.counts[-1] == 1 and blas.num_threads == 2
    with AdaptiveThreads() as again:
        machine.run(again, others=1.0)
    assert again.counts == [1]


def test_fixed_and_untouched_counts(machine, blas):
    with AdaptiveThreads(1) as fixed:
        machine.run(fixed, others=0.0)
        assert blas.num_threads == 1
    assert blas.num_threads == 2 and fixed.counts == [1]
    with AdaptiveThreads(None) as untouched:
        machine.run(untouched, others=1.0)
    assert blas.calls == [1, 2] and untouched.counts == [2]


def test_without_cpu_accounting_it_keeps_the_count(monkeypatch, blas):
    monkeypatch.setattr(threads, "cpu_seconds", lambda: None)
    with AdaptiveThreads(interval=0) as adaptive:
        for _ in range(3):
            adaptive.prepare_step()
    assert adaptive.counts == [2, 2, 2] and blas.calls == []


def test_reads_real_cpu_accounting():
    sample = threads.cpu_seconds()
    if sample is None:
        pytest.skip("no /proc/stat on this system")
    busy, own = sample
    assert busy > 0 and own > 0


def test_auto_never_exceeds_a_limit_already_in_force(machine, blas):
    blas.num_threads = 1                # as after threadpool_limits(1) or OPENBLAS_NUM_THREADS=1
    with AdaptiveThreads() as adaptive:
        for others in [0.0, 0.0, 0.0, 0.0]:     # an idle machine: two cores free
            machine.run(adaptive, others)
    assert adaptive.counts == [1, 1, 1, 1] and blas.calls == []


def test_a_real_threadpool_limit_holds_through_fit():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    (x, y), _ = load_mnist()
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        with AdaptiveThreads() as adaptive:
            for _ in range(3):
                adaptive.prepare_step()
        fit(LeNet5(tuned=True), Adam(1e-3), x[:64], y[:64], epochs=1, batch_size=32, progress=False)
        assert all(lib.num_threads == 1 for lib in threads.blas_controllers())
    assert set(adaptive.counts) == {1}


@pytest.mark.parametrize("variable", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_one_thread_from_the_environment_holds(variable):
    code = ("import numpy\nfrom cnnlib.threads import AdaptiveThreads, blas_controllers\n"
            "a = AdaptiveThreads()\n"
            "print(a.most, a.auto, max(b.num_threads for b in blas_controllers()))")
    env = {**os.environ, variable: "1", "PYTHONPATH": str(Path(threads.__file__).parent.parent)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            check=True)
    assert result.stdout.split() == ["1", "False", "1"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="threads: expected 'auto', None or a positive int, got 0"):
        AdaptiveThreads(0)
    with pytest.raises(ValueError,
                       match="threads: expected 'auto', None or a positive int, got True"):
        AdaptiveThreads(True)
    with pytest.raises(ValueError,
                       match=r"interval: expected a finite number of seconds >= 0, got -1"):
        AdaptiveThreads(interval=-1)
    with pytest.raises(ValueError,
                       match=r"slack: expected a fraction of a core in \[0, 1\), got nan"):
        AdaptiveThreads(slack=float("nan"))


def test_training_gives_the_same_numbers_with_any_thread_count():
    """Equal to float32 precision: OpenBLAS may split a product differently between threads."""
    (x, y), _ = load_mnist()
    x, y = x[:512], y[:512]
    results = []
    for count in (1, 2, "auto"):
        model = LeNet5(tuned=True)
        history = fit(model, Adam(1e-3), x, y, epochs=1, batch_size=64,
                      progress=False, threads=count)
        results.append((history.loss, {name: p.copy() for name, p in model.params.items()}))
    for losses, params in results[1:]:
        np.testing.assert_allclose(losses, results[0][0], rtol=1e-5)
        for name, value in params.items():
            np.testing.assert_allclose(value, results[0][1][name], rtol=1e-4, atol=1e-6)
