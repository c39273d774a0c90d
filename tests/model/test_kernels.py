"""Building the GRU's C++ loops: once, atomically, and a clear reason where it cannot (``forecaster.model.kernels``).

That the loops compute the GRU's function and gradients is tested with both implementations in
``test_recurrent.py``.
"""

from __future__ import annotations

import pytest

from forecaster.model import kernels


def test_a_failing_compiler_leaves_no_library_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_KERNEL_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", "false")  # a "compiler" that fails
    with pytest.raises(kernels.KernelUnavailable, match="the compiler failed"):
        kernels.build("AVX2")
    assert list(tmp_path.iterdir()) == []  # neither a library nor a half-built one


def test_a_cpu_without_avx2_gets_no_kernel(tmp_path):
    with pytest.raises(kernels.KernelUnavailable, match="not AVX2 or AVX512"):
        kernels.build_command(kernels.SOURCE, tmp_path / "x.so", "DEFAULT")


def test_the_library_is_named_by_source_torch_and_capability(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_KERNEL_DIR", str(tmp_path))
    avx2, avx512 = kernels.library_path("AVX2"), kernels.library_path("AVX512")
    assert avx2.parent == avx512.parent == tmp_path
    assert avx2 != avx512 and avx2 == kernels.library_path("AVX2")


def test_an_existing_library_is_reused_without_compiling(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_KERNEL_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", "false")
    built = kernels.library_path("AVX2")
    built.write_bytes(b"built before")
    assert kernels.build("AVX2") == built


def test_the_python_loops_can_be_asked_for(monkeypatch):
    monkeypatch.setenv("FORECASTER_NATIVE_GRU", "0")
    assert kernels.native_loops_available.__wrapped__() is False
