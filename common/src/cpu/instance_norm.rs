//! Instance norm with its affine and an optional ReLU fused into one pass each way, for f32
//! tensors on the CPU.
//!
//! Built from candle ops, the forward of one instance norm + ReLU is about a dozen full passes
//! over the activation (mean, centre, square, mean, scale, affine, ReLU, each into a freshly
//! allocated tensor), and its backward as many again. Here each (sample, channel) plane is
//! read twice and written once forward, read twice and written once backward, planes spread
//! over rayon's threads.

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::cpu::slice::with_cpu_f32;
use crate::ops::custom_grad::cpu_with_backward;

/// Sum of `f(v)` over `x`: 16 f32 lanes over blocks of 1024 values (vectorised), each block's
/// total added in f64, so the error stays that of 1024-value f32 sums.
fn blocked_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    x.chunks(1024)
        .map(|block| {
            let mut lanes = [0f32; 16];
            let mut chunks = block.chunks_exact(16);
            for c in &mut chunks {
                for (l, v) in lanes.iter_mut().zip(c) {
                    *l += f(*v);
                }
            }
            let rest: f32 = chunks.remainder().iter().map(|v| f(*v)).sum();
            lanes.iter().map(|l| *l as f64).sum::<f64>() + rest as f64
        })
        .sum()
}

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

/// Gradients for output gradient `dy`: `dx` (when `need_input`) and per-plane `(Σ g·x̂, Σ g)`
/// where `g` is `dy` masked by the ReLU.
#[allow(clippy::too_many_arguments)]
fn backward(
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    hw: usize,
    gamma: &[f32],
    stats: &[(f32, f32)],
    relu: bool,
    need_input: bool,
) -> (Vec<f32>, Vec<(f32, f32)>) {
    let c = gamma.len();
    let mut dx = if need_input {
        vec![0f32; x.len()]
    } else {
        Vec::new()
    };
    let plane_sums = |p: usize| {
        let (mean, inv_std) = stats[p];
        let range = p * hw..(p + 1) * hw;
        let (mut s_gx, mut s_g) = (0f64, 0f64);
        for ((xv, yv), dv) in x[range.clone()]
            .iter()
            .zip(&y[range.clone()])
            .zip(&dy[range])
        {
            let g = if relu && *yv <= 0.0 { 0.0 } else { *dv };
            s_gx += (g * (xv - mean) * inv_std) as f64;
            s_g += g as f64;
        }
        (s_gx as f32, s_g as f32)
    };
    let sums: Vec<(f32, f32)> = if need_input {
        dx.par_chunks_mut(hw)
            .enumerate()
            .map(|(p, dxp)| {
                let (s_gx, s_g) = plane_sums(p);
                let (mean, inv_std) = stats[p];
                let k = gamma[p % c] * inv_std;
                let (mean_g, mean_gx) = (s_g / hw as f32, s_gx / hw as f32);
                let range = p * hw..(p + 1) * hw;
                for (((o, xv), yv), dv) in dxp
                    .iter_mut()
                    .zip(&x[range.clone()])
                    .zip(&y[range.clone()])
                    .zip(&dy[range])
                {
                    let g = if relu && *yv <= 0.0 { 0.0 } else { *dv };
                    *o = k * (g - mean_g - (xv - mean) * inv_std * mean_gx);
                }
                (s_gx, s_g)
            })
            .collect()
    } else {
        (0..x.len() / hw).into_par_iter().map(plane_sums).collect()
    };
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
    let backward = Arc::new(move |y: &Tensor, dy: &Tensor| {
        let (dx, sums) = with_cpu_f32(&x, |xv| {
            with_cpu_f32(y, |yv| {
                with_cpu_f32(dy, |dyv| {
                    backward(xv, yv, dyv, hw, &g, &stats, relu, need_input)
                })
            })
        })???;
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
