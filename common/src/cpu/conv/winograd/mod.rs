//! Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2016) for 3x3 stride-1 convs: each 2x2 block of outputs ("tile") is
//! computed from its 4x4 input patch with 16 multiplications per (input, output) channel pair
//! instead of 36, as 16 independent GEMMs `M[ξ] = U[ξ]·V[ξ]` between the kernel and the input
//! in the transformed domain, followed by a cheap inverse transform. The same transforms give
//! the kernel gradient (`kernel_grad.rs`); the input gradient is the forward of the adjoint
//! conv, which the caller sends here when it applies.
//!
//! The input is read through the geometry's index maps (reflection or zero padding, nearest
//! upsampling), like im2col. Work is split into bands of whole tile rows per image, each band
//! written by one task, so results are identical from run to run.

mod kernel_grad;
mod layout;
mod scratch;
mod transforms;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use rayon::prelude::*;

use super::geometry::ConvGeom;
use super::shared_out::SharedOut;
use crate::cpu::matmul::{matmul, Mat};
pub use kernel_grad::kernel_grad;
use layout::Layout;
use scratch::SCRATCH;
use transforms::{input_transform, kernel_transform, output_transform};

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

/// Most (input, output) channel pairs for which Winograd beats im2col + GEMM when the kernel
/// is transformed at every call: VGG's 512-channel convs ran 2.1x slower than im2col, the
/// transform itself taking as long as the GEMMs.
const MAX_CHANNEL_PAIRS: usize = 256 * 256;

/// Fewest output pixels (all images of the batch together) for which Winograd beats im2col +
/// GEMM: 128-channel convs took 1.04x im2col's time on one 32x32 image, 0.76x on four, 0.78x on
/// one 64x64 image (below, the kernel transform and the thin per-block GEMMs dominate).
const MIN_OUTPUT_PIXELS: usize = 64 * 64;

/// [`MIN_OUTPUT_PIXELS`] for a constant kernel whose transform is kept between calls (a
/// frozen VGG's): at batch 4, VGG's conv3_3 took 0.53x im2col's time at 32x32 pixels and 0.75x
/// at 12x12; conv4_3 (512 x 512 channels, no channel limit then) 0.53-0.62x at 16x16 and 0.91x
/// at 12x12; their input gradients 0.59-0.61x, 0.69-0.80x and 0.83x, 1.02x.
const MIN_OUTPUT_PIXELS_KEPT: usize = 32 * 32;

/// Whether [`forward`] and [`kernel_grad`] compute this conv: 3x3 kernels at stride 1 with
/// enough channels (but not too many unless `kernel_kept`, the kernel's transform kept from
/// an earlier call) and enough output pixels in the batch (measured per layer shape with
/// `examples/conv_methods.rs`, forward, `dx` and `dw`).
pub fn applies(g: &ConvGeom, kernel_kept: bool) -> bool {
    let (min_pixels, max_pairs) = if kernel_kept {
        (MIN_OUTPUT_PIXELS_KEPT, usize::MAX)
    } else {
        (MIN_OUTPUT_PIXELS, MAX_CHANNEL_PAIRS)
    };
    g.k == 3
        && g.stride == 1
        && g.batch * g.out_plane() >= min_pixels
        && g.cin >= MIN_CHANNELS
        && g.cout >= MIN_CHANNELS
        && g.cin * g.cout <= max_pairs
        && ENABLED.load(Ordering::Relaxed)
}

/// `y = conv(x, w)` for a conv that [`applies`]: `x` is `[batch, cin, h, w]`, `wmat` the kernel
/// as `[cout, cin·9]`; returns `[batch, cout, ho, wo]`.
/// `cached` keeps the transformed kernel of a constant `wmat` between calls.
pub fn forward(
    g: &ConvGeom,
    x: &[f32],
    wmat: &[f32],
    cached: Option<&OnceLock<Vec<f32>>>,
) -> Vec<f32> {
    let fresh = || {
        let mut u = Vec::new();
        kernel_transform(g, wmat, &mut u);
        u
    };
    if let Some(cell) = cached {
        return forward_with(g, x, cell.get_or_init(fresh));
    }
    KERNEL.with(|cell| match cell.try_borrow_mut() {
        Ok(mut u) => {
            kernel_transform(g, wmat, &mut u);
            forward_with(g, x, &u)
        }
        // Re-entered on this thread (rayon ran another conv here while this one waited).
        Err(_) => forward_with(g, x, &fresh()),
    })
}

/// [`forward`] with the kernel already transformed into `u`.
fn forward_with(g: &ConvGeom, x: &[f32], u: &[f32]) -> Vec<f32> {
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
                matmul(mi, n, ui, vi, false);
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

thread_local! {
    /// The calling thread's transformed kernel buffer, reused from one conv to the next (up to
    /// 4 MiB: without a kept transform, Winograd runs at most 256 x 256 channels).
    static KERNEL: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv::geometry::{shape, Reading};
    use crate::cpu::conv::test_support::{reference, rel, values, winograd_cases};

    #[test]
    fn matches_direct_sums_through_every_reading() {
        for g in winograd_cases() {
            let x = values(g.batch * g.cin * g.in_plane(), 0.0);
            let w = values(g.cout * g.krows(), 3.0);
            let err = rel(&forward(&g, &x, &w, None), &reference(&g, &x, &w));
            // The bound is 1e-5 relative; these measure 2e-7 to 2e-6.
            eprintln!("{:?}: {err:e}", (g.cin, g.h, g.w, g.pad, g.reflect, g.up));
            assert!(err < 1e-5, "{g:?}: {err:e}");
        }
    }

    /// A kept transform gives the same bits as one made for the call, on every call.
    #[test]
    fn a_kept_kernel_transform_gives_the_same_results() {
        let g = ConvGeom::resampled(shape(2, 32, 20, 18, 24, 3), 1, Reading::zero_pad(1)).unwrap();
        let x = values(g.batch * g.cin * g.in_plane(), 1.0);
        let w = values(g.cout * g.krows(), 2.0);
        let kept = OnceLock::new();
        let fresh = forward(&g, &x, &w, None);
        assert!(forward(&g, &x, &w, Some(&kept)) == fresh);
        assert!(kept.get().is_some());
        assert!(forward(&g, &x, &w, Some(&kept)) == fresh);
    }

    /// Each output element comes from one task in a fixed order, so a resumed training run
    /// computes what an uninterrupted one did.
    #[test]
    fn results_are_the_same_bits_every_time() {
        let g = ConvGeom::resampled(shape(3, 32, 70, 66, 24, 3), 1, Reading::zero_pad(1)).unwrap();
        assert!(applies(&g, false) && Layout::new(&g).bands() > 1);
        let x = values(g.batch * g.cin * g.in_plane(), 1.0);
        let w = values(g.cout * g.krows(), 2.0);
        let first = forward(&g, &x, &w, None);
        for _ in 0..3 {
            assert!(forward(&g, &x, &w, None) == first);
        }
    }

    #[test]
    fn only_wide_3x3_stride_1_convs_apply() {
        let g = |cin, cout, k, s| ConvGeom::new(shape(1, cin, 64, 64, cout, k), s, 1).unwrap();
        assert!(applies(&g(64, 64, 3, 1), false));
        assert!(!applies(&g(3, 64, 3, 1), false));
        assert!(!applies(&g(64, 64, 3, 2), false));
        assert!(!applies(&g(64, 64, 5, 1), false));
        assert!(applies(&g(256, 256, 3, 1), false));
        assert!(!applies(&g(512, 512, 3, 1), false));
        // A kept kernel transform: no channel limit, smaller images.
        assert!(applies(&g(512, 512, 3, 1), true));
        let vgg4 = |b, side| ConvGeom::new(shape(b, 512, side, side, 512, 3), 1, 1).unwrap();
        assert!(applies(&vgg4(4, 16), true) && !applies(&vgg4(4, 16), false));
        assert!(!applies(&vgg4(1, 16), true));
        let sized = |b, side| ConvGeom::new(shape(b, 64, side, side, 64, 3), 1, 1).unwrap();
        assert!(!applies(&sized(1, 32), false));
        assert!(applies(&sized(4, 32), false));
    }
}
