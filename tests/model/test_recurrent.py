"""The fast training pass computes the network's own function and gradients (``forecaster.model.recurrent``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from forecaster.model import recurrent
from forecaster.model.config import TrainConfig
from forecaster.model.kernels import native_loops_available
from forecaster.model.network import BiLSTMGRU
from forecaster.model.recurrent import dropout, gru_last_state, training_forward, uses_bf16


def gradients(module: nn.Module, x: torch.Tensor, output: torch.Tensor) -> list[torch.Tensor]:
    weights = torch.linspace(-1.0, 1.0, output.numel(), dtype=output.dtype).view_as(output)
    return list(torch.autograd.grad((output * weights).sum(), [x, *module.parameters()]))


@pytest.fixture(params=["native", "python"])
def loops(request, monkeypatch):
    """Each GRU test runs with the C++ loops (``kernels``) and with the Python ones they stand in for."""
    if request.param == "python":
        monkeypatch.setattr(recurrent, "native_loops_available", lambda: False)
    elif not native_loops_available():
        pytest.skip("the C++ loops cannot be built on this machine (see the warning logged)")
    return request.param


@pytest.mark.parametrize(("batch", "steps", "inputs", "hidden"), [(32, 60, 128, 32), (3, 1, 2, 5), (1, 7, 4, 3)])
def test_gru_last_state_is_the_grus_last_output_with_its_gradients(loops, batch, steps, inputs, hidden):
    torch.manual_seed(0)
    gru = nn.GRU(inputs, hidden, batch_first=True).double()
    x = torch.randn(batch, steps, inputs, dtype=torch.float64, requires_grad=True)
    expected = gru(x)[0][:, -1]
    got = gru_last_state(gru, x)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(gradients(gru, x, got), gradients(gru, x, expected), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)


def test_gru_last_state_in_float32_agrees_to_rounding(loops):
    torch.manual_seed(1)
    gru = nn.GRU(128, 32, batch_first=True)
    x = torch.randn(32, 60, 128, requires_grad=True)
    expected, got = gru(x)[0][:, -1], gru_last_state(gru, x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(gradients(gru, x, got), gradients(gru, x, expected), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "gru",
    [
        nn.GRU(4, 3, batch_first=False),
        nn.GRU(4, 3, batch_first=True, num_layers=2),
        nn.GRU(4, 3, batch_first=True, bidirectional=True),
        nn.GRU(4, 3, batch_first=True, bias=False),
    ],
)
def test_gru_last_state_refuses_other_grus(gru):
    with pytest.raises(ValueError, match="one-layer, unidirectional, batch-first"):
        gru_last_state(gru, torch.zeros(2, 5, 4))


def test_training_forward_is_the_network_without_dropout():
    torch.manual_seed(2)
    net = BiLSTMGRU(2, 3, lstm_hidden=8, gru_hidden=4, dropout=0.3).double().eval()  # eval: no dropout in either
    x = torch.randn(5, 9, 2, dtype=torch.float64, requires_grad=True)
    expected, got = net(x), training_forward(net, x)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(gradients(net, x, got), gradients(net, x, expected), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not recurrent.native_bf16_cpu(), reason="this CPU computes no bfloat16 (no AVX512-BF16 or AMX)")
def test_training_forward_in_bfloat16_stays_close():
    torch.manual_seed(3)
    net = BiLSTMGRU(1, 7).eval()
    x = torch.rand(16, 60, 1)
    full, half = training_forward(net, x), training_forward(net, x, bf16=True)
    assert full.dtype == half.dtype == torch.float32
    torch.testing.assert_close(half, full, rtol=0.05, atol=0.01)


@pytest.mark.skipif(not recurrent.native_bf16_cpu(), reason="this CPU computes no bfloat16 natively")
def test_training_gradients_in_bfloat16_stay_close(loops):
    """bfloat16 runs the BiLSTM and the GRU's input products (as autocast would); the gradients stay close."""
    torch.manual_seed(5)
    net = BiLSTMGRU(1, 7).eval()
    x = torch.rand(32, 60, 1)
    full = gradients(net, x.requires_grad_(), training_forward(net, x))
    half = gradients(net, x, training_forward(net, x, bf16=True))
    for mine, theirs in zip(half, full, strict=True):
        assert mine.dtype == theirs.dtype
        assert (mine - theirs).norm() <= 0.05 * theirs.norm()


def test_dropout_keeps_the_rate_and_the_mean():
    torch.manual_seed(4)
    x = torch.ones(200_000)
    dropped = dropout(x, 0.2, training=True)
    kept = dropped != 0
    assert kept.float().mean().item() == pytest.approx(0.8, abs=0.005)
    assert torch.all(dropped[kept] == 1.25)
    assert dropped.mean().item() == pytest.approx(1.0, abs=0.01)
    assert dropout(x, 0.2, training=False) is x
    assert dropout(x, 0.0, training=True) is x


@pytest.mark.parametrize("native", [True, False])
def test_precision_auto_is_bfloat16_only_on_a_cpu_with_native_bfloat16(monkeypatch, native):
    monkeypatch.setattr(recurrent, "native_bf16_cpu", lambda: native)
    assert TrainConfig().precision == "auto"
    assert uses_bf16("auto") is native
    assert not uses_bf16("float32")
    if native:
        assert uses_bf16("bfloat16")
    else:
        with pytest.raises(ValueError, match="needs a CPU that computes bfloat16 natively"):
            uses_bf16("bfloat16")
