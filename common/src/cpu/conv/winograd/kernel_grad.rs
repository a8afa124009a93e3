//! The kernel gradient of a Winograd conv, through the same transforms: the forward is
//! `Y = Aᵀ·[(G·k·Gᵀ) ⊙ (Bᵀ·d·B)]·A` per tile, linear in the kernel `k`, so
//! `dk = Gᵀ·[Σ_tiles (A·dY·Aᵀ) ⊙ (Bᵀ·d·B)]·G`: 16 GEMMs `dU[ξ] += dM[ξ]·V[ξ]ᵀ` over the tiles,
//! then a 4x4-to-3x3 transform per channel pair (2.25x fewer multiplications than im2col's
//! `dy·unfold(x)ᵀ`).

use rayon::prelude::*;

use super::layout::Layout;
use super::scratch::{Buffers, SCRATCH};
use super::transforms::{input_transform, zip2};
use crate::cpu::conv::geometry::ConvGeom;
use crate::cpu::conv::partial_sums::sum_over_threads;
use crate::cpu::matmul::{matmul, Mat};

/// The kernel gradient `[cout, cin·9]` of a conv that [`super::applies`], for input `x`
/// (`[batch, cin, h, w]`) and output gradient `dy` (`[batch, cout, ho, wo]`). The (image, band)
/// tasks' `dU` are summed by [`sum_over_threads`], so results are the same bits every run.
pub fn kernel_grad(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let lay = Layout::new(g);
    let bands = lay.bands();
    let (in_img, out_img) = (g.cin * g.in_plane(), g.cout * g.out_plane());
    let pairs = g.cout * g.cin;
    let du = sum_over_threads(g.batch * bands, 16 * pairs, |range, du| {
        SCRATCH.with_borrow_mut(|buf| {
            buf.fit(g, &lay, lay.band * lay.tiles_x);
            for task in range {
                let (b, band) = (task / bands, task % bands);
                let ty0 = band * lay.band;
                let rows = lay.band.min(lay.tiles_y - ty0);
                let n = rows * lay.tiles_x;
                input_transform(g, &lay, &x[b * in_img..(b + 1) * in_img], ty0, rows, buf);
                let dy_img = &dy[b * out_img..(b + 1) * out_img];
                output_grad_transform(g, &lay, dy_img, ty0, rows, buf);
                let (plane_in, plane_out) = (g.cin * n, g.cout * n);
                for (xi, dui) in du.chunks_exact_mut(pairs).enumerate() {
                    let dm = Mat::rows(&buf.m[xi * plane_out..][..plane_out], g.cout, n);
                    let v = Mat::rows(&buf.v[xi * plane_in..][..plane_in], g.cin, n);
                    matmul(dui, g.cin, dm, v.t(), true);
                }
            }
        })
    });
    kernel_transform_adjoint(g, &du)
}

/// Fills `buf.m` with `dM[ξ] = (A·dY·Aᵀ)[ξ]` of every 2x2 output-gradient tile of tile rows
/// `ty0..ty0 + rows` and every output channel, `[16][cout][rows·tiles_x]` (zero past the last
/// row and column, as the forward writes none there).
fn output_grad_transform(
    g: &ConvGeom,
    lay: &Layout,
    dy: &[f32],
    ty0: usize,
    rows: usize,
    buf: &mut Buffers,
) {
    let tx_n = lay.tiles_x;
    let n = rows * tx_n;
    let plane = g.cout * n;
    // Rows 0 and 1 of a tile row, even then odd columns: a, b (row 0) and c, d (row 1).
    let (halves, sums) = buf.t.split_at_mut(4 * tx_n);
    for o in 0..g.cout {
        let chan = &dy[o * g.out_plane()..(o + 1) * g.out_plane()];
        for r in 0..rows {
            for k in 0..2 {
                let (even, odd) = halves[2 * k * tx_n..(2 * k + 2) * tx_n].split_at_mut(tx_n);
                let oy = 2 * (ty0 + r) + k;
                if oy >= g.ho {
                    even.fill(0.0);
                    odd.fill(0.0);
                    continue;
                }
                let src = &chan[oy * g.wo..(oy + 1) * g.wo];
                for (x, pair) in src.chunks(2).enumerate() {
                    even[x] = pair[0];
                    odd[x] = pair.get(1).copied().unwrap_or(0.0);
                }
            }
            let (a, b, c, d) = (
                &halves[..tx_n],
                &halves[tx_n..2 * tx_n],
                &halves[2 * tx_n..3 * tx_n],
                &halves[3 * tx_n..4 * tx_n],
            );
            // A·dY: rows (a, b), (a + c, b + d), (a - c, b - d), (-c, -d).
            let (ac_sum, rest) = sums.split_at_mut(tx_n);
            let (bd_sum, rest) = rest.split_at_mut(tx_n);
            let (ac_diff, bd_diff) = rest.split_at_mut(tx_n);
            zip2(ac_sum, a, c, |p, q| p + q);
            zip2(bd_sum, b, d, |p, q| p + q);
            zip2(ac_diff, a, c, |p, q| p - q);
            zip2(&mut bd_diff[..tx_n], b, d, |p, q| p - q);
            let base = o * n + r * tx_n;
            let row_pairs: [(&[f32], &[f32], f32); 4] = [
                (a, b, 1.0),
                (ac_sum, bd_sum, 1.0),
                (ac_diff, &bd_diff[..tx_n], 1.0),
                (c, d, -1.0),
            ];
            for (i, (p, q, sign)) in row_pairs.into_iter().enumerate() {
                // ·Aᵀ along the row: p, p + q, p - q, -q (times the row's sign).
                let at = |j: usize| (i * 4 + j) * plane + base;
                let m = &mut buf.m;
                zip2(&mut m[at(0)..at(0) + tx_n], p, q, |p, _| sign * p);
                zip2(&mut m[at(1)..at(1) + tx_n], p, q, |p, q| sign * (p + q));
                zip2(&mut m[at(2)..at(2) + tx_n], p, q, |p, q| sign * (p - q));
                zip2(&mut m[at(3)..at(3) + tx_n], p, q, |_, q| -sign * q);
            }
        }
    }
}

/// `dk = Gᵀ·dU·G` for every (output, input) channel pair of `du` (`[16][cout][cin]`), as
/// `[cout, cin·9]`: the adjoint of the forward's kernel transform.
fn kernel_transform_adjoint(g: &ConvGeom, du: &[f32]) -> Vec<f32> {
    let (co, ci) = (g.cout, g.cin);
    let pairs = co * ci;
    // Gᵀ·(x0, x1, x2, x3): 3 values.
    let gt = |x: [f32; 4]| {
        let (s, d) = (0.5 * (x[1] + x[2]), 0.5 * (x[1] - x[2]));
        [x[0] + s, d, s + x[3]]
    };
    let mut dk = vec![0f32; pairs * 9];
    dk.par_chunks_mut(ci * 9).enumerate().for_each(|(o, dst)| {
        for (c, k) in dst.chunks_exact_mut(9).enumerate() {
            let u = |i: usize, j: usize| du[(i * 4 + j) * pairs + o * ci + c];
            // Gᵀ down each of the 4 columns (3x4), then each row times G.
            let cols = [0, 1, 2, 3].map(|j| gt([u(0, j), u(1, j), u(2, j), u(3, j)]));
            for r in 0..3 {
                k[r * 3..r * 3 + 3]
                    .copy_from_slice(&gt([cols[0][r], cols[1][r], cols[2][r], cols[3][r]]));
            }
        }
    });
    dk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::test_support::{kernel_grad_reference, rel, values, winograd_cases};

    /// Against direct sums in f64, through the geometries the forward is tested on.
    #[test]
    fn matches_direct_sums_through_every_reading() {
        for g in winograd_cases() {
            let x = values(g.batch * g.cin * g.in_plane(), 0.0);
            let dy = values(g.batch * g.cout * g.out_plane(), 5.0);
            let err = rel(
                &kernel_grad(&g, &x, &dy),
                &kernel_grad_reference(&g, &x, &dy),
            );
            eprintln!(
                "{:?}: {err:e}",
                (g.batch, g.cin, g.h, g.w, g.pad, g.reflect, g.up)
            );
            assert!(err < 1e-5, "{g:?}: {err:e}");
        }
    }
}
