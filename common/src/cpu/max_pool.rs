//! The CPU kernel of 2x2 max pooling (f32): records each window's winner (the first of equal
//! maxima, as PyTorch does) forward and places each gradient on it backward.

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::cpu::slice::with_cpu_f32;
use crate::custom_grad::cpu_with_backward;

/// Output and the winner (0..4, row-major in the window) of each output pixel, per plane.
fn forward(x: &[f32], h: usize, w: usize) -> (Vec<f32>, Vec<u8>) {
    let (ho, wo) = (h / 2, w / 2);
    let planes = x.len() / (h * w);
    let mut y = vec![0f32; planes * ho * wo];
    let mut arg = vec![0u8; planes * ho * wo];
    y.par_chunks_mut(ho * wo)
        .zip(arg.par_chunks_mut(ho * wo))
        .zip(x.par_chunks(h * w))
        .for_each(|((yp, ap), xp)| {
            for i in 0..ho {
                let (r0, r1) = (&xp[2 * i * w..], &xp[(2 * i + 1) * w..]);
                for j in 0..wo {
                    let window = [r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]];
                    let mut best = 0;
                    for (idx, v) in window.iter().enumerate().skip(1) {
                        if *v > window[best] {
                            best = idx;
                        }
                    }
                    yp[i * wo + j] = window[best];
                    ap[i * wo + j] = best as u8;
                }
            }
        });
    (y, arg)
}

/// Refuses a map smaller than one 2x2 window: pooling it would leave nothing (and a kernel
/// split over empty output rows cannot run). Every pooling entry point checks here.
pub fn check_poolable(h: usize, w: usize) -> Result<()> {
    if h < 2 || w < 2 {
        candle_core::bail!("max pooling needs at least 2x2 pixels, got {h}x{w}");
    }
    Ok(())
}

/// The gradient of the pooling's `[B, C, H, W]` input (values) for its output's gradient
/// `g` (values): each placed on its window's winner (`arg`, from the forward).
pub fn unpool_grad(g: &[f32], arg: &[u8], h: usize, w: usize) -> Vec<f32> {
    let (ho, wo) = (h / 2, w / 2);
    let mut dx = vec![0f32; g.len() / (ho * wo) * h * w];
    dx.par_chunks_mut(h * w)
        .zip(g.par_chunks(ho * wo).zip(arg.par_chunks(ho * wo)))
        .for_each(|(dp, (gp, ap))| {
            for i in 0..ho {
                for j in 0..wo {
                    let a = ap[i * wo + j] as usize;
                    dp[(2 * i + a / 2) * w + 2 * j + a % 2] = gp[i * wo + j];
                }
            }
        });
    dx
}

/// 2x2 max pooling of `xs` outside the autograd graph, and each window's winner, for
/// [`unpool_grad`].
pub fn pool_with_winners(xs: &Tensor) -> Result<(Tensor, Vec<u8>)> {
    let (b, c, h, w) = xs.dims4()?;
    check_poolable(h, w)?;
    let (y, arg) = with_cpu_f32(xs, |x| forward(x, h, w))?;
    Ok((
        Tensor::from_vec(y, (b, c, h / 2, w / 2), &Device::Cpu)?,
        arg,
    ))
}

/// The CPU kernel: winners recorded forward, gradients placed on them backward.
pub fn max_pool2x2(xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    check_poolable(h, w)?;
    let (y, arg) = with_cpu_f32(xs, |x| forward(x, h, w))?;
    if !xs.track_op() {
        return Tensor::from_vec(y, (b, c, h / 2, w / 2), &Device::Cpu);
    }
    let backward = Arc::new(move |_: &Tensor, g: &Tensor| {
        let dx = with_cpu_f32(g, |gv| unpool_grad(gv, &arg, h, w))?;
        Ok((
            Some(Tensor::from_vec(dx, (b, c, h, w), &Device::Cpu)?),
            None,
        ))
    });
    cpu_with_backward(
        "fauve-cpu-max-pool",
        xs,
        xs,
        y,
        &[b, c, h / 2, w / 2],
        backward,
    )
}
