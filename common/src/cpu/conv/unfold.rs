//! Unfolding input patches into GEMM columns (im2col) and folding columns back onto the
//! input with accumulation (col2im), one tile of output pixels at a time.
//!
//! A column matrix has one row per (input channel, kernel row, kernel column) and one column per
//! output pixel of the tile. Each row is filled row-segment by row-segment of the image, so with
//! stride 1 every segment is a single `memcpy` (or a single vectorised add).

use super::geometry::ConvGeom;
use super::tile_plan::TilePlan;

/// Fills `col` (`krows × n`, row-major) with the patches of output pixels `[p0, p0+n)` of one
/// image `x` (`[cin, h, w]`), read through the geometry's upsampling and padding.
pub fn im2col(g: &ConvGeom, x: &[f32], p0: usize, n: usize, col: &mut [f32]) {
    let plan = TilePlan::new(g, p0, n);
    let (k, s, up, plane) = (g.k, g.stride, g.up, g.in_plane());
    for c in 0..g.cin {
        let xc = &x[c * plane..(c + 1) * plane];
        for ki in 0..k {
            for kj in 0..k {
                let r = (c * k + ki) * k + kj;
                let dst = &mut col[r * n..(r + 1) * n];
                for (si, seg) in plan.segments.iter().enumerate() {
                    let out = &mut dst[seg.i..seg.i + seg.cnt];
                    let Some(iy) = plan.row(si, ki) else {
                        out.fill(0.0);
                        continue;
                    };
                    let src = &xc[iy * g.w..(iy + 1) * g.w];
                    let span = plan.span(si, kj);
                    for &(t, c) in plan.border(span) {
                        out[t] = c.map_or(0.0, |c| src[c]);
                    }
                    if span.lo == span.hi {
                        continue;
                    }
                    let first = span.first;
                    let out = &mut out[span.lo..span.hi];
                    match (up, s) {
                        (1, 1) => out.copy_from_slice(&src[first..first + out.len()]),
                        (1, _) => {
                            for (d, v) in out.iter_mut().zip(src[first..].iter().step_by(s)) {
                                *d = *v;
                            }
                        }
                        (2, 1) => upsample2_row(out, src, first),
                        _ => {
                            for (t, d) in out.iter_mut().enumerate() {
                                *d = src[(first + t * s) / up];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `seg[t] = src[(first + t) / 2]`: each source pixel written twice, as pairs (vectorises,
/// where a division per element does not).
fn upsample2_row(seg: &mut [f32], src: &[f32], first: usize) {
    let (mut seg, mut j) = (seg, first / 2);
    if first % 2 == 1 {
        let Some((head, rest)) = seg.split_first_mut() else {
            return;
        };
        *head = src[j];
        (seg, j) = (rest, j + 1);
    }
    let n_pairs = seg.len() / 2;
    let mut pairs = seg.chunks_exact_mut(2);
    for (pair, v) in (&mut pairs).zip(&src[j..]) {
        pair[0] = *v;
        pair[1] = *v;
    }
    if let [last] = pairs.into_remainder() {
        *last = src[j + n_pairs];
    }
}

/// Adds `col` (`(nc·k²) × n`, rows for input channels `c0..c0+nc`) onto `dx`, which holds those
/// channels' stored input rows `[row0, row0 + rows)` (`[nc, rows, w]`): the adjoint of
/// [`im2col`] (a mirrored or upsampled pixel receives the sum of everything read from it).
/// Contributions to rows outside that window must not exist (the caller sizes it).
#[allow(clippy::too_many_arguments)]
pub fn col2im(
    g: &ConvGeom,
    col: &[f32],
    nc: usize,
    p0: usize,
    n: usize,
    dx: &mut [f32],
    row0: usize,
    rows: usize,
) {
    let plan = TilePlan::new(g, p0, n);
    let (k, s, up) = (g.k, g.stride, g.up);
    for c in 0..nc {
        let dxc = &mut dx[c * rows * g.w..(c + 1) * rows * g.w];
        for ki in 0..k {
            for kj in 0..k {
                let r = (c * k + ki) * k + kj;
                let src = &col[r * n..(r + 1) * n];
                for (si, seg) in plan.segments.iter().enumerate() {
                    let Some(iy) = plan.row(si, ki) else {
                        continue;
                    };
                    let local = iy - row0;
                    let dst = &mut dxc[local * g.w..(local + 1) * g.w];
                    let src = &src[seg.i..seg.i + seg.cnt];
                    let span = plan.span(si, kj);
                    for &(t, c) in plan.border(span) {
                        if let Some(c) = c {
                            dst[c] += src[t];
                        }
                    }
                    if span.lo == span.hi {
                        continue;
                    }
                    let first = span.first;
                    let seg = &src[span.lo..span.hi];
                    match (up, s) {
                        (1, 1) => {
                            for (d, v) in dst[first..first + seg.len()].iter_mut().zip(seg) {
                                *d += *v;
                            }
                        }
                        (1, _) => {
                            for (d, v) in dst[first..].iter_mut().step_by(s).zip(seg) {
                                *d += *v;
                            }
                        }
                        (2, 1) => {
                            for (t, v) in seg.iter().enumerate() {
                                dst[(first + t) >> 1] += *v;
                            }
                        }
                        _ => {
                            for (t, v) in seg.iter().enumerate() {
                                dst[(first + t * s) / up] += *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::geometry::{shape, Reading};

    /// Reference patch value by the definition: upsample by repetition, pad (zeros, or
    /// mirrored as PyTorch's ReflectionPad2d: index -j, or 2(len-1)-j), then read.
    fn patch(g: &ConvGeom, x: &[f32], r: usize, p: usize) -> f32 {
        let (c, ki, kj) = (r / (g.k * g.k), (r / g.k) % g.k, r % g.k);
        let (oy, ox) = (p / g.wo, p % g.wo);
        let virt = |q: usize, len: usize| -> Option<usize> {
            let v = (len * g.up) as isize;
            let j = q as isize - g.pad as isize;
            let j = match (j < 0 || j >= v, g.reflect) {
                (false, _) => j,
                (true, false) => return None,
                (true, true) if j < 0 => -j,
                (true, true) => 2 * (v - 1) - j,
            };
            Some(j as usize / g.up)
        };
        match (virt(oy * g.stride + ki, g.h), virt(ox * g.stride + kj, g.w)) {
            (Some(iy), Some(ix)) => x[c * g.in_plane() + iy * g.w + ix],
            _ => 0.0,
        }
    }

    #[test]
    fn im2col_matches_definition_and_col2im_is_its_adjoint() {
        let cases = [
            (7, 9, 3, 1, 1, 1, false),
            (8, 7, 3, 2, 1, 1, false),
            (9, 11, 3, 2, 0, 1, false),
            (6, 5, 5, 1, 4, 1, false),
            (7, 9, 3, 1, 1, 1, true),
            (8, 7, 3, 2, 1, 1, true),
            (6, 7, 9, 1, 4, 1, true),
            (4, 5, 3, 1, 1, 2, true),
            (3, 4, 3, 1, 2, 2, true),
        ];
        for (h, w, k, s, p, up, reflect) in cases {
            let reading = Reading {
                pad: p,
                reflect,
                up,
            };
            let g = ConvGeom::resampled(shape(1, 2, h, w, 1, k), s, reading).unwrap();
            let what = format!("{h}x{w} k{k} s{s} p{p} up{up} reflect {reflect}");
            let x: Vec<f32> = (0..2 * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
            // Odd tile cuts, crossing output rows.
            for (p0, n) in [(0, g.out_plane()), (3, 5), (g.wo - 1, g.wo + 2)] {
                let n = n.min(g.out_plane() - p0);
                let mut col = vec![f32::NAN; g.krows() * n];
                im2col(&g, &x, p0, n, &mut col);
                for r in 0..g.krows() {
                    for i in 0..n {
                        assert_eq!(col[r * n + i], patch(&g, &x, r, p0 + i), "{what}");
                    }
                }
                // <im2col(x), c> == <x, col2im(c)> for a random-ish c.
                let c: Vec<f32> = (0..col.len()).map(|i| (i as f32 * 0.11).cos()).collect();
                let lhs: f64 = col.iter().zip(&c).map(|(a, b)| (*a * *b) as f64).sum();
                let mut dx = vec![0f32; x.len()];
                col2im(&g, &c, 2, p0, n, &mut dx, 0, h);
                let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| (*a * *b) as f64).sum();
                assert!(
                    (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
                    "{what}: {lhs} vs {rhs}"
                );
            }
        }
    }
}
