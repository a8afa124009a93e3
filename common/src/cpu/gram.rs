//! The CPU kernel of the Gram matrix (f32): `G = φ·φᵀ / n` per image, only the blocks on and
//! above the diagonal computed (G is symmetric) and mirrored, images spread over the threads;
//! backward `dφ = (dG + dGᵀ)·φ / n`, one product per image.
//!
//! For the four Gram matrices of a training step at batch 4 and 128x128 (VGG16's relu1_2 to
//! relu4_3, 2.1 GFLOP in full), candle's batched matmul took 25 ms forward, this 14 ms.

use std::sync::Arc;

use candle_core::{Result, Tensor};
use rayon::prelude::*;

use crate::cpu::matmul::{matmul, Mat};
use crate::cpu::slice::with_cpu_f32;
use crate::custom_grad::cpu_with_backward;

/// Rows of G per product: the blocks right of the diagonal are computed, the rest mirrored.
const BLOCK: usize = 64;

/// `φ·φᵀ · scale` of each image's `[c, n]` features in `f`, `[images, c, c]`.
pub fn forward(f: &[f32], c: usize, n: usize, scale: f32) -> Vec<f32> {
    let mut g = vec![0f32; f.len() / n * c];
    g.par_chunks_mut(c * c)
        .zip(f.par_chunks(c * n))
        .for_each(|(gi, fi)| {
            for i0 in (0..c).step_by(BLOCK) {
                let rows = BLOCK.min(c - i0);
                let a = Mat::rows(&fi[i0 * n..(i0 + rows) * n], rows, n);
                let b = Mat::rows(&fi[i0 * n..], c - i0, n).t();
                matmul(&mut gi[i0 * c + i0..], c, a, b, false);
            }
            for i in 0..c {
                for j in i..c {
                    let v = gi[i * c + j] * scale;
                    gi[i * c + j] = v;
                    gi[j * c + i] = v;
                }
            }
        });
    g
}

/// `(dG + dGᵀ)·φ · scale` per image.
pub fn backward(f: &[f32], dg: &[f32], c: usize, n: usize, scale: f32) -> Vec<f32> {
    let mut df = vec![0f32; f.len()];
    backward_into(&mut df, f, dg, c, n, scale, false);
    df
}

/// [`backward`] written into `df`, or added to it when `accumulate`.
pub fn backward_into(
    df: &mut [f32],
    f: &[f32],
    dg: &[f32],
    c: usize,
    n: usize,
    scale: f32,
    accumulate: bool,
) {
    df.par_chunks_mut(c * n)
        .zip(f.par_chunks(c * n).zip(dg.par_chunks(c * c)))
        .for_each(|(dfi, (fi, dgi))| {
            let mut s = vec![0f32; c * c];
            for i in 0..c {
                for j in 0..c {
                    s[i * c + j] = (dgi[i * c + j] + dgi[j * c + i]) * scale;
                }
            }
            matmul(dfi, n, Mat::rows(&s, c, c), Mat::rows(fi, c, n), accumulate);
        });
}

/// `φ·φᵀ / n` of `[B, C, N]` f32 features on the CPU, `[B, C, C]`, differentiable with
/// respect to `φ`.
pub fn gram(flat: &Tensor, n_div: f64) -> Result<Tensor> {
    let (b, c, n) = flat.dims3()?;
    let phi = flat.detach().contiguous()?;
    let scale = (1.0 / n_div) as f32;
    let g = with_cpu_f32(&phi, |f| forward(f, c, n, scale))?;
    let backward = Arc::new(move |_: &Tensor, dg: &Tensor| {
        let df = with_cpu_f32(&phi, |f| with_cpu_f32(dg, |d| backward(f, d, c, n, scale)))??;
        Ok((
            Some(Tensor::from_vec(df, (b, c, n), &candle_core::Device::Cpu)?),
            None,
        ))
    });
    cpu_with_backward("fauve-cpu-gram", flat, flat, g, &[b, c, c], backward)
}
