//! Unfolding input patches into GEMM columns (im2col) and folding columns back onto the
//! input with accumulation (col2im), one tile of output pixels at a time.
//!
//! A column matrix has one row per (input channel, kernel row, kernel column) and one column per
//! output pixel of the tile. Each row is filled row-segment by row-segment of the image, so with
//! stride 1 every segment is a single `memcpy` (or a single vectorised add).

use super::geometry::ConvGeom;

/// The output positions `t` in `0..cnt` (pixels `ox0 + t` of one output row) whose virtual
/// column `(ox0 + t)·stride + kj − pad` lies inside the upsampled input (not in the padding),
/// as `[lo, hi)`.
fn valid_span(g: &ConvGeom, ox0: usize, cnt: usize, kj: usize) -> (usize, usize) {
    let s = g.stride as isize;
    let first = g.pad as isize - kj as isize; // need (ox0 + t)·s >= first
    let lo = if first <= 0 {
        0
    } else {
        ((first + s - 1) / s - ox0 as isize).max(0)
    };
    let limit = (g.wv() + g.pad) as isize - kj as isize; // need (ox0 + t)·s < limit
    let hi = if limit <= 0 {
        0
    } else {
        (limit - 1) / s - ox0 as isize + 1
    };
    let lo = (lo as usize).min(cnt);
    let hi = hi.clamp(lo as isize, cnt as isize) as usize;
    (lo, hi)
}

/// Calls `f(segment_start, oy, ox0, cnt)` for each output row crossed by pixels `[p0, p0+n)`.
fn for_each_row_segment(
    g: &ConvGeom,
    p0: usize,
    n: usize,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    let mut i = 0;
    while i < n {
        let p = p0 + i;
        let (oy, ox0) = (p / g.wo, p % g.wo);
        let cnt = (g.wo - ox0).min(n - i);
        f(i, oy, ox0, cnt);
        i += cnt;
    }
}

/// Stored input row of kernel row `ki` for output row `oy`; None in zero padding.
fn input_row(g: &ConvGeom, oy: usize, ki: usize) -> Option<usize> {
    g.src_row(oy * g.stride + ki)
}

/// Fills `col` (`krows × n`, row-major) with the patches of output pixels `[p0, p0+n)` of one
/// image `x` (`[cin, h, w]`), read through the geometry's upsampling and padding.
pub fn im2col(g: &ConvGeom, x: &[f32], p0: usize, n: usize, col: &mut [f32]) {
    let (k, s, up, plane) = (g.k, g.stride, g.up, g.in_plane());
    for c in 0..g.cin {
        let xc = &x[c * plane..(c + 1) * plane];
        for ki in 0..k {
            for kj in 0..k {
                let r = (c * k + ki) * k + kj;
                let dst = &mut col[r * n..(r + 1) * n];
                for_each_row_segment(g, p0, n, |i, oy, ox0, cnt| {
                    let seg = &mut dst[i..i + cnt];
                    let Some(iy) = input_row(g, oy, ki) else {
                        seg.fill(0.0);
                        return;
                    };
                    let src = &xc[iy * g.w..(iy + 1) * g.w];
                    let (lo, hi) = valid_span(g, ox0, cnt, kj);
                    for t in (0..lo).chain(hi..cnt) {
                        seg[t] = g.src_col((ox0 + t) * s + kj).map_or(0.0, |c| src[c]);
                    }
                    if lo == hi {
                        return;
                    }
                    let first = (ox0 + lo) * s + kj - g.pad; // virtual column
                    let seg = &mut seg[lo..hi];
                    match (up, s) {
                        (1, 1) => seg.copy_from_slice(&src[first..first + seg.len()]),
                        (1, _) => {
                            for (d, v) in seg.iter_mut().zip(src[first..].iter().step_by(s)) {
                                *d = *v;
                            }
                        }
                        (2, 1) => upsample2_row(seg, src, first),
                        _ => {
                            for (t, d) in seg.iter_mut().enumerate() {
                                *d = src[(first + t * s) / up];
                            }
                        }
                    }
                });
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
    let (k, s, up) = (g.k, g.stride, g.up);
    for c in 0..nc {
        let dxc = &mut dx[c * rows * g.w..(c + 1) * rows * g.w];
        for ki in 0..k {
            for kj in 0..k {
                let r = (c * k + ki) * k + kj;
                let src = &col[r * n..(r + 1) * n];
                for_each_row_segment(g, p0, n, |i, oy, ox0, cnt| {
                    let Some(iy) = input_row(g, oy, ki) else {
                        return;
                    };
                    let local = iy - row0;
                    let dst = &mut dxc[local * g.w..(local + 1) * g.w];
                    let src = &src[i..i + cnt];
                    let (lo, hi) = valid_span(g, ox0, cnt, kj);
                    for t in (0..lo).chain(hi..cnt) {
                        if let Some(c) = g.src_col((ox0 + t) * s + kj) {
                            dst[c] += src[t];
                        }
                    }
                    if lo == hi {
                        return;
                    }
                    let first = (ox0 + lo) * s + kj - g.pad;
                    let seg = &src[lo..hi];
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
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let g = ConvGeom::resampled(1, 2, h, w, 1, k, s, p, up, reflect).unwrap();
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
