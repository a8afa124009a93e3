//! Instance norm with its affine and an optional ReLU fused into one pass each way, for f32
//! tensors on the CPU.
//!
//! Built from candle ops, the forward of one instance norm + ReLU is about a dozen full passes
//! over the activation (mean, centre, square, mean, scale, affine, ReLU, each into a freshly
//! allocated tensor), and its backward as many again. Here each (sample, channel) plane is
//! read twice and written once forward; backward its input and output gradient are read twice
//! and the input gradient written once (the ReLU's mask is recomputed from the input, so the
//! output is not read), planes spread over rayon's threads.

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::cpu::slice::with_cpu_f32;
use crate::cpu::sums::{blocked_sum, blocked_sums};
use crate::custom_grad::cpu_with_backward;

/// Mean and `1/σ` of one plane (biased variance, two passes).
fn plane_stats(x: &[f32], eps: f64) -> (f32, f32) {
    let n = x.len() as f64;
    let mean = (blocked_sum(x, |v| v) / n) as f32;
    let var = blocked_sum(x, |v| (v - mean) * (v - mean)) / n;
    (mean, (1.0 / (var + eps).sqrt()) as f32)
}

/// Per-plane statistics and output: `y = γ·(x − μ)/σ + β`, then `max(y, 0)` when `relu`.
fn forward(
    x: &[f32],
    hw: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    relu: bool,
) -> (Vec<f32>, Vec<(f32, f32)>) {
    let c = gamma.len();
    let mut y = vec![0f32; x.len()];
    let stats: Vec<(f32, f32)> = y
        .par_chunks_mut(hw)
        .zip(x.par_chunks(hw))
        .enumerate()
        .map(|(p, (yp, xp))| {
            let (mean, inv_std) = plane_stats(xp, eps);
            let scale = gamma[p % c] * inv_std;
            let shift = beta[p % c] - mean * scale;
            for (o, v) in yp.iter_mut().zip(xp) {
                let z = v * scale + shift;
                *o = if relu { z.max(0.0) } else { z };
            }
            (mean, inv_std)
        })
        .collect();
    (y, stats)
}

/// One plane's forward constants: `x̂ = (x − mean)·inv_std`, and the output before the ReLU
/// `z = x·scale + shift`, computed as the forward computes it.
#[derive(Clone, Copy)]
struct Plane {
    mean: f32,
    inv_std: f32,
    scale: f32,
    shift: f32,
    relu: bool,
}

impl Plane {
    /// `dy` where the ReLU let the value through (`y = max(z, 0) > 0`), else 0: `y` recomputed
    /// from the input as the forward computed it, so that the backward need not read it.
    #[inline(always)]
    fn masked(&self, x: f32, dy: f32) -> f32 {
        if self.relu && (x * self.scale + self.shift).max(0.0) <= 0.0 {
            0.0
        } else {
            dy
        }
    }
}

/// `(Σ g·x̂, Σ g)` over one plane, where `g` is `dy` masked by the ReLU, by [`blocked_sums`].
fn grad_sums(x: &[f32], dy: &[f32], pl: Plane) -> (f32, f32) {
    let [s_gx, s_g] = blocked_sums(x, dy, |xv, dv| {
        let g = pl.masked(xv, dv);
        [g * (xv - pl.mean), g]
    });
    ((s_gx * pl.inv_std as f64) as f32, s_g as f32)
}

/// Gradients for output gradient `dy`: `dx` (when `need_input`) and per-plane `(Σ g·x̂, Σ g)`
/// where `g` is `dy` masked by the ReLU. Reads the input and `dy` only (twice each).
#[allow(clippy::too_many_arguments)]
fn backward(
    x: &[f32],
    dy: &[f32],
    hw: usize,
    gamma: &[f32],
    beta: &[f32],
    stats: &[(f32, f32)],
    relu: bool,
    need_input: bool,
) -> (Vec<f32>, Vec<(f32, f32)>) {
    let c = gamma.len();
    let plane = |p: usize| {
        let (mean, inv_std) = stats[p];
        let scale = gamma[p % c] * inv_std;
        Plane {
            mean,
            inv_std,
            scale,
            shift: beta[p % c] - mean * scale,
            relu,
        }
    };
    let plane_sums = |p: usize| {
        let range = p * hw..(p + 1) * hw;
        grad_sums(&x[range.clone()], &dy[range], plane(p))
    };
    if !need_input {
        return (
            Vec::new(),
            (0..x.len() / hw).into_par_iter().map(plane_sums).collect(),
        );
    }
    let mut dx = vec![0f32; x.len()];
    let sums = dx
        .par_chunks_mut(hw)
        .enumerate()
        .map(|(p, dxp)| {
            let (s_gx, s_g) = plane_sums(p);
            let pl = plane(p);
            let (mean_g, mean_gx) = (s_g / hw as f32, s_gx / hw as f32);
            let range = p * hw..(p + 1) * hw;
            for ((o, xv), dv) in dxp.iter_mut().zip(&x[range.clone()]).zip(&dy[range]) {
                let g = pl.masked(*xv, *dv);
                *o = pl.scale * (g - mean_g - (xv - pl.mean) * pl.inv_std * mean_gx);
            }
            (s_gx, s_g)
        })
        .collect();
    (dx, sums)
}

/// Instance norm of `xs` (`[B, C, H, W]`, f32 on the CPU) with per-channel `gamma` and `beta`,
/// then ReLU when `relu`; differentiable with respect to `xs`, `gamma` and `beta`.
pub fn instance_norm(
    xs: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    let hw = h * w;
    let x = xs.detach().contiguous()?;
    let (g, bt) = (
        gamma.detach().to_vec1::<f32>()?,
        beta.detach().to_vec1::<f32>()?,
    );
    let (y, stats) = with_cpu_f32(&x, |xv| forward(xv, hw, &g, &bt, eps, relu))?;
    let need_input = xs.track_op();
    let need_affine = gamma.track_op() || beta.track_op();
    if !need_input && !need_affine {
        return Tensor::from_vec(y, (b, c, h, w), &Device::Cpu);
    }
    let backward = Arc::new(move |_: &Tensor, dy: &Tensor| {
        let (dx, sums) = with_cpu_f32(&x, |xv| {
            with_cpu_f32(dy, |dyv| {
                backward(xv, dyv, hw, &g, &bt, &stats, relu, need_input)
            })
        })??;
        let dx = if need_input {
            Some(Tensor::from_vec(dx, (b, c, h, w), &Device::Cpu)?)
        } else {
            None
        };
        let daffine = if need_affine {
            let mut d = vec![0f32; 2 * c];
            for (p, (s_gx, s_g)) in sums.iter().enumerate() {
                d[p % c] += s_gx;
                d[c + p % c] += s_g;
            }
            Some(Tensor::from_vec(d, (2, c), &Device::Cpu)?)
        } else {
            None
        };
        Ok((dx, daffine))
    });
    // γ and β travel as one [2, C] input; stack's backward splits the gradient again.
    let affine = Tensor::stack(&[gamma, beta], 0)?;
    cpu_with_backward(
        "fauve-cpu-instance-norm",
        xs,
        &affine,
        y,
        &[b, c, h, w],
        backward,
    )
}
