//! Winograd F(2x2, 3x3)'s transforms between the spatial and the transformed domain: the
//! kernel's `G·k·Gᵀ`, the input tiles' `Bᵀ·d·B` and the products' `Aᵀ·M·A`, each over
//! contiguous runs so that they vectorise.

use rayon::prelude::*;

use super::layout::Layout;
use super::scratch::Buffers;
use crate::cpu::conv::geometry::ConvGeom;
use crate::cpu::conv::shared_out::SharedOut;

/// Fills `u` with `U[ξ] = (G·k·Gᵀ)[ξ]` for every (output, input) channel pair, as 16 row-major
/// `[cout, cin]` matrices (growing it if needed; a reused buffer costs no page faults). G's
/// entries are 0, ½ and 1, so each value is a sum of halved kernel taps: exact but for the
/// sums' rounding. Output channels are spread over the threads, each writing its row of every
/// `U[ξ]` directly (a `[cout][cin][16]` pass and a transpose after it took 16 ms at 512 x 512
/// channels, as long as the conv's GEMMs).
pub(super) fn kernel_transform(g: &ConvGeom, wmat: &[f32], u: &mut Vec<f32>) {
    let (co, ci) = (g.cout, g.cin);
    let pairs = co * ci;
    if u.len() < 16 * pairs {
        u.resize(16 * pairs, 0.0);
    }
    let out = SharedOut::new(u);
    // G·k for one column (k0, k1, k2) of the kernel: 4 values.
    let gk = |a: f32, b: f32, c: f32| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    wmat.par_chunks(ci * 9).enumerate().for_each(|(o, w)| {
        for (c, k) in w.chunks_exact(9).enumerate() {
            // Columns of G·k (4x3), then each row times Gᵀ.
            let cols = [0, 1, 2].map(|s| gk(k[s], k[3 + s], k[6 + s]));
            let rows = [0, 1, 2, 3].map(|i| gk(cols[0][i], cols[1][i], cols[2][i]));
            for (i, row) in rows.into_iter().enumerate() {
                for (j, v) in row.into_iter().enumerate() {
                    // SAFETY: element (o, c) of U[4i + j], inside `u` (resized above); only
                    // this task writes row o.
                    unsafe { *out.get().add((i * 4 + j) * pairs + o * ci + c) = v };
                }
            }
        }
    });
}

/// Fills `buf.v` with `V[ξ] = (Bᵀ·d·B)[ξ]` of every tile of tile rows `ty0..ty0 + rows` and
/// every input channel, `[16][cin][rows·tiles_x]`. Rows are kept as even columns then odd
/// ones, so that every step below reads and writes contiguous runs (and vectorises).
pub(super) fn input_transform(
    g: &ConvGeom,
    lay: &Layout,
    x: &[f32],
    ty0: usize,
    rows: usize,
    buf: &mut Buffers,
) {
    let (tx_n, wp) = (lay.tiles_x, 2 * lay.tiles_x + 2);
    let half = tx_n + 1;
    let n = rows * tx_n;
    let plane = g.cin * n;
    for c in 0..g.cin {
        let xc = &x[c * g.in_plane()..(c + 1) * g.in_plane()];
        for r in 0..2 * rows + 2 {
            let dst = &mut buf.rows[r * wp..(r + 1) * wp];
            match lay.rows[2 * ty0 + r] {
                -1 => dst.fill(0.0),
                iy => {
                    let src = &xc[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let (even, odd) = dst.split_at_mut(half);
                    gather(even, src, lay.cols.iter().step_by(2));
                    gather(odd, src, lay.cols.iter().skip(1).step_by(2));
                }
            }
        }
        for r in 0..rows {
            let d = &buf.rows[2 * r * wp..(2 * r + 4) * wp];
            let (d0, d1, d2, d3) = (&d[..wp], &d[wp..2 * wp], &d[2 * wp..3 * wp], &d[3 * wp..]);
            let (t01, t23) = buf.t.split_at_mut(2 * wp);
            let (t0, t1) = t01.split_at_mut(wp);
            let (t2, t3) = t23.split_at_mut(wp);
            // Bᵀ·d down each column: d0 - d2, d1 + d2, d2 - d1, d1 - d3.
            zip2(t0, d0, d2, |a, b| a - b);
            zip2(t1, d1, d2, |a, b| a + b);
            zip2(t2, d2, d1, |a, b| a - b);
            zip2(t3, d1, d3, |a, b| a - b);
            // Then ·B along each row; tile x reads columns 2x..2x+3, i.e. e[x], o[x], e[x+1],
            // o[x+1]: e0 - e1, o0 + e1, e1 - o0, o0 - o1.
            let base = c * n + r * tx_n;
            for (i, t) in [&*t0, &*t1, &*t2, &*t3].into_iter().enumerate() {
                let (e, o) = t.split_at(half);
                let parts = [
                    (&e[..tx_n], &e[1..], 1.0),
                    (&o[..tx_n], &e[1..], -1.0),
                    (&e[1..], &o[..tx_n], 1.0),
                    (&o[..tx_n], &o[1..half], 1.0),
                ];
                for (j, (a, b, sign)) in parts.into_iter().enumerate() {
                    let at = (i * 4 + j) * plane + base;
                    zip2(&mut buf.v[at..at + tx_n], a, b, |a, b| a - sign * b);
                }
            }
        }
    }
}

/// `dst[i] = f(a[i], b[i])` over the shortest of the three.
#[inline(always)]
pub(super) fn zip2(dst: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((d, a), b) in dst.iter_mut().zip(a).zip(b) {
        *d = f(*a, *b);
    }
}

/// `dst[i] = f(a[i], b[i], c[i])` over the shortest of the four.
#[inline(always)]
pub(super) fn zip3(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> f32,
) {
    for (((d, a), b), c) in dst.iter_mut().zip(a).zip(b).zip(c) {
        *d = f(*a, *b, *c);
    }
}

/// `dst[q] = src[cols[q]]`, zero where `cols[q]` is -1.
fn gather<'a>(dst: &mut [f32], src: &[f32], cols: impl Iterator<Item = &'a isize>) {
    for (d, &ix) in dst.iter_mut().zip(cols) {
        *d = if ix < 0 { 0.0 } else { src[ix as usize] };
    }
}

/// Writes `Aᵀ·M·A` of every tile and output channel into output rows `2·ty0..` of image `b`.
///
/// # Safety
/// `y` must hold `[batch, cout, ho, wo]` floats, and no other thread may write those rows.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn output_transform(
    g: &ConvGeom,
    lay: &Layout,
    m: &[f32],
    n: usize,
    ty0: usize,
    rows: usize,
    y: *mut f32,
    b: usize,
    scratch: &mut [f32],
) {
    let tx_n = lay.tiles_x;
    let stride = g.cout * n;
    let (s, rest) = scratch.split_at_mut(8 * tx_n);
    let (pair, row) = rest.split_at_mut(4 * tx_n);
    for o in 0..g.cout {
        let chan = y.add((b * g.cout + o) * g.out_plane());
        for r in 0..rows {
            let at = o * n + r * tx_n;
            let v = |xi: usize| &m[xi * stride + at..xi * stride + at + tx_n];
            // Aᵀ down the columns: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (per column j).
            for j in 0..4 {
                let (top, bottom) = s.split_at_mut(4 * tx_n);
                let dst = &mut top[j * tx_n..(j + 1) * tx_n];
                zip3(dst, v(j), v(4 + j), v(8 + j), |a, b, c| a + b + c);
                let dst = &mut bottom[j * tx_n..(j + 1) * tx_n];
                zip3(dst, v(4 + j), v(8 + j), v(12 + j), |a, b, c| a - b - c);
            }
            // Then along the rows: columns 2x and 2x + 1 of each output row.
            for (k, sk) in s.chunks_exact(4 * tx_n).enumerate() {
                let col = |j: usize| &sk[j * tx_n..(j + 1) * tx_n];
                let (even, odd) = pair[2 * k * tx_n..(2 * k + 2) * tx_n].split_at_mut(tx_n);
                zip3(even, col(0), col(1), col(2), |a, b, c| a + b + c);
                zip3(odd, col(1), col(2), col(3), |a, b, c| a - b - c);
            }
            let oy = 2 * (ty0 + r);
            for k in 0..2 {
                if oy + k >= g.ho {
                    break;
                }
                let (even, odd) = pair[2 * k * tx_n..(2 * k + 2) * tx_n].split_at(tx_n);
                for ((dst, e), o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
                    dst[0] = *e;
                    dst[1] = *o;
                }
                std::ptr::copy_nonoverlapping(row.as_ptr(), chan.add((oy + k) * g.wo), g.wo);
            }
        }
    }
}
