//! Separable row/column gathers of image planes on the CPU, f32: reflection padding and
//! nearest-neighbour upsampling are both `out[p, i, j] = x[p, rows[i], cols[j]]`.
//!
//! candle's `index_select` along the last dimension copies element by element on one thread,
//! and reflection padding through it took 15% of an inference. Here planes are spread over
//! rayon's threads and runs of consecutive source columns are copied as slices. The backward
//! adds each output gradient onto the pixel it was read from.

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::cpu::slice::with_cpu_f32;
use crate::custom_grad::cpu_with_backward;

/// Runs of consecutive source indices: `(dst_start, src_start, len)`.
fn runs(cols: &[u32]) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (j, &c) in cols.iter().enumerate() {
        match out.last_mut() {
            Some((d, s, len)) if *d + *len == j && *s + *len == c as usize => *len += 1,
            _ => out.push((j, c as usize, 1)),
        }
    }
    out
}

fn forward(x: &[f32], h: usize, w: usize, rows: &[u32], cols: &[u32]) -> Vec<f32> {
    let (ho, wo) = (rows.len(), cols.len());
    let runs = runs(cols);
    // Mostly short runs (upsampling: every run is one pixel): index each column instead.
    let by_index = runs.len() * 8 > wo;
    let mut y = vec![0f32; x.len() / (h * w) * ho * wo];
    y.par_chunks_mut(ho * wo)
        .zip(x.par_chunks(h * w))
        .for_each(|(yp, xp)| {
            for (yr, &r) in yp.chunks_mut(wo).zip(rows) {
                let src = &xp[r as usize * w..(r as usize + 1) * w];
                if by_index {
                    for (o, &c) in yr.iter_mut().zip(cols) {
                        *o = src[c as usize];
                    }
                } else {
                    for &(d, s, len) in &runs {
                        yr[d..d + len].copy_from_slice(&src[s..s + len]);
                    }
                }
            }
        });
    y
}

/// The adjoint of a gather: `g` holds planes of `rows.len() × cols.len()` values, each of
/// which is added onto the pixel `(rows[i], cols[j])` of an `h × w` plane it was read from.
/// Also folds the gradient of a virtual (upsampled, reflection-padded) conv input onto the
/// stored pixels.
pub(crate) fn fold(g: &[f32], h: usize, w: usize, rows: &[u32], cols: &[u32]) -> Vec<f32> {
    let (ho, wo) = (rows.len(), cols.len());
    let runs = runs(cols);
    let mut dx = vec![0f32; g.len() / (ho * wo) * h * w];
    dx.par_chunks_mut(h * w)
        .zip(g.par_chunks(ho * wo))
        .for_each(|(dp, gp)| {
            for (gr, &r) in gp.chunks(wo).zip(rows) {
                let dst = &mut dp[r as usize * w..(r as usize + 1) * w];
                for &(d, s, len) in &runs {
                    for (o, v) in dst[s..s + len].iter_mut().zip(&gr[d..d + len]) {
                        *o += *v;
                    }
                }
            }
        });
    dx
}

/// `out[b, c, i, j] = xs[b, c, rows[i], cols[j]]` for an f32 CPU tensor, differentiable.
/// Every index must be inside the plane (the callers build them so).
pub fn gather_planes(xs: &Tensor, rows: Vec<u32>, cols: Vec<u32>) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    if rows.iter().any(|&r| r as usize >= h) || cols.iter().any(|&j| j as usize >= w) {
        candle_core::bail!("gather_planes: index outside the {h}x{w} plane");
    }
    let (ho, wo) = (rows.len(), cols.len());
    let y = with_cpu_f32(xs, |x| forward(x, h, w, &rows, &cols))?;
    if !xs.track_op() {
        return Tensor::from_vec(y, (b, c, ho, wo), &Device::Cpu);
    }
    let maps = Arc::new((rows, cols));
    let backward = Arc::new(move |_: &Tensor, g: &Tensor| {
        let dx = with_cpu_f32(g, |gv| fold(gv, h, w, &maps.0, &maps.1))?;
        Ok((
            Some(Tensor::from_vec(dx, (b, c, h, w), &Device::Cpu)?),
            None,
        ))
    });
    cpu_with_backward(
        "fauve-cpu-gather-planes",
        xs,
        xs,
        y,
        &[b, c, ho, wo],
        backward,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_grads_close, projected_grads, rel_l2};
    use candle_core::Var;

    /// Source indices of nearest-neighbour upsampling of `len` positions by `factor`.
    fn upsample_indices(len: usize, factor: usize) -> Vec<u32> {
        (0..len * factor).map(|i| (i / factor) as u32).collect()
    }

    #[test]
    fn runs_merge_consecutive_sources() {
        assert_eq!(
            runs(&[2, 1, 0, 1, 2, 3, 2]),
            vec![(0, 2, 1), (1, 1, 1), (2, 0, 4), (6, 2, 1)]
        );
    }

    /// Nearest upsampling against candle's, forward and backward (candle's backward of
    /// `upsample_nearest2d` is the reference).
    #[test]
    fn upsampling_matches_candle() -> anyhow::Result<()> {
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 1., (2, 3, 5, 7), &dev)?;
        let ours = gather_planes(
            x.as_tensor(),
            upsample_indices(5, 2),
            upsample_indices(7, 2),
        )?;
        let reference = x.as_tensor().upsample_nearest2d(10, 14)?;
        assert_eq!(rel_l2(&ours, &reference), 0.0);
        let (g1, g2) = projected_grads(&ours, &reference)?;
        assert_grads_close(&g1, &g2, &[("x", x.as_tensor())], 1e-6, "upsampling");
        Ok(())
    }
}
