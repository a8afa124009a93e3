//! The three products of a convolution on the CPU, on contiguous f32 buffers: the output, the
//! input gradient and the kernel gradient, each as tiles of unfold + GEMM spread over rayon's
//! threads. Work is split statically and partial sums are added in a fixed order, so results
//! are bit-identical from run to run (resumed training depends on it).

use std::sync::OnceLock;

use rayon::prelude::*;

use super::geometry::ConvGeom;
use super::partial_sums::sum_over_threads;
use super::shared_out::SharedOut;
use super::unfold::{col2im, im2col};
use crate::cpu::matmul::{matmul, matmul_raw, Mat};

/// `y = conv(x, w)`: `x` is `[batch, cin, h, w]`, `wmat` the kernel as `[cout, cin·k²]`;
/// returns `[batch, cout, ho, wo]`. `winograd` keeps the Winograd transform of a constant
/// kernel between calls.
pub fn forward(
    g: &ConvGeom,
    x: &[f32],
    wmat: &[f32],
    winograd: Option<&OnceLock<Vec<f32>>>,
) -> Vec<f32> {
    if super::winograd::applies(g, winograd.is_some()) {
        return super::winograd::forward(g, x, wmat, winograd);
    }
    let (krows, plane, tiles) = (g.krows(), g.out_plane(), g.tiles());
    let in_img = g.cin * g.in_plane();
    let len = g.batch * g.cout * plane;
    // Left uninitialised: the tiles below write every element (zero-filling it first cost 4%
    // of an inference).
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let out = SharedOut::new(&mut y);
    let w = Mat::rows(wmat, g.cout, krows);
    (0..g.batch * tiles).into_par_iter().for_each_init(
        || vec![0f32; krows * g.tile],
        |col, task| {
            let (b, t) = (task / tiles, task % tiles);
            let (p0, n) = g.tile_range(t);
            let col = &mut col[..krows * n];
            im2col(g, &x[b * in_img..(b + 1) * in_img], p0, n, col);
            let offset = b * g.cout * plane + p0;
            // SAFETY: rows `b·cout + o` (o < cout), columns `p0..p0+n` of `y` (row stride
            // `plane`, inside `y` since p0 + n <= plane); each (b, t) task owns its block.
            unsafe {
                matmul_raw(
                    out.get().add(offset),
                    plane,
                    w,
                    Mat::rows(col, krows, n),
                    false,
                );
            }
        },
    );
    // SAFETY: the (image, tile) tasks cover every image, output channel and pixel exactly
    // once, and a GEMM that does not accumulate writes every element of its block (a product
    // with an empty inner dimension writes zeros).
    unsafe { y.set_len(len) };
    y
}

/// Channels per input-gradient task: all of them, halved while there are too few tasks for
/// the threads and the GEMM keeps at least 256 rows.
fn channel_chunk(g: &ConvGeom, threads: usize) -> usize {
    let kk = g.k * g.k;
    let mut nc = g.cin;
    while g.batch * (g.cin / nc) < 2 * threads && nc % 2 == 0 && (nc / 2) * kk >= 256 {
        nc /= 2;
    }
    nc
}

/// One input-gradient task's result: channels `c0..c0+nc` of image `b`, input rows
/// `[row0, row0 + rows)`.
struct Band {
    row0: usize,
    rows: usize,
    values: Vec<f32>,
}

/// `dx` for output gradient `dy` (`[batch, cout, ho, wo]`) and kernel `wmat` (`[cout, cin·k²]`):
/// `Wᵀ·dy` folded back onto the input. Tasks are (image, channel chunk, band of output rows);
/// bands overlap by the kernel's reach, so each writes its own buffer and they are added after.
pub fn input_grad(g: &ConvGeom, dy: &[f32], wmat: &[f32]) -> Vec<f32> {
    let threads = rayon::current_num_threads();
    let (kk, krows, plane, in_plane) = (g.k * g.k, g.krows(), g.out_plane(), g.in_plane());
    let nc = channel_chunk(g, threads);
    let chunks = g.cin / nc;
    let per_chunk = (2 * threads).div_ceil(g.batch * chunks).clamp(1, g.ho);
    let band_rows = g.ho.div_ceil(per_chunk);
    let bands = g.ho.div_ceil(band_rows);
    let parts: Vec<Band> = (0..g.batch * chunks * bands)
        .into_par_iter()
        .map_init(
            || vec![0f32; nc * kk * g.tile],
            |dcol, task| {
                let (b, c, band) = (
                    task / (chunks * bands),
                    (task / bands) % chunks,
                    task % bands,
                );
                let (oy0, oy1) = (band * band_rows, ((band + 1) * band_rows).min(g.ho));
                let (row0, end) = g.input_rows(oy0, oy1 - 1);
                let rows = end - row0;
                let mut values = vec![0f32; nc * rows * g.w];
                // Wᵀ restricted to this chunk's rows: element (r, o) is wmat[o·krows + c0·k² + r].
                let wt = Mat {
                    data: &wmat[c * nc * kk..],
                    rows: nc * kk,
                    cols: g.cout,
                    rs: 1,
                    cs: krows,
                };
                let dy_img = &dy[b * g.cout * plane..(b + 1) * g.cout * plane];
                let (mut p, end_p) = (oy0 * g.wo, oy1 * g.wo);
                while p < end_p {
                    let n = g.tile.min(end_p - p);
                    let rhs = Mat {
                        data: &dy_img[p..],
                        rows: g.cout,
                        cols: n,
                        rs: plane,
                        cs: 1,
                    };
                    let dcol = &mut dcol[..nc * kk * n];
                    matmul(dcol, n, wt, rhs, false);
                    col2im(g, dcol, nc, p, n, &mut values, row0, rows);
                    p += n;
                }
                Band { row0, rows, values }
            },
        )
        .collect();
    let mut dx = vec![0f32; g.batch * g.cin * in_plane];
    dx.par_chunks_mut(nc * in_plane)
        .zip(parts.par_chunks(bands))
        .for_each(|(dst, bands)| {
            for band in bands {
                for c in 0..nc {
                    let src = &band.values[c * band.rows * g.w..(c + 1) * band.rows * g.w];
                    let at = c * in_plane + band.row0 * g.w;
                    for (d, v) in dst[at..at + src.len()].iter_mut().zip(src) {
                        *d += *v;
                    }
                }
            }
        });
    dx
}

/// The kernel gradient `[cout, cin·k²]` for input `x` and output gradient `dy`: the sum over
/// images and tiles of `dy_tile · unfold(x)_tileᵀ`.
pub fn kernel_grad(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if super::winograd::applies(g, false) {
        return super::winograd::kernel_grad(g, x, dy);
    }
    let (krows, plane, tiles) = (g.krows(), g.out_plane(), g.tiles());
    let in_img = g.cin * g.in_plane();
    sum_over_threads(g.batch * tiles, g.cout * krows, |range, acc| {
        let mut col = vec![0f32; krows * g.tile];
        for task in range {
            let (b, t) = (task / tiles, task % tiles);
            let (p0, n) = g.tile_range(t);
            let col = &mut col[..krows * n];
            im2col(g, &x[b * in_img..(b + 1) * in_img], p0, n, col);
            let dy_tile = Mat {
                data: &dy[b * g.cout * plane + p0..],
                rows: g.cout,
                cols: n,
                rs: plane,
                cs: 1,
            };
            matmul(acc, krows, dy_tile, Mat::rows(col, krows, n).t(), true);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::geometry::{shape, Reading};
    use crate::cpu::conv::test_support::{reference, rel, values};

    /// Small tiles so that tiles, bands and chunks all cut through the image.
    #[allow(clippy::too_many_arguments)]
    fn geom(
        b: usize,
        cin: usize,
        h: usize,
        w: usize,
        cout: usize,
        k: usize,
        s: usize,
        p: usize,
    ) -> ConvGeom {
        ConvGeom {
            tile: 7,
            ..ConvGeom::new(shape(b, cin, h, w, cout, k), s, p).unwrap()
        }
    }

    #[test]
    fn forward_and_gradients_match_direct_sums() {
        // Reading through reflection padding and upsampling (the index maps are checked
        // against PyTorch's in geometry.rs).
        let resampled = |b, cin, h, w, cout, k, s, p, up| ConvGeom {
            tile: 7,
            ..ConvGeom::resampled(
                shape(b, cin, h, w, cout, k),
                s,
                Reading {
                    pad: p,
                    reflect: true,
                    up,
                },
            )
            .unwrap()
        };
        for g in [
            geom(2, 3, 9, 11, 4, 3, 1, 1),
            geom(1, 4, 10, 9, 3, 3, 2, 1),
            geom(3, 2, 8, 8, 2, 5, 1, 0),
            resampled(2, 3, 7, 6, 4, 3, 2, 1, 1),
            resampled(1, 3, 4, 5, 2, 3, 1, 1, 2),
            resampled(1, 2, 6, 7, 3, 5, 1, 2, 1),
        ] {
            let x = values(g.batch * g.cin * g.in_plane(), 0.0);
            let w = values(g.cout * g.krows(), 3.0);
            let dy = values(g.batch * g.cout * g.out_plane(), 7.0);
            assert!(
                rel(&forward(&g, &x, &w, None), &reference(&g, &x, &w)) < 1e-6,
                "{g:?}"
            );
            // <dy, conv(x)> is bilinear: its gradients are checked through inner products with
            // basis directions computed by the reference.
            let dx = input_grad(&g, &dy, &w);
            let dw = kernel_grad(&g, &x, &dy);
            let mut dx_ref = vec![0f64; x.len()];
            for (i, e) in dx_ref.iter_mut().enumerate() {
                let mut unit = vec![0f32; x.len()];
                unit[i] = 1.0;
                *e = reference(&g, &unit, &w)
                    .iter()
                    .zip(&dy)
                    .map(|(a, b)| a * *b as f64)
                    .sum();
            }
            assert!(rel(&dx, &dx_ref) < 1e-6, "input grad {g:?}");
            let mut dw_ref = vec![0f64; w.len()];
            for (i, e) in dw_ref.iter_mut().enumerate() {
                let mut unit = vec![0f32; w.len()];
                unit[i] = 1.0;
                *e = reference(&g, &x, &unit)
                    .iter()
                    .zip(&dy)
                    .map(|(a, b)| a * *b as f64)
                    .sum();
            }
            assert!(rel(&dw, &dw_ref) < 1e-6, "kernel grad {g:?}");
        }
    }
}
