//! Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2016) for 3x3 stride-1 convs: each 2x2 block of outputs ("tile") is
//! computed from its 4x4 input patch with 16 multiplications per (input, output) channel pair
//! instead of 36, as 16 independent GEMMs `M[ξ] = U[ξ]·V[ξ]` between the kernel and the input
//! in the transformed domain, followed by a cheap inverse transform.
//!
//! The input is read through the geometry's index maps (reflection or zero padding, nearest
//! upsampling), like im2col. Work is split into bands of whole tile rows per image, each band
//! written by one task, so results are identical from run to run.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::geometry::ConvGeom;
use super::matmul::{matmul_raw, Mat};
use super::shared_out::SharedOut;

/// Floats of transformed input (or products) per GEMM block, `16 × channels × tiles`: 1 MiB,
/// which stays in this CPU's 2 MiB L2 beside the GEMM's packed copy (4 MiB blocks ran the 512
/// channel VGG layers 1.4x slower than im2col).
const BLOCK_FLOATS: usize = 1 << 18;

/// Fewest input and output channels for Winograd; thinner convs (none in the networks but
/// VGG's first, with 3 inputs) keep im2col + GEMM, which was not measured against it.
const MIN_CHANNELS: usize = 16;

/// Whether Winograd may run at all (on unless switched off by [`set_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Switches Winograd convolution on or off for the whole process (on by default), so that
/// benchmarks can time both paths on the same layers; results differ by rounding only.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Most (input, output) channel pairs for which Winograd beats im2col + GEMM: above this the
/// transformed kernel (16 floats per pair, 16 MiB at 512 x 512) is streamed from memory once
/// per block of tiles; VGG's 512-channel convs ran 2.1x slower than im2col.
const MAX_CHANNEL_PAIRS: usize = 256 * 256;

/// Fewest output pixels (all images of the batch together) for which Winograd beats im2col +
/// GEMM: 128-channel convs took 1.04x im2col's time on one 32x32 image, 0.76x on four, 0.78x on
/// one 64x64 image (below, the kernel transform and the thin per-block GEMMs dominate).
const MIN_OUTPUT_PIXELS: usize = 64 * 64;

/// Whether [`forward`] computes this conv: 3x3 kernels at stride 1 with enough channels (but
/// not too many) and at least 64x64 output pixels in the batch (measured per layer shape with
/// `examples/conv_methods.rs`).
pub fn applies(g: &ConvGeom) -> bool {
    g.k == 3
        && g.stride == 1
        && g.batch * g.out_plane() >= MIN_OUTPUT_PIXELS
        && g.cin >= MIN_CHANNELS
        && g.cout >= MIN_CHANNELS
        && g.cin * g.cout <= MAX_CHANNEL_PAIRS
        && ENABLED.load(Ordering::Relaxed)
}

/// How the output is cut into tiles and bands, and where each padded virtual row and column
/// of the input comes from.
struct Layout {
    /// Tiles across and down.
    tiles_x: usize,
    tiles_y: usize,
    /// Tile rows per band.
    band: usize,
    /// Stored row (or -1: zero) of each padded virtual row `0..2·tiles_y + 2`.
    rows: Vec<isize>,
    /// Stored column (or -1) of each padded virtual column `0..2·tiles_x + 2`.
    cols: Vec<isize>,
}

impl Layout {
    fn new(g: &ConvGeom) -> Self {
        let (tiles_x, tiles_y) = (g.wo.div_ceil(2), g.ho.div_ceil(2));
        let block_tiles = BLOCK_FLOATS / (16 * g.cin.max(g.cout));
        let band = (block_tiles / tiles_x).clamp(1, tiles_y);
        // Positions past the padded input (odd output sides) read zeros; their outputs are
        // not written.
        let (hp, wp) = (g.ho + 2, g.wo + 2);
        let map = |n: usize, len: usize, src: &dyn Fn(usize) -> Option<usize>| -> Vec<isize> {
            (0..n)
                .map(|q| {
                    if q < len {
                        src(q).map_or(-1, |i| i as isize)
                    } else {
                        -1
                    }
                })
                .collect()
        };
        Self {
            tiles_x,
            tiles_y,
            band,
            rows: map(2 * tiles_y + 2, hp, &|q| g.src_row(q)),
            cols: map(2 * tiles_x + 2, wp, &|q| g.src_col(q)),
        }
    }

    fn bands(&self) -> usize {
        self.tiles_y.div_ceil(self.band)
    }
}

/// `y = conv(x, w)` for a conv that [`applies`]: `x` is `[batch, cin, h, w]`, `wmat` the kernel
/// as `[cout, cin·9]`; returns `[batch, cout, ho, wo]`.
pub fn forward(g: &ConvGeom, x: &[f32], wmat: &[f32]) -> Vec<f32> {
    let u = kernel_transform(g, wmat);
    let lay = Layout::new(g);
    let len = g.batch * g.cout * g.out_plane();
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let out = SharedOut::new(&mut y);
    let in_img = g.cin * g.in_plane();
    let block = lay.band * lay.tiles_x;
    let bands = lay.bands();
    (0..g.batch * bands).into_par_iter().for_each(|task| {
        SCRATCH.with_borrow_mut(|buf| {
            buf.fit(g, &lay, block);
            let (b, band) = (task / bands, task % bands);
            let ty0 = band * lay.band;
            let rows = lay.band.min(lay.tiles_y - ty0);
            let n = rows * lay.tiles_x;
            input_transform(g, &lay, &x[b * in_img..(b + 1) * in_img], ty0, rows, buf);
            let plane = g.cin * n;
            for xi in 0..16 {
                let ui = Mat::rows(
                    &u[xi * g.cout * g.cin..(xi + 1) * g.cout * g.cin],
                    g.cout,
                    g.cin,
                );
                let vi = Mat::rows(&buf.v[xi * plane..xi * plane + plane], g.cin, n);
                let mi = &mut buf.m[xi * g.cout * n..(xi + 1) * g.cout * n];
                // SAFETY: `mi` is this task's own buffer of `cout × n` floats.
                unsafe { matmul_raw(mi.as_mut_ptr(), n, ui, vi, false) };
            }
            // SAFETY: this task writes output rows [2·ty0, 2·(ty0 + rows)) ∩ [0, ho) of every
            // channel of image b, which no other task writes.
            unsafe { output_transform(g, &lay, &buf.m, n, ty0, rows, out.get(), b, &mut buf.out) };
        })
    });
    // SAFETY: the bands cover every output row of every image and channel, and the output
    // transform writes every column of each row it covers.
    unsafe { y.set_len(len) };
    y
}

/// Each task's scratch: the transformed input `V` (`[16][cin][n]`), the products `M`
/// (`[16][cout][n]`), the padded input rows of one channel (even columns, then odd ones), their
/// vertical transform, and the inverse transform's rows.
#[derive(Default)]
struct Buffers {
    v: Vec<f32>,
    m: Vec<f32>,
    rows: Vec<f32>,
    t: Vec<f32>,
    out: Vec<f32>,
}

thread_local! {
    /// Each thread's scratch, kept from one conv to the next: fresh megabyte buffers for every
    /// call cost page faults and zero-filling, which made Winograd 2x slower than im2col on
    /// 32x32 layers.
    static SCRATCH: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl Buffers {
    /// Grows the buffers to what a task of `g` needs (they never shrink).
    fn fit(&mut self, g: &ConvGeom, lay: &Layout, block: usize) {
        let wp = 2 * lay.tiles_x + 2;
        let grow = |v: &mut Vec<f32>, len: usize| {
            if v.len() < len {
                v.resize(len, 0.0);
            }
        };
        grow(&mut self.v, 16 * g.cin * block);
        grow(&mut self.m, 16 * g.cout * block);
        grow(&mut self.rows, (2 * lay.band + 2) * wp);
        grow(&mut self.t, 4 * wp);
        grow(&mut self.out, 14 * lay.tiles_x);
    }
}

/// `U[ξ] = (G·k·Gᵀ)[ξ]` for every (output, input) channel pair, as 16 row-major `[cout, cin]`
/// matrices. G's entries are 0, ½ and 1, so each value is a sum of halved kernel taps: exact
/// but for the sums' rounding. Output channels are spread over the threads.
fn kernel_transform(g: &ConvGeom, wmat: &[f32]) -> Vec<f32> {
    let (co, ci) = (g.cout, g.cin);
    let mut by_channel = vec![0f32; co * ci * 16];
    // G·k for one column (k0, k1, k2) of the kernel: 4 values.
    let gk = |a: f32, b: f32, c: f32| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    by_channel
        .par_chunks_mut(ci * 16)
        .zip(wmat.par_chunks(ci * 9))
        .for_each(|(dst, w)| {
            for (u, k) in dst.chunks_exact_mut(16).zip(w.chunks_exact(9)) {
                // Columns of G·k (4x3), then each row times Gᵀ.
                let cols = [0, 1, 2].map(|s| gk(k[s], k[3 + s], k[6 + s]));
                for i in 0..4 {
                    u[i * 4..i * 4 + 4].copy_from_slice(&gk(cols[0][i], cols[1][i], cols[2][i]));
                }
            }
        });
    // [cout][cin][16] to [16][cout][cin].
    let mut u = vec![0f32; 16 * co * ci];
    u.par_chunks_mut(co * ci).enumerate().for_each(|(xi, dst)| {
        for (d, src) in dst.iter_mut().zip(by_channel.chunks_exact(16)) {
            *d = src[xi];
        }
    });
    u
}

/// Fills `buf.v` with `V[ξ] = (Bᵀ·d·B)[ξ]` of every tile of tile rows `ty0..ty0 + rows` and
/// every input channel, `[16][cin][rows·tiles_x]`. Rows are kept as even columns then odd
/// ones, so that every step below reads and writes contiguous runs (and vectorises).
fn input_transform(
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
fn zip2(dst: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((d, a), b) in dst.iter_mut().zip(a).zip(b) {
        *d = f(*a, *b);
    }
}

/// `dst[i] = f(a[i], b[i], c[i])` over the shortest of the four.
#[inline(always)]
fn zip3(dst: &mut [f32], a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) {
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
unsafe fn output_transform(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::geometry::{shape, Reading};
    use crate::cpu::conv::test_support::{reference, rel, values};

    #[test]
    fn matches_direct_sums_through_every_reading() {
        let reading = |pad, reflect, up| Reading { pad, reflect, up };
        for (s, r) in [
            // Odd and even output sides, several bands, zero and reflection padding,
            // upsampling, and a padding-free conv (the adjoint of a padded one has pad 2).
            (shape(2, 16, 9, 11, 16, 3), reading(1, true, 1)),
            (shape(1, 17, 12, 10, 20, 3), reading(1, false, 1)),
            (shape(1, 16, 5, 7, 18, 3), reading(1, true, 2)),
            (shape(2, 16, 8, 6, 16, 3), reading(0, false, 1)),
            (shape(1, 16, 6, 9, 16, 3), reading(2, false, 1)),
            (shape(1, 16, 40, 70, 16, 3), reading(1, true, 1)),
            (shape(1, 32, 66, 70, 24, 3), reading(1, true, 1)),
        ] {
            // Correct at every size; `applies` only picks where it is faster.
            let g = ConvGeom::resampled(s, 1, r).unwrap();
            let x = values(g.batch * g.cin * g.in_plane(), 0.0);
            let w = values(g.cout * g.krows(), 3.0);
            let err = rel(&forward(&g, &x, &w), &reference(&g, &x, &w));
            // The bound is 1e-5 relative; these measure 2e-7 to 2e-6.
            eprintln!("{:?}: {err:e}", (g.cin, g.h, g.w, g.pad, g.reflect, g.up));
            assert!(err < 1e-5, "{g:?}: {err:e}");
        }
    }

    /// Each output element comes from one task in a fixed order, so a resumed training run
    /// computes what an uninterrupted one did.
    #[test]
    fn results_are_the_same_bits_every_time() {
        let g = ConvGeom::resampled(shape(3, 32, 70, 66, 24, 3), 1, Reading::zero_pad(1)).unwrap();
        assert!(applies(&g) && Layout::new(&g).bands() > 1);
        let x = values(g.batch * g.cin * g.in_plane(), 1.0);
        let w = values(g.cout * g.krows(), 2.0);
        let first = forward(&g, &x, &w);
        for _ in 0..3 {
            assert!(forward(&g, &x, &w) == first);
        }
    }

    #[test]
    fn only_wide_3x3_stride_1_convs_apply() {
        let g = |cin, cout, k, s| ConvGeom::new(shape(1, cin, 64, 64, cout, k), s, 1).unwrap();
        assert!(applies(&g(64, 64, 3, 1)));
        assert!(!applies(&g(3, 64, 3, 1)));
        assert!(!applies(&g(64, 64, 3, 2)));
        assert!(!applies(&g(64, 64, 5, 1)));
        assert!(applies(&g(256, 256, 3, 1)));
        assert!(!applies(&g(512, 512, 3, 1)));
        let sized = |b, side| ConvGeom::new(shape(b, 64, side, side, 64, 3), 1, 1).unwrap();
        assert!(!applies(&sized(1, 32)));
        assert!(applies(&sized(4, 32)));
    }
}
