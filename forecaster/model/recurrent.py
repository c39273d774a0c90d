"""The training pass of ``BiLSTMGRU``, faster on CPU than its ``forward`` with autograd (same function).

Training is what costs (``benchmarks/bench_model.py``; ``docs/speed.md``). On one CPU thread, at batch 32
and 60 time steps, a ``BiLSTMGRU`` step spends its time in three places:

- the GRU's backward: autograd records about fifteen tiny operations per time step (gates of 32 x 32)
  and replays them one by one. ``GRULastState`` computes the same gradients in two loops over the steps
  (``forward_loop``, ``backward_loop``), the rest vectorised over all steps (the input and weight products
  become one matrix product each). The loops run in C++ where ``kernels`` could build them (one matrix
  product and one vectorised sweep over the gates per step), else in Python (four and two operations per
  step). Same mathematics as ``nn.GRU`` (gate order r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h +
  b_hn))``); the sums are grouped differently, so results agree with ``nn.GRU`` to rounding, not bit for bit;
- the BiLSTM (oneDNN's kernels through ``torch.lstm``): unchanged in float32; with ``bf16`` it runs
  under ``torch.autocast("cpu", torch.bfloat16)``, on the CPU's bfloat16 units (AVX512-BF16 / AMX), and its
  bfloat16 output feeds the GRU's input products in bfloat16 too, as autocast computes a linear layer (the
  recurrence stays in float32). ``TrainConfig.precision="auto"`` (the default) chooses it where the CPU
  has them (``uses_bf16``);
- dropout on the BiLSTM's output: ``nn.Dropout`` draws its mask with ``bernoulli_``, three times
  slower here than comparing random bits with the rate (``dropout``). Same distribution, other numbers.

Inference (validation, forecasts) keeps ``BiLSTMGRU.forward`` in float32: ``nn.GRU`` without autograd is fast.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from forecaster.model.kernels import native_loops_available
from forecaster.model.network import BiLSTMGRU


def forward_loop(gi: Tensor, w_hh: Tensor, b_hh: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The GRU's forward over the steps of ``gi`` (T, B, 3G: the input products plus ``b_ih``), from h_0 = 0.

    Returns ``hs`` (T+1, B, G: h_0 .. h_T), ``z`` (T, B, G: update gates), ``dn`` (T, B, G: d h_t / d the
    pre-activation of n) and ``partials`` (T, B, 3, G: d h_t / d (W_hh h_{t-1} + b_hh) for gates r, z, n).
    The C++ loops (``kernels``) where they are built, else the same in Python.
    """
    if native_loops_available():
        hs, z, dn, partials = torch.ops.forecaster.gru_forward_loop(gi.contiguous(), w_hh, b_hh)
        return hs, z, dn, partials
    steps, batch, three_g = gi.shape
    g = three_g // 3
    hs = gi.new_empty(steps + 1, batch, g)  # h_0 (zeros) .. h_T
    hs[0].zero_()
    gh = gi.new_empty(steps, batch, 3 * g)  # W_hh h_{t-1} + b_hh
    rz = gi.new_empty(steps, batch, 2 * g)  # reset and update gates
    ns = gi.new_empty(steps, batch, g)  # candidate states
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
    dn = (1 - z) * (1 - ns * ns)
    partials = gi.new_empty(steps, batch, 3, g)
    torch.mul(dn * gh[:, :, 2 * g :], r * (1 - r), out=partials[:, :, 0])
    torch.mul((hs[:-1] - ns) * z, 1 - z, out=partials[:, :, 1])
    torch.mul(dn, r, out=partials[:, :, 2])
    return hs, z.contiguous(), dn, partials


def backward_loop(grad_h: Tensor, partials: Tensor, z: Tensor, w_hh: Tensor) -> tuple[Tensor, Tensor]:
    """Back from ``grad_h`` (B, G), the gradient of h_T, through the steps of ``forward_loop``'s outputs.

    Returns ``dgh`` (T, B, 3, G: the gradient of W_hh h_{t-1} + b_hh) and ``dhs`` (T, B, G: that of h_{t+1}).
    """
    if native_loops_available():
        dgh, dhs = torch.ops.forecaster.gru_backward_loop(grad_h.contiguous(), partials, z, w_hh)
        return dgh, dhs
    steps, batch, _, g = partials.shape
    dgh = partials.new_empty(steps, batch, 3, g)
    dhs = partials.new_empty(steps, batch, g)
    dhs[steps - 1] = grad_h
    dgh_t, dhs_t, p_t, z_t = dgh.unbind(0), dhs.unbind(0), partials.unbind(0), z.unbind(0)
    for t in range(steps - 1, 0, -1):
        torch.mul(dhs_t[t].unsqueeze(1), p_t[t], out=dgh_t[t])
        torch.addmm(dhs_t[t] * z_t[t], dgh_t[t].view(batch, 3 * g), w_hh, out=dhs_t[t - 1])
    torch.mul(dhs_t[0].unsqueeze(1), p_t[0], out=dgh_t[0])
    return dgh, dhs


class GRULastState(torch.autograd.Function):
    """The last hidden state of a one-layer, batch-first ``nn.GRU`` started from zeros, with its backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
        batch, steps, inputs = x.shape
        g = w_hh.shape[1]
        # the input products of every step at once, step-major (T, B, 3G), in x's dtype (bfloat16 from a
        # bfloat16 BiLSTM, as autocast would compute a linear layer); the recurrence in the weights' dtype
        x_steps = x.transpose(0, 1).reshape(steps * batch, inputs)
        gi = (x_steps @ w_ih.to(x.dtype).t()).to(w_hh.dtype).add_(b_ih).view(steps, batch, 3 * g)
        hs, z, dn, partials = forward_loop(gi, w_hh, b_hh)
        ctx.save_for_backward(x_steps, w_ih, w_hh, hs, z, dn, partials)
        return hs[steps].clone()

    @staticmethod
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        x_steps, w_ih, w_hh, hs, z, dn, partials = ctx.saved_tensors
        steps, batch, _, g = partials.shape
        dgh, dhs = backward_loop(grad_h, partials, z, w_hh)
        flat_gh = dgh.view(steps * batch, 3 * g)
        grad_w_hh = flat_gh.t() @ hs[:-1].reshape(steps * batch, g)
        grad_b_hh = flat_gh.sum(0)
        dgi = dgh.clone()  # the r and z parts of the input products' gradient are the same
        torch.mul(dhs, dn, out=dgi[:, :, 2])
        flat_gi = dgi.view(steps * batch, 3 * g)
        grad_b_ih = flat_gi.sum(0)
        low_gi = flat_gi.to(x_steps.dtype)  # the input products' gradients in x's dtype, as in the forward
        grad_w_ih = (low_gi.t() @ x_steps).to(w_ih.dtype)
        grad_x = (low_gi @ w_ih.to(x_steps.dtype)).view(steps, batch, -1).transpose(0, 1)
        return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def gru_last_state(gru: nn.GRU, x: Tensor) -> Tensor:
    """``gru(x)[0][:, -1]`` for a one-layer, unidirectional, batch-first GRU with biases, faster to train."""
    if gru.num_layers != 1 or gru.bidirectional or not gru.batch_first or not gru.bias:
        raise ValueError("gru_last_state needs a one-layer, unidirectional, batch-first GRU with biases")
    state: Tensor = GRULastState.apply(x, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    return state


def dropout(x: Tensor, rate: float, training: bool) -> Tensor:
    """Inverted dropout as ``nn.Dropout``, with the rate rounded to 1/65536 (0.2 drops 13,107 in 65,536).

    The mask compares 16 random bits per element with the rate: four elements from one 64-bit draw, about
    three times cheaper than ``rand_like`` (one draw per element) and ``bernoulli_``.
    """
    if not training or rate == 0.0:
        return x
    count = x.numel()
    draws = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), dtype=torch.int64, device=x.device)
    bits = draws.view(torch.int16)[:count].view(x.shape)  # uniform on -32768 .. 32767
    keep = bits >= round(rate * 65536) - 32768
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
        seq, _ = net.lstm(x)  # (B, L, 2H), in bfloat16 under autocast
    seq = dropout(seq, float(net.dropout_lstm.p), net.training)
    last = gru_last_state(net.gru, seq)  # (B, G), in the weights' dtype
    return net.head(dropout(last, float(net.dropout_gru.p), net.training))  # (B, K)
