"""The machine line every benchmark prints beside its figures (imported by the bench_*.py scripts,
which run from this folder)."""

import os
import platform


def describe():
    """One line: CPU model, cores, load average, BLAS library, version, kernel and threads
    (threadpoolctl), the OPENBLAS_* variables that are set (they change the kernel) and PyTorch's
    CPU capability."""
    import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = ", ".join(f"{pool['internal_api']} {pool.get('version', '')} "
                     f"kernel {pool.get('architecture', '?')}, {pool['num_threads']} threads"
                     for pool in threadpool_info() if pool["user_api"] == "blas")
    variables = {key: value for key, value in os.environ.items() if key.startswith("OPENBLAS_")
                 and key != "OPENBLAS_NUM_THREADS"}
    return (f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
            f"BLAS: {blas or 'none found'}; OPENBLAS_* variables: {variables or 'none set'}; "
            f"{torch_line()}")


def torch_line():
    """PyTorch's version and the CPU kernels it picked (``get_cpu_capability``), or that it is
    missing."""
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
