//! What follows the convolution's GEMMs: bias and ReLU forward, and backward the ReLU mask
//! and the bias gradient, each in one pass over the output.

use rayon::prelude::*;

use crate::cpu::sums::blocked_sum;

/// `y = max(y + bias[c], 0)` (or without the max), in place; `y` is `[B, C, plane]`.
pub fn bias_relu(y: &mut [f32], plane: usize, bias: Option<&[f32]>, relu: bool) {
    if bias.is_none() && !relu {
        return;
    }
    y.par_chunks_mut(plane).enumerate().for_each(|(p, yp)| {
        let b = bias.map_or(0.0, |b| b[p % b.len()]);
        if relu {
            yp.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
        } else {
            yp.iter_mut().for_each(|v| *v += b);
        }
    });
}

/// The output gradient through the ReLU (zero where the output is not positive, as PyTorch's
/// ReLU backward; None without ReLU: `dy` itself) and, when `need_bias`, its sum per channel
/// over batch and plane. One parallel pass over `dy` (and `y` with ReLU), sums vectorised.
pub fn mask_and_bias_grad(
    dy: &[f32],
    y: &[f32],
    plane: usize,
    channels: usize,
    relu: bool,
    need_bias: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let plane_sum = |gp: &[f32]| -> f64 {
        if need_bias {
            blocked_sum(gp, |v| v)
        } else {
            0.0
        }
    };
    let (masked, sums): (Option<Vec<f32>>, Vec<f64>) = if relu {
        let mut g = vec![0f32; dy.len()];
        let sums = g
            .par_chunks_mut(plane)
            .zip(dy.par_chunks(plane))
            .zip(y.par_chunks(plane))
            .map(|((gp, dp), yp)| {
                for ((v, d), o) in gp.iter_mut().zip(dp).zip(yp) {
                    *v = if *o <= 0.0 { 0.0 } else { *d };
                }
                plane_sum(gp)
            })
            .collect();
        (Some(g), sums)
    } else if need_bias {
        (None, dy.par_chunks(plane).map(plane_sum).collect())
    } else {
        (None, Vec::new())
    };
    let bias = need_bias.then(|| {
        let mut b = vec![0f64; channels];
        for (p, s) in sums.iter().enumerate() {
            b[p % channels] += s;
        }
        b.into_iter().map(|v| v as f32).collect()
    });
    (masked, bias)
}
