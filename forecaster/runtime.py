"""Process-wide settings, applied at the entry points (the ``forecaster`` command, a flow run, the
worker process of a task), never inside the library's functions.

torch is imported inside the function: ``--help`` or a bad option of the ``forecaster`` command never
imports it; the commands that train or forecast apply the thread count when they start.
"""

from __future__ import annotations


def set_torch_threads(threads: int) -> int:
    """Have torch use ``threads`` intra-op threads in this process (``FORECASTER_TORCH_THREADS``; 0 keeps
    torch's own default, one per core); returns the number in effect.

    One thread is the default: the job's fits are small, and parallel series run in processes (Dask
    workers, work pools), where more threads per process would only compete for the same cores.
    """
    if threads < 0:
        raise ValueError(f"torch threads must be 0 (torch's default) or more, not {threads}")
    import torch

    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
