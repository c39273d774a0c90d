"""The GRU's training loops in C++ (``gru_loops.cpp``), compiled once per machine, with the Python loops as fallback.

``recurrent.GRULastState`` spends its time in two loops over the 60 time steps, each step a handful of
operations on 32 x 32 gates: in Python every one costs a few microseconds of dispatch. ``gru_loops.cpp``
does each step as one matrix product and one vectorised sweep over the gates (ATen's ``Vectorized``, the
SIMD width this CPU runs ATen's own kernels with: AVX2 or AVX512).

The library is built with the C++ compiler on first use, into ``~/.cache/forecaster/kernels`` (or
``$FORECASTER_KERNEL_DIR``): about 20 s once, then loaded in milliseconds. The build writes to a temporary
file and renames it, so processes building at the same time, or one killed mid-build, never leave a
half-written library. Where it cannot be built (no compiler, a CPU without AVX2, or
``FORECASTER_NATIVE_GRU=0``), training uses the Python loops: the same function, slower; it is said once
in the log.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("gru_loops.cpp")
_ARCH_FLAGS = {  # as torch._inductor builds for each of ATen's CPU capabilities
    "AVX512": ["-DCPU_CAPABILITY_AVX512", "-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw", "-mfma"],
    "AVX2": ["-DCPU_CAPABILITY_AVX2", "-mavx2", "-mfma", "-mf16c"],
}


class KernelUnavailable(RuntimeError):
    """The C++ loops cannot be built or loaded here; the message says why."""


def kernel_dir() -> Path:
    return Path(os.environ.get("FORECASTER_KERNEL_DIR") or Path.home() / ".cache" / "forecaster" / "kernels")


def build_command(source: Path, target: Path, capability: str) -> list[str]:
    """The compiler's command line for ``source`` -> shared library ``target`` at ``capability``."""
    from torch.utils import cpp_extension

    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        raise KernelUnavailable("no C++ compiler (c++ or g++) on PATH")
    if capability not in _ARCH_FLAGS:
        raise KernelUnavailable(f"the CPU's capability is {capability}, not AVX2 or AVX512")
    abi = int(torch.compiled_with_cxx11_abi())
    includes = [f"-I{path}" for path in cpp_extension.include_paths()]
    libraries = cpp_extension.library_paths()
    return [
        compiler,
        "-O3",
        "-std=c++17",
        "-shared",
        "-fPIC",
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        *_ARCH_FLAGS[capability],
        *includes,
        str(source),
        "-o",
        str(target),
        *[f"-L{path}" for path in libraries],
        *[f"-Wl,-rpath,{path}" for path in libraries],
        "-lc10",
        "-ltorch_cpu",
    ]


def library_path(capability: str) -> Path:
    """Where the library built from this source, torch version and capability lies (built or not)."""
    digest = hashlib.sha256(SOURCE.read_bytes() + f"{torch.__version__} {capability}".encode()).hexdigest()[:16]
    return kernel_dir() / f"gru_loops_{capability.lower()}_{digest}.so"


def build(capability: str) -> Path:
    """The library for ``capability``, compiled now unless already there (atomically: temp file, rename)."""
    target = library_path(capability)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("compiling the GRU's C++ training loops once for this machine (about 20 s) into %s", target.parent)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        built = Path(scratch) / target.name
        done = subprocess.run(build_command(SOURCE, built, capability), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KernelUnavailable(f"the compiler failed: {done.stderr.strip()[-2000:]}")
        os.replace(built, target)
    return target


@functools.cache
def native_loops_available() -> bool:
    """Whether ``torch.ops.forecaster.gru_*_loop`` are loaded (built first if needed); said once if not."""
    if os.environ.get("FORECASTER_NATIVE_GRU", "1") == "0":
        return False
    try:
        torch.ops.load_library(str(build(torch.backends.cpu.get_cpu_capability())))
    except (KernelUnavailable, OSError, RuntimeError) as exc:
        log.warning("the GRU trains with its Python loops (slower, same results): %s", exc)
        return False
    return True
