"""Process-wide settings, applied at the entry points (the ``forecaster`` command, a flow run, the
worker process of a task), never inside the library's functions.

torch is imported inside the functions: the ``forecaster`` command applies the thread count before it
reads its arguments, and ``--help`` or a bad option never imports torch.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


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


def set_torch_threads_on_import(threads: int) -> None:
    """``set_torch_threads(threads)`` now when torch is imported, else right after something imports it
    (the ``forecaster`` command: only the commands that train or forecast load torch)."""
    if threads < 0:
        raise ValueError(f"torch threads must be 0 (torch's default) or more, not {threads}")
    if "torch" in sys.modules:
        set_torch_threads(threads)
        return
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _AfterImport)]  # called again
    sys.meta_path.insert(0, _AfterImport("torch", lambda: set_torch_threads(threads)))


class _AfterImport(MetaPathFinder):
    """Runs ``then`` once the module ``name`` has been imported (then leaves ``sys.meta_path``)."""

    def __init__(self, name: str, then: Callable[[], object]) -> None:
        self.name, self.then = name, then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)  # the other finders find it as usual
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None:
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            try:
                run(module)
            finally:
                del loader.exec_module  # the loader's own method again
            self.then()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
