//! The project's own CPU convolution: unfold + GEMM tiles on rayon's threads for the output
//! and both gradients, used by [`crate::conv::conv2d`] for f32 tensors on the CPU.
//!
//! candle 0.11's CPU conv2d transposes the whole input to NHWC on one thread and unfolds it
//! with scattered writes; its GEMMs ran at 20-60 GFLOP/s on this project's layers against ~180
//! for the same GEMM on well-shaped tiles. Here the unfolding is row-segment copies, every
//! thread runs its own tiles, and each gradient is one product per tile (no kernel gradient
//! for a frozen kernel, no dilated convolution for strided input gradients).
//!
//! A conv with few outputs from many inputs (the transform network's last 9x9 conv, 32 -> 3)
//! is a GEMM of 3 rows, which no kernel runs fast. It is computed through its *dual*: the
//! adjoint conv from the 3-channel side, whose input gradient is this conv's output, whose
//! output is this conv's input gradient, and whose kernel gradient is this conv's, flipped.
//! All of the dual's GEMMs have `cin·k²` or `cout·k²` rows.

mod geometry;
mod kernels;
mod matmul;
mod unfold;

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};

use crate::custom_grad::with_backward;
use geometry::ConvGeom;

/// Which product of the convolution an op computes.
#[derive(Debug, Clone, Copy)]
enum Product {
    /// `(input, kernel) -> output`
    Output,
    /// `(output gradient, kernel) -> input gradient`
    InputGrad,
    /// `(input, output gradient) -> kernel gradient`
    KernelGrad,
}

struct ConvProduct {
    geom: ConvGeom,
    product: Product,
}

/// The f32 data of a contiguous CPU tensor, checked against the expected length.
fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, len: usize, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("fauve cpu conv: {what} must be f32");
    };
    match l.contiguous_offsets() {
        Some((a, b)) if b - a == len => Ok(&v[a..b]),
        Some(_) => candle_core::bail!("fauve cpu conv: {what} has the wrong size"),
        None => candle_core::bail!("fauve cpu conv: {what} must be contiguous"),
    }
}

impl CustomOp2 for ConvProduct {
    fn name(&self) -> &'static str {
        match self.product {
            Product::Output => "fauve-cpu-conv2d",
            Product::InputGrad => "fauve-cpu-conv2d-input-grad",
            Product::KernelGrad => "fauve-cpu-conv2d-kernel-grad",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.geom;
        let input_len = g.batch * g.cin * g.in_plane();
        let output_len = g.batch * g.cout * g.out_plane();
        let kernel_len = g.cout * g.krows();
        let input_shape = Shape::from((g.batch, g.cin, g.h, g.w));
        let output_shape = Shape::from((g.batch, g.cout, g.ho, g.wo));
        let kernel_shape = Shape::from((g.cout, g.cin, g.k, g.k));
        let (values, shape) = match self.product {
            Product::Output => {
                let x = contiguous_f32(s1, l1, input_len, "input")?;
                let w = contiguous_f32(s2, l2, kernel_len, "kernel")?;
                (kernels::forward(g, x, w), output_shape)
            }
            Product::InputGrad => {
                let dy = contiguous_f32(s1, l1, output_len, "output gradient")?;
                let w = contiguous_f32(s2, l2, kernel_len, "kernel")?;
                (kernels::input_grad(g, dy, w), input_shape)
            }
            Product::KernelGrad => {
                let x = contiguous_f32(s1, l1, input_len, "input")?;
                let dy = contiguous_f32(s2, l2, output_len, "output gradient")?;
                (kernels::kernel_grad(g, x, dy), kernel_shape)
            }
        };
        Ok((CpuStorage::F32(values), shape))
    }
}

/// True when [`conv2d`] can run these tensors: f32 on the CPU.
pub fn supports(input: &Tensor, kernel: &Tensor) -> bool {
    input.device().is_cpu() && input.dtype() == DType::F32 && kernel.dtype() == DType::F32
}

fn apply(a: &Tensor, b: &Tensor, geom: ConvGeom, product: Product) -> Result<Tensor> {
    a.contiguous()?
        .apply_op2_no_bwd(&b.contiguous()?, &ConvProduct { geom, product })
}

/// A conv's kernel seen from its dual: flipped in space, inputs and outputs swapped.
fn dual_kernel(kernel: &Tensor) -> Result<Tensor> {
    kernel.flip(&[2, 3])?.transpose(0, 1)?.contiguous()
}

/// `conv2d(input, kernel)` with zero padding and stride (square kernel, no dilation, one
/// group), differentiable with respect to whichever of `input` and `kernel` are tracked.
pub fn conv2d(input: &Tensor, kernel: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let (b, cin, h, w) = input.dims4()?;
    let (cout, kcin, k, kw) = kernel.dims4()?;
    if kcin != cin || kw != k {
        candle_core::bail!(
            "conv2d: kernel {:?} does not fit input {:?}",
            kernel.dims(),
            input.dims()
        );
    }
    let geom = ConvGeom::new(b, cin, h, w, cout, k, stride, padding).ok_or_else(|| {
        candle_core::Error::Msg(format!(
            "conv2d: a {k}x{k} kernel does not fit a {h}x{w} input with padding {padding}"
        ))
    })?;
    let need_input = input.track_op();
    let need_kernel = kernel.track_op();
    let (x, wt) = (input.detach(), kernel.detach());
    let dual = stride == 1 && padding < k && k > 1 && cout * 4 <= cin;
    if dual {
        let d = ConvGeom::new(b, cout, geom.ho, geom.wo, cin, k, 1, k - 1 - padding)
            .expect("the dual of a valid stride-1 conv is valid");
        debug_assert_eq!((d.ho, d.wo), (h, w));
        let v = dual_kernel(&wt)?;
        let out = apply(&x, &v, d, Product::InputGrad)?;
        let backward = Arc::new(move |dy: &Tensor| {
            let gx = if need_input {
                Some(apply(dy, &v, d, Product::Output)?)
            } else {
                None
            };
            let gk = if need_kernel {
                Some(dual_kernel(&apply(dy, &x, d, Product::KernelGrad)?)?)
            } else {
                None
            };
            Ok((gx, gk))
        });
        return with_backward("fauve-cpu-conv2d-dual", input, kernel, out, backward);
    }
    let out = apply(&x, &wt, geom, Product::Output)?;
    let backward = Arc::new(move |dy: &Tensor| {
        let gx = if need_input {
            Some(apply(dy, &wt, geom, Product::InputGrad)?)
        } else {
            None
        };
        let gk = if need_kernel {
            Some(apply(&x, dy, geom, Product::KernelGrad)?)
        } else {
            None
        };
        Ok((gx, gk))
    });
    with_backward("fauve-cpu-conv2d", input, kernel, out, backward)
}
