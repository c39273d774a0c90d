"""The training pass of ``BiLSTMGRU``, faster on CPU than its ``forward`` with autograd (same function).

Training is what costs (``benchmarks/bench_model.py``; ``docs/speed.md``). On one CPU thread, at batch 32
and 60 time steps, a ``BiLSTMGRU`` step spends its time in three places:

- the GRU's backward: autograd records about fifteen tiny operations per time step (gates of 32 x 32)
  and replays them one by one. ``GRULastState`` computes the same gradients with four operations per
  step in the forward loop and two in the backward loop, the rest vectorised over all steps (the
  input and weight products become one matrix product each). Same mathematics as ``nn.GRU`` (gate
  order r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``); the sums are grouped differently,
  so results agree with ``nn.GRU`` to float32 rounding (about 1e-7 relative), not bit for bit;
- the BiLSTM (oneDNN's kernels through ``torch.lstm``): unchanged in float32; with ``bf16`` it runs
  under ``torch.autocast("cpu", torch.bfloat16)``, on the CPU's bfloat16 units (AVX512-BF16 / AMX).
  ``TrainConfig.precision="auto"`` (the default) chooses it where the CPU has them (``uses_bf16``);
- dropout on the BiLSTM's output: ``nn.Dropout`` draws its mask with ``bernoulli_``, three times
  slower here than comparing uniform numbers with the rate. Same distribution, other random numbers.

Inference (validation, forecasts) keeps ``BiLSTMGRU.forward``: ``nn.GRU`` without autograd is fast.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from forecaster.model.network import BiLSTMGRU


class GRULastState(torch.autograd.Function):
    """The last hidden state of a one-layer, batch-first ``nn.GRU`` started from zeros, with its backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
        batch, steps, inputs = x.shape
        g = w_hh.shape[1]
        # input products of every step at once, step-major: (T, B, 3G)
        gi = torch.addmm(b_ih, x.transpose(0, 1).reshape(steps * batch, inputs), w_ih.t()).view(steps, batch, 3 * g)
        hs = x.new_empty(steps + 1, batch, g)  # h_0 (zeros) .. h_T
        hs[0].zero_()
        gh = x.new_empty(steps, batch, 3 * g)  # W_hh h_{t-1} + b_hh
        rz = x.new_empty(steps, batch, 2 * g)  # reset and update gates
        ns = x.new_empty(steps, batch, g)  # candidate states
        w_hh_t = w_hh.t()
        gi_rz, gi_n = gi[:, :, : 2 * g].unbind(0), gi[:, :, 2 * g :].unbind(0)
        gh_all, gh_rz, gh_n = gh.unbind(0), gh[:, :, : 2 * g].unbind(0), gh[:, :, 2 * g :].unbind(0)
        rz_t, r_t, z_t = rz.unbind(0), rz[:, :, :g].unbind(0), rz[:, :, g:].unbind(0)
        n_t, h_t = ns.unbind(0), hs.unbind(0)
        for t in range(steps):
            torch.addmm(b_hh, h_t[t], w_hh_t, out=gh_all[t])
            torch.add(gi_rz[t], gh_rz[t], out=rz_t[t]).sigmoid_()
            torch.addcmul(gi_n[t], r_t[t], gh_n[t], out=n_t[t]).tanh_()
            torch.lerp(n_t[t], h_t[t], z_t[t], out=h_t[t + 1])  # (1 - z) n + z h
        r, z = rz[:, :, :g], rz[:, :, g:]
        dn = (1 - z) * (1 - ns * ns)  # d h_t / d (pre-activation of n)
        partials = x.new_empty(steps, batch, 3, g)  # d h_t / d (W_hh h_{t-1} + b_hh), gates r, z, n
        torch.mul(dn * gh[:, :, 2 * g :], r * (1 - r), out=partials[:, :, 0])
        torch.mul((hs[:-1] - ns) * z, 1 - z, out=partials[:, :, 1])
        torch.mul(dn, r, out=partials[:, :, 2])
        ctx.save_for_backward(x, w_ih, w_hh, hs, z.contiguous(), dn, partials)
        return hs[steps].clone()

    @staticmethod
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        x, w_ih, w_hh, hs, z, dn, partials = ctx.saved_tensors
        batch, steps, inputs = x.shape
        g = w_hh.shape[1]
        dgh = x.new_empty(steps, batch, 3, g)  # gradient of W_hh h_{t-1} + b_hh
        dhs = x.new_empty(steps, batch, g)  # gradient of h_{t+1}
        dhs[steps - 1] = grad_h
        dgh_t, dhs_t, p_t, z_t = dgh.unbind(0), dhs.unbind(0), partials.unbind(0), z.unbind(0)
        for t in range(steps - 1, 0, -1):
            torch.mul(dhs_t[t].unsqueeze(1), p_t[t], out=dgh_t[t])
            torch.addmm(dhs_t[t] * z_t[t], dgh_t[t].view(batch, 3 * g), w_hh, out=dhs_t[t - 1])
        torch.mul(dhs_t[0].unsqueeze(1), p_t[0], out=dgh_t[0])
        flat_gh = dgh.view(steps * batch, 3 * g)
        grad_w_hh = flat_gh.t() @ hs[:-1].reshape(steps * batch, g)
        grad_b_hh = flat_gh.sum(0)
        dgi = dgh.clone()  # the r and z parts of the input products' gradient are the same
        torch.mul(dhs, dn, out=dgi[:, :, 2])
        flat_gi = dgi.view(steps * batch, 3 * g)
        grad_w_ih = flat_gi.t() @ x.transpose(0, 1).reshape(steps * batch, inputs)
        grad_b_ih = flat_gi.sum(0)
        grad_x = (flat_gi @ w_ih).view(steps, batch, inputs).transpose(0, 1)
        return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def gru_last_state(gru: nn.GRU, x: Tensor) -> Tensor:
    """``gru(x)[0][:, -1]`` for a one-layer, unidirectional, batch-first GRU with biases, faster to train."""
    if gru.num_layers != 1 or gru.bidirectional or not gru.batch_first or not gru.bias:
        raise ValueError("gru_last_state needs a one-layer, unidirectional, batch-first GRU with biases")
    state: Tensor = GRULastState.apply(x, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    return state


def dropout(x: Tensor, rate: float, training: bool) -> Tensor:
    """Inverted dropout as ``nn.Dropout``; the mask compares uniform numbers with the rate."""
    if not training or rate == 0.0:
        return x
    keep = torch.rand_like(x) >= rate
    return x * keep * (1.0 / (1.0 - rate))


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where a bfloat16 BiLSTM pays."""
    checks = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return any(callable(check) and bool(check()) for check in checks)


def uses_bf16(precision: str) -> bool:
    """``TrainConfig.precision`` resolved: ``auto`` is bfloat16 on a CPU with native bfloat16.

    Raises ``ValueError`` for ``bfloat16`` on a CPU without it: oneDNN has no bfloat16 LSTM there (it fails
    deep inside the first step), and an emulated one would be slower than float32.
    """
    if precision == "bfloat16" and not native_bf16_cpu():
        raise ValueError(
            "precision 'bfloat16' needs a CPU that computes bfloat16 natively (AVX512-BF16 or AMX), and this one "
            "does not: use 'auto' (bfloat16 where it pays) or 'float32'"
        )
    return precision == "bfloat16" or (precision == "auto" and native_bf16_cpu())


def training_forward(net: BiLSTMGRU, x: Tensor, *, bf16: bool = False) -> Tensor:
    """``net(x)`` for a training step (dropout as in ``net.training``), with the faster pieces above (on CPU;
    elsewhere ``net(x)``, whose cuDNN kernels are the fast ones)."""
    if x.device.type != "cpu":
        return net(x)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        seq, _ = net.lstm(x)  # (B, L, 2H)
    seq = dropout(seq.to(x.dtype), float(net.dropout_lstm.p), net.training)
    last = gru_last_state(net.gru, seq)  # (B, G)
    return net.head(dropout(last, float(net.dropout_gru.p), net.training))  # (B, K)
