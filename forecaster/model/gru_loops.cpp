// The two sequential loops of ``recurrent.GRULastState`` (the GRU's training pass), one fused pass per
// time step: a matrix product through ATen, then every gate of the step in one vectorised sweep.
// ``recurrent.py`` holds the same loops in Python (the reference and the fallback) and the mathematics;
// ``kernels.py`` compiles this file once per machine and loads it as ``torch.ops.forecaster``.
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/Dispatch.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <tuple>

namespace {

using at::Tensor;

template <typename T>
using Vec = at::vec::Vectorized<T>;

// Forward: h_t from h_{t-1} for every step, with what the backward needs.
//   gi (T, B, 3G): the input products of every step plus b_ih, gates r, z, n
//   w_hh (3G, G), b_hh (3G)
// Returns hs (T+1, B, G): h_0 (zeros) .. h_T; z (T, B, G); dn (T, B, G) = (1 - z)(1 - n^2), the derivative
// of h_t by the pre-activation of n; partials (T, B, 3, G) = d h_t / d (W_hh h_{t-1} + b_hh) for r, z, n.
template <typename scalar_t>
std::tuple<Tensor, Tensor, Tensor, Tensor> forward_loop(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh) {
  const int64_t steps = gi.size(0), batch = gi.size(1), g = w_hh.size(1);
  Tensor hs = at::empty({steps + 1, batch, g}, gi.options());
  Tensor z = at::empty({steps, batch, g}, gi.options());
  Tensor dn = at::empty({steps, batch, g}, gi.options());
  Tensor partials = at::empty({steps, batch, 3, g}, gi.options());
  Tensor gh = at::empty({batch, 3 * g}, gi.options());
  const Tensor w_hh_t = w_hh.t();
  hs[0].zero_();
  const scalar_t* gi_p = gi.const_data_ptr<scalar_t>();
  const scalar_t* gh_p = gh.const_data_ptr<scalar_t>();
  scalar_t* hs_p = hs.mutable_data_ptr<scalar_t>();
  scalar_t* z_p = z.mutable_data_ptr<scalar_t>();
  scalar_t* dn_p = dn.mutable_data_ptr<scalar_t>();
  scalar_t* p_p = partials.mutable_data_ptr<scalar_t>();
  const Vec<scalar_t> one(1);
  for (int64_t t = 0; t < steps; ++t) {
    at::addmm_out(gh, b_hh, hs[t], w_hh_t);
    for (int64_t b = 0; b < batch; ++b) {
      const scalar_t* gi_b = gi_p + (t * batch + b) * 3 * g;
      const scalar_t* gh_b = gh_p + b * 3 * g;
      const scalar_t* h_prev = hs_p + (t * batch + b) * g;
      scalar_t* h_next = hs_p + ((t + 1) * batch + b) * g;
      const int64_t row = (t * batch + b) * g;
      scalar_t* p_b = p_p + (t * batch + b) * 3 * g;
      for (int64_t j = 0; j < g; j += Vec<scalar_t>::size()) {
        const int64_t n_lanes = std::min<int64_t>(Vec<scalar_t>::size(), g - j);
        auto load = [&](const scalar_t* p) { return Vec<scalar_t>::loadu(p + j, n_lanes); };
        const auto gh_n = load(gh_b + 2 * g);
        const auto r = one / (one + (-(load(gi_b) + load(gh_b))).exp());
        const auto zz = one / (one + (-(load(gi_b + g) + load(gh_b + g))).exp());
        const auto n = (load(gi_b + 2 * g) + r * gh_n).tanh();
        const auto h = load(h_prev);
        const auto d = (one - zz) * (one - n * n);
        (n + zz * (h - n)).store(h_next + j, n_lanes);
        zz.store(z_p + row + j, n_lanes);
        d.store(dn_p + row + j, n_lanes);
        (d * gh_n * r * (one - r)).store(p_b + j, n_lanes);
        ((h - n) * zz * (one - zz)).store(p_b + g + j, n_lanes);
        (d * r).store(p_b + 2 * g + j, n_lanes);
      }
    }
  }
  return {hs, z, dn, partials};
}

// Backward: from the gradient of h_T back through the steps.
// Returns dgh (T, B, 3, G), the gradient of W_hh h_{t-1} + b_hh per step, and dhs (T, B, G), that of h_{t+1}.
template <typename scalar_t>
std::tuple<Tensor, Tensor> backward_loop(const Tensor& grad_h, const Tensor& partials, const Tensor& z,
                                         const Tensor& w_hh) {
  const int64_t steps = partials.size(0), batch = partials.size(1), g = partials.size(3);
  Tensor dgh = at::empty({steps, batch, 3, g}, partials.options());
  Tensor dhs = at::empty({steps, batch, g}, partials.options());
  dhs[steps - 1].copy_(grad_h);
  const scalar_t* p_p = partials.const_data_ptr<scalar_t>();
  const scalar_t* z_p = z.const_data_ptr<scalar_t>();
  scalar_t* dgh_p = dgh.mutable_data_ptr<scalar_t>();
  scalar_t* dhs_p = dhs.mutable_data_ptr<scalar_t>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = (t * batch + b) * g;
      const scalar_t* p_b = p_p + row * 3;
      scalar_t* dgh_b = dgh_p + row * 3;
      for (int64_t j = 0; j < g; j += Vec<scalar_t>::size()) {
        const int64_t n_lanes = std::min<int64_t>(Vec<scalar_t>::size(), g - j);
        const auto dh = Vec<scalar_t>::loadu(dhs_p + row + j, n_lanes);
        for (int64_t k = 0; k < 3; ++k) {
          (dh * Vec<scalar_t>::loadu(p_b + k * g + j, n_lanes)).store(dgh_b + k * g + j, n_lanes);
        }
        if (t > 0) {  // the direct path through z: d h_t / d h_{t-1} = z, before the recurrent product
          (dh * Vec<scalar_t>::loadu(z_p + row + j, n_lanes)).store(dhs_p + row - batch * g + j, n_lanes);
        }
      }
    }
    if (t > 0) {
      dhs[t - 1].addmm_(dgh[t].view({batch, 3 * g}), w_hh);
    }
  }
  return {dgh, dhs};
}

void check(const Tensor& tensor, const char* name) {
  TORCH_CHECK(tensor.device().is_cpu() && tensor.is_contiguous(), name, " must be a contiguous CPU tensor");
  TORCH_CHECK(tensor.scalar_type() == at::kFloat || tensor.scalar_type() == at::kDouble, name,
              " must be float32 or float64");
}

std::tuple<Tensor, Tensor, Tensor, Tensor> gru_forward_loop(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh) {
  check(gi, "gi");
  std::tuple<Tensor, Tensor, Tensor, Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "gru_forward_loop",
                             [&] { out = forward_loop<scalar_t>(gi, w_hh, b_hh); });
  return out;
}

std::tuple<Tensor, Tensor> gru_backward_loop(const Tensor& grad_h, const Tensor& partials, const Tensor& z,
                                             const Tensor& w_hh) {
  check(partials, "partials");
  check(z, "z");
  std::tuple<Tensor, Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(partials.scalar_type(), "gru_backward_loop",
                             [&] { out = backward_loop<scalar_t>(grad_h, partials, z, w_hh); });
  return out;
}

}  // namespace

TORCH_LIBRARY(forecaster, m) {
  m.def("gru_forward_loop(Tensor gi, Tensor w_hh, Tensor b_hh) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("gru_backward_loop(Tensor grad_h, Tensor partials, Tensor z, Tensor w_hh) -> (Tensor, Tensor)");
  m.impl("gru_forward_loop", c10::DispatchKey::CPU, TORCH_FN(gru_forward_loop));
  m.impl("gru_backward_loop", c10::DispatchKey::CPU, TORCH_FN(gru_backward_loop));
}
