//! The project's own CPU convolution: unfold + GEMM tiles on rayon's threads for the output
//! and both gradients, with the bias and an optional ReLU applied in the same op. Used by
//! [`crate::ops::conv`] for f32 tensors on the CPU.
//!
//! candle 0.11's CPU conv2d transposes the whole input to NHWC on one thread and unfolds it
//! with scattered writes; its GEMMs ran at 20-60 GFLOP/s on this project's layers against
//! 150-170 for the same GEMMs on well-shaped tiles. Here the unfolding is row-segment copies,
//! every thread runs its own tiles, and each gradient is one product per tile (no kernel
//! gradient for a frozen kernel, no dilated convolution for strided input gradients). Bias and
//! ReLU ride along because in candle's backward every extra op costs a zero-filled gradient
//! buffer and an addition over the whole activation.
//!
//! A conv with few outputs from many inputs (the transform network's last 9x9 conv, 32 -> 3)
//! is a GEMM of 3 rows, which no kernel runs fast. It is computed through its *dual*: the
//! adjoint conv from the 3-channel side, whose input gradient is this conv's output, whose
//! output is this conv's input gradient, and whose kernel gradient is this conv's, flipped.
//! All of the dual's GEMMs have `cin·k²` or `cout·k²` rows.
//!
//! Other stride-1 convs take their input gradient the same way, as the adjoint conv's forward
//! (then folded through the reflection and upsampling maps where the conv reads through them):
//! unfold + GEMM straight into the result, instead of folding GEMM columns back with
//! accumulation (col2im), which the strided convs still do.

mod epilogue;
mod frozen;
mod geometry;
mod kernels;
mod partial_sums;
mod shared_out;
#[cfg(test)]
mod test_support;
mod tile_plan;
mod unfold;
mod winograd;

use std::sync::{Arc, OnceLock};

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::cpu::slice::with_cpu_f32;
use crate::custom_grad::cpu_with_backward;
pub use frozen::FrozenKernel;
pub(crate) use geometry::few_outputs;
pub use geometry::Reading;
use geometry::{ConvGeom, ConvShape};
pub use winograd::set_enabled as set_winograd;

/// Which product of the convolution to compute.
#[derive(Debug, Clone, Copy)]
enum Product {
    /// `(input, kernel) -> output`
    Output,
    /// `(output gradient, kernel) -> input gradient`
    InputGrad,
    /// `(input, output gradient) -> kernel gradient`
    KernelGrad,
}

/// Computes `product` of the conv `g` from CPU f32 tensors `a` and `b` (see [`Product`]).
/// `winograd`: where the Winograd transform of a constant kernel `b` is kept (forward only).
fn run(
    g: &ConvGeom,
    product: Product,
    a: &Tensor,
    b: &Tensor,
    winograd: Option<&OnceLock<Vec<f32>>>,
) -> Result<Vec<f32>> {
    let input_len = g.batch * g.cin * g.in_plane();
    let output_len = g.batch * g.cout * g.out_plane();
    let kernel_len = g.cout * g.krows();
    let (a_len, b_len) = match product {
        Product::Output => (input_len, kernel_len),
        Product::InputGrad => (output_len, kernel_len),
        Product::KernelGrad => (input_len, output_len),
    };
    if a.elem_count() != a_len || b.elem_count() != b_len {
        candle_core::bail!(
            "fauve cpu conv: operands {:?} and {:?} do not fit {g:?}",
            a.dims(),
            b.dims()
        );
    }
    with_cpu_f32(a, |a| {
        with_cpu_f32(b, |b| match product {
            Product::Output => kernels::forward(g, a, b, winograd),
            Product::InputGrad => kernels::input_grad(g, a, b),
            Product::KernelGrad => kernels::kernel_grad(g, a, b),
        })
    })?
}

fn cpu_tensor(values: Vec<f32>, dims: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(values, dims, &Device::Cpu)
}

/// A conv's kernel seen from its dual: flipped in space, inputs and outputs swapped
/// (`[cout, cin, k, k]` to `[cin, cout, k, k]`). One pass over the values: candle's `flip`
/// and `transpose` copies took 20% of VGG16's forward when every conv needed this.
fn dual_kernel(kernel: &Tensor) -> Result<Tensor> {
    let (cout, cin, k, _) = kernel.dims4()?;
    let kk = k * k;
    let values = with_cpu_f32(kernel, |w| {
        let mut out = vec![0f32; w.len()];
        out.par_chunks_mut(cout * kk)
            .enumerate()
            .for_each(|(c, dst)| {
                for o in 0..cout {
                    let src = &w[(o * cin + c) * kk..(o * cin + c + 1) * kk];
                    for (d, v) in dst[o * kk..(o + 1) * kk].iter_mut().zip(src.iter().rev()) {
                        *d = *v;
                    }
                }
            });
        out
    })?;
    cpu_tensor(values, &[cin, cout, k, k])
}

/// [`dual_kernel`], kept in `frozen` when the kernel is constant.
fn cached_dual(frozen: Option<&FrozenKernel>, kernel: &Tensor) -> Result<Tensor> {
    let Some(f) = frozen else {
        return dual_kernel(kernel);
    };
    if let Some(d) = f.dual.get() {
        return Ok(d.clone());
    }
    let d = dual_kernel(kernel)?;
    Ok(f.dual.get_or_init(|| d).clone())
}

/// The stored row and column that each row and column of `g`'s virtual (upsampled, padded)
/// input reads; zero padding reads index 0 (the callers pass mirrored geometries, which have
/// none).
fn virtual_maps(g: &ConvGeom) -> (Vec<u32>, Vec<u32>) {
    let index = |q: Option<usize>| q.map_or(0, |i| i as u32);
    let rows = (0..g.h * g.up + 2 * g.pad)
        .map(|q| index(g.src_row(q)))
        .collect();
    let cols = (0..g.wv() + 2 * g.pad)
        .map(|q| index(g.src_col(q)))
        .collect();
    (rows, cols)
}

/// The geometry of `conv2d(read(input), kernel)`, with errors for operands that do not fit.
fn geometry(
    input: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    reading: Reading,
    stride: usize,
) -> Result<ConvGeom> {
    let (batch, cin, h, w) = input.dims4()?;
    let (cout, kcin, k, kw) = kernel.dims4()?;
    if kcin != cin || kw != k {
        candle_core::bail!(
            "conv2d: kernel {:?} does not fit input {:?}",
            kernel.dims(),
            input.dims()
        );
    }
    if bias.is_some_and(|t| t.dims() != [cout]) {
        candle_core::bail!("conv2d: bias must have shape [{cout}]");
    }
    let shape = ConvShape {
        batch,
        cin,
        h,
        w,
        cout,
        k,
    };
    ConvGeom::resampled(shape, stride, reading).ok_or_else(|| {
        let Reading { pad, reflect, up } = reading;
        candle_core::Error::Msg(format!(
            "conv2d: a {k}x{k} kernel does not fit a {h}x{w} input upsampled {up}x with \
             {} padding {pad} (reflection padding needs sides longer than the padding)",
            if reflect { "reflection" } else { "zero" }
        ))
    })
}

/// How one conv call is computed: directly or through its dual (few outputs), and how its
/// input gradient is taken (the adjoint's forward, folded through the index maps, or the
/// fold-back of the direct path).
struct Plan {
    geom: ConvGeom,
    /// The dual's geometry, when the conv runs through it.
    dual: Option<ConvGeom>,
    dual_weights: Option<Tensor>,
    /// Stride-1 convs take their input gradient as the forward conv of their adjoint (unfold +
    /// GEMM straight into the result; the fold-back path accumulates per-task bands and adds
    /// them up after). With reflection padding or upsampling the adjoint yields the gradient
    /// of the virtual (upsampled, padded) input, which is then folded onto the stored pixels.
    /// For a conv run through its dual this is the dual's geometry (it has neither).
    adjoint: Option<ConvGeom>,
    fold_maps: Option<(Vec<u32>, Vec<u32>)>,
    /// What is kept of a constant kernel between calls (None for a tracked one).
    frozen: Option<Arc<FrozenKernel>>,
}

impl Plan {
    /// `few_outputs`: [`few_outputs`] of this conv, which the caller has
    /// already decided on.
    fn new(
        geom: ConvGeom,
        kernel: &Tensor,
        few_outputs: bool,
        need_input: bool,
        frozen: Option<Arc<FrozenKernel>>,
    ) -> Result<Self> {
        let ConvGeom {
            k, pad, stride, up, ..
        } = geom;
        let dual = (few_outputs && pad < k)
            .then(|| ConvGeom::new(geom.adjoint_shape(), 1, k - 1 - pad))
            .flatten();
        let dual_weights = dual
            .map(|_| cached_dual(frozen.as_deref(), kernel))
            .transpose()?;
        // A conv from few inputs (VGG's first, 3 -> 64) keeps the fold-back: its adjoint would be
        // a GEMM of 3 rows over a 576-row unfolding.
        let thin_adjoint = geometry::few_outputs(geom.cout, geom.cin, k, 1);
        let adjoint =
            (need_input && stride == 1 && pad < k && (geom.reflect || up == 1) && !thin_adjoint)
                .then(|| {
                    let full_pad = if geom.reflect { k - 1 } else { k - 1 - pad };
                    ConvGeom::new(geom.adjoint_shape(), 1, full_pad)
                })
                .flatten();
        let fold_maps = (adjoint.is_some() && geom.reflect).then(|| virtual_maps(&geom));
        Ok(Self {
            geom,
            dual,
            dual_weights,
            adjoint,
            fold_maps,
            frozen,
        })
    }

    /// The conv's output values, `bias` added and then ReLU applied when `relu`.
    fn forward(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        bias: Option<&[f32]>,
        relu: bool,
    ) -> Result<Vec<f32>> {
        let mut y = match (&self.dual, &self.dual_weights) {
            (Some(d), Some(v)) => run(d, Product::InputGrad, x, v, None)?,
            _ => {
                let u = self.frozen.as_ref().map(|f| &f.winograd);
                run(&self.geom, Product::Output, x, kernel, u)?
            }
        };
        epilogue::bias_relu(&mut y, self.geom.out_plane(), bias, relu);
        Ok(y)
    }

    /// The input gradient for output gradient `g` (ReLU already applied).
    fn input_grad(&self, g: &Tensor, kernel: &Tensor) -> Result<Tensor> {
        let ConvGeom {
            batch, cin, h, w, ..
        } = self.geom;
        cpu_tensor(self.input_grad_values(g, kernel)?, &[batch, cin, h, w])
    }

    /// [`Self::input_grad`]'s values.
    fn input_grad_values(&self, g: &Tensor, kernel: &Tensor) -> Result<Vec<f32>> {
        let ConvGeom { h, w, .. } = self.geom;
        Ok(match &self.adjoint {
            Some(d) => {
                let weights = match &self.dual_weights {
                    Some(v) => v.clone(),
                    None => cached_dual(self.frozen.as_deref(), kernel)?,
                };
                let u = self.frozen.as_ref().map(|f| &f.dual_winograd);
                let virtual_grad = run(d, Product::Output, g, &weights, u)?;
                match &self.fold_maps {
                    Some((rows, cols)) => crate::cpu::gather::fold(&virtual_grad, h, w, rows, cols),
                    None => virtual_grad,
                }
            }
            None => run(&self.geom, Product::InputGrad, g, kernel, None)?,
        })
    }

    /// The kernel gradient for output gradient `g` and input `x`.
    fn kernel_grad(&self, g: &Tensor, x: &Tensor) -> Result<Tensor> {
        let ConvGeom { cin, cout, k, .. } = self.geom;
        match &self.dual {
            Some(d) => {
                let dv = cpu_tensor(run(d, Product::KernelGrad, g, x, None)?, &[cin, cout, k, k])?;
                dual_kernel(&dv)
            }
            None => cpu_tensor(
                run(&self.geom, Product::KernelGrad, x, g, None)?,
                &[cout, cin, k, k],
            ),
        }
    }
}

/// The operand that carries the parameter gradients into the graph: kernel and bias
/// concatenated when both are tracked (cat's backward splits the gradient again), else
/// whichever one is; the input itself when neither is (its second gradient is then None).
fn parameter_operand(
    input: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    need_kernel: bool,
    need_bias: bool,
) -> Result<Tensor> {
    Ok(match bias {
        Some(bias) if need_kernel && need_bias => {
            Tensor::cat(&[kernel.flatten_all()?, bias.clone()], 0)?
        }
        Some(bias) if need_bias => bias.clone(),
        _ if need_kernel => kernel.clone(),
        _ => input.clone(),
    })
}

/// `conv2d(read(input), kernel) + bias`, then ReLU when `relu`, with stride (square kernel, no
/// dilation, one group); differentiable with respect to whichever of `input`, `kernel` and
/// `bias` are tracked, computing only those gradients. `frozen` keeps what is derived from a
/// constant kernel between calls (see [`FrozenKernel`]).
pub fn conv2d(
    input: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    reading: Reading,
    stride: usize,
    relu: bool,
    frozen: Option<&Arc<FrozenKernel>>,
) -> Result<Tensor> {
    let geom = geometry(input, kernel, bias, reading, stride)?;
    let few_outputs = geometry::few_outputs(geom.cin, geom.cout, geom.k, stride);
    if few_outputs && (reading.reflect || reading.up > 1) {
        // The dual reads through no index maps: materialise the upsampled, mirrored input.
        let read_pad = if reading.reflect { reading.pad } else { 0 };
        let read = Reading {
            pad: read_pad,
            ..reading
        };
        let g = ConvGeom::resampled(geom.shape(), stride, read)
            .expect("a smaller padding of a valid geometry is valid");
        let (rows, cols) = virtual_maps(&g);
        let xs = crate::cpu::gather::gather_planes(input, rows, cols)?;
        let rest = Reading::zero_pad(reading.pad - read_pad);
        return conv2d(&xs, kernel, bias, rest, stride, relu, frozen);
    }
    let out_dims = [geom.batch, geom.cout, geom.ho, geom.wo];
    let need_input = input.track_op();
    let need_kernel = kernel.track_op();
    let need_bias = bias.is_some_and(|t| t.track_op());
    let (x, wt) = (input.detach(), kernel.detach());
    let bias_values = bias.map(|t| t.detach().to_vec1::<f32>()).transpose()?;

    let frozen = frozen.filter(|_| !need_kernel).cloned();
    let plan = Plan::new(geom, &wt, few_outputs, need_input, frozen)?;
    let y = plan.forward(&x, &wt, bias_values.as_deref(), relu)?;
    if !need_input && !need_kernel && !need_bias {
        return cpu_tensor(y, &out_dims);
    }

    let backward = Arc::new(move |y: &Tensor, dy: &Tensor| {
        let (masked, bias_grad) = with_cpu_f32(dy, |dy| {
            with_cpu_f32(y, |yv| {
                epilogue::mask_and_bias_grad(dy, yv, geom.out_plane(), geom.cout, relu, need_bias)
            })
        })??;
        let g = match masked {
            Some(values) => cpu_tensor(values, &out_dims)?,
            None => dy.contiguous()?,
        };
        let gx = need_input.then(|| plan.input_grad(&g, &wt)).transpose()?;
        let gk = need_kernel.then(|| plan.kernel_grad(&g, &x)).transpose()?;
        let gb = bias_grad
            .map(|gb| cpu_tensor(gb, &[geom.cout]))
            .transpose()?;
        // The gradient of the parameter operand: kernel and bias concatenated, or the tracked
        // one.
        let gp = match (gk, gb) {
            (Some(gk), Some(gb)) => Some(Tensor::cat(&[gk.flatten_all()?, gb], 0)?),
            (gk, gb) => gk.or(gb),
        };
        Ok((gx, gp))
    });
    let params = parameter_operand(input, kernel, bias, need_kernel, need_bias)?;
    cpu_with_backward("fauve-cpu-conv2d", input, &params, y, &out_dims, backward)
}

/// One `relu(conv2d(zero_pad(input), kernel) + bias)` of a frozen network (stride 1), run
/// outside the autograd graph, with what its input gradient needs. For a network whose whole
/// backward is one op ([`crate::model::loss_network`]): through candle's backward every layer's
/// input gradient costs a zero-filled buffer and an addition over the activation.
pub struct UntrackedReluConv {
    plan: Plan,
    kernel: Tensor,
    output: Tensor,
}

impl UntrackedReluConv {
    /// Runs the conv on `input` (its tracking is ignored). `frozen`: as in [`conv2d`].
    pub fn run(
        input: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        pad: usize,
        frozen: &Arc<FrozenKernel>,
    ) -> Result<Self> {
        let geom = geometry(input, kernel, Some(bias), Reading::zero_pad(pad), 1)?;
        let few_outputs = geometry::few_outputs(geom.cin, geom.cout, geom.k, 1);
        let (x, kernel) = (input.detach(), kernel.detach());
        let plan = Plan::new(geom, &kernel, few_outputs, true, Some(frozen.clone()))?;
        let bias = bias.detach().to_vec1::<f32>()?;
        let y = plan.forward(&x, &kernel, Some(&bias), true)?;
        let output = cpu_tensor(y, &[geom.batch, geom.cout, geom.ho, geom.wo])?;
        Ok(Self {
            plan,
            kernel,
            output,
        })
    }

    /// The activation (after the ReLU).
    pub fn output(&self) -> &Tensor {
        &self.output
    }

    /// The input's gradient (`[B, Cin, H, W]` values) for the activation's gradient `dy`
    /// (values in the activation's layout).
    pub fn input_grad(&self, dy: &[f32]) -> Result<Vec<f32>> {
        let g = &self.plan.geom;
        let masked = with_cpu_f32(&self.output, |y| {
            epilogue::mask_and_bias_grad(dy, y, g.out_plane(), g.cout, true, false).0
        })?;
        let masked = masked.ok_or_else(|| candle_core::Error::Msg("ReLU mask missing".into()))?;
        let masked = cpu_tensor(masked, self.output.dims())?;
        self.plan.input_grad_values(&masked, &self.kernel)
    }
}
