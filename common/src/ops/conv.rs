//! 2-D convolution whose backward pass computes only the gradients that are needed, and
//! computes the input gradient with a forward conv (im2col + GEMM) instead of candle's CPU
//! `conv_transpose2d`, which is a plain loop.
//!
//! candle's own conv2d backward always computes both gradients: the kernel gradient of the
//! frozen VGG (a third of a training step's arithmetic, thrown away) and the input gradient
//! of the first layer, whose input is data. Here the forward runs as a plain candle conv2d
//! outside the graph, and [`with_backward`] re-attaches it to its inputs with the selective
//! backward.

use std::sync::Arc;

use candle_core::{Result, Tensor};

pub use crate::cpu::conv::FrozenKernel;
use crate::custom_grad::with_backward;

/// How the conv is computed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    /// candle's conv2d (im2col + GEMM): good when the input has few channels or they match.
    Im2col,
    /// One GEMM to `Cout·k²` channels, then `k²` shifted adds: for many inputs and few outputs
    /// (the last 9x9 conv, 32 -> 3), where im2col builds a huge matrix for a 3-column GEMM.
    ShiftAdd,
}

/// The selective backward of one conv call.
struct SelectiveConvGrad {
    stride: usize,
    padding: usize,
    need_input: bool,
    need_kernel: bool,
    method: Method,
}

/// `[Cout, Cin, k, k]` to `[Cout·k², Cin]`, rows ordered (o, ki, kj).
fn kernel_rows(kernel: &Tensor) -> Result<Tensor> {
    let (cout, cin, k, _) = kernel.dims4()?;
    kernel.permute((0, 2, 3, 1))?.reshape((cout * k * k, cin))
}

/// Forward of [`Method::ShiftAdd`] (stride 1, no padding): `z = W'·x`, then
/// `y[o, i, j] = Σ z[(o, ki, kj), i + ki, j + kj]`; one kernel row at a time, so that `z` holds
/// `Cout·k` channels rather than `Cout·k²` (a 1080p frame would need 2 GB otherwise).
fn shift_add_forward(input: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    let (b, cin, h, w) = input.dims4()?;
    let (cout, _, k, _) = kernel.dims4()?;
    let (ho, wo) = (h + 1 - k, w + 1 - k);
    let flat = input.reshape((b, cin, h * w))?;
    let mut out: Option<Tensor> = None;
    for ki in 0..k {
        // [Cout, Cin, k] -> [Cout·k, Cin], rows ordered (o, kj).
        let rows = kernel
            .narrow(2, ki, 1)?
            .squeeze(2)?
            .permute((0, 2, 1))?
            .reshape((cout * k, cin))?;
        let z = rows.broadcast_matmul(&flat)?.reshape((b, cout, k, h, w))?;
        for kj in 0..k {
            let part = z.narrow(2, kj, 1)?.narrow(3, ki, ho)?.narrow(4, kj, wo)?;
            out = Some(match out {
                Some(o) => (o + part)?,
                None => part.contiguous()?,
            });
        }
    }
    out.expect("kernel has at least one tap")
        .reshape((b, cout, ho, wo))
}

/// Inserts `stride - 1` zeros after each element along `dim` (none after the last).
fn dilate_dim(xs: &Tensor, dim: usize, stride: usize) -> Result<Tensor> {
    let len = xs.dim(dim)?;
    let zeros = xs.zeros_like()?.unsqueeze(dim + 1)?;
    let mut parts = vec![xs.unsqueeze(dim + 1)?];
    parts.extend(std::iter::repeat_n(zeros, stride - 1));
    let mut dims = xs.dims().to_vec();
    dims[dim] = len * stride;
    Tensor::cat(&parts, dim + 1)?
        .reshape(dims)?
        .narrow(dim, 0, (len - 1) * stride + 1)
}

/// Inserts `stride - 1` zeros between neighbouring pixels: `[B, C, H, W]` to
/// `[B, C, (H-1)·s+1, (W-1)·s+1]`.
fn dilate(xs: &Tensor, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return Ok(xs.clone());
    }
    dilate_dim(&dilate_dim(xs, 3, stride)?, 2, stride)
}

impl SelectiveConvGrad {
    /// Gradient of the input: a full correlation of the output gradient, dilated by the stride
    /// and extended by the rows and columns the striding left unvisited, with the flipped,
    /// transposed kernel.
    fn input_grad(&self, input: &Tensor, kernel: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let (_, _, in_h, in_w) = input.dims4()?;
        let (_, _, out_h, out_w) = grad.dims4()?;
        let k = kernel.dim(2)?;
        let (p, s) = (self.padding, self.stride);
        let rest_h = in_h + 2 * p - k - (out_h - 1) * s;
        let rest_w = in_w + 2 * p - k - (out_w - 1) * s;
        let flipped = kernel.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
        let g = dilate(grad, s)?
            .pad_with_zeros(2, 0, rest_h)?
            .pad_with_zeros(3, 0, rest_w)?;
        g.conv2d(&flipped, k - 1 - p, 1, 1, 1)
    }

    /// Gradient of the kernel: the input correlated with the output gradient, batch and
    /// channels swapped (as in candle's own backward; an unfolded-input GEMM measured slower).
    fn kernel_grad(&self, input: &Tensor, kernel: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let (_, _, kh, kw) = kernel.dims4()?;
        let gk = input
            .transpose(0, 1)?
            .conv2d(&grad.transpose(0, 1)?, self.padding, 1, self.stride, 1)?
            .transpose(0, 1)?;
        let (_, _, gh, gw) = gk.dims4()?;
        if gh != kh || gw != kw {
            gk.narrow(2, 0, kh)?.narrow(3, 0, kw)
        } else {
            Ok(gk)
        }
    }

    /// Backward of [`Method::ShiftAdd`]: the gradient of `z` is the output gradient placed at
    /// each of the k² shifts; both gradients are then single GEMMs.
    fn shift_add_grads(
        &self,
        input: &Tensor,
        kernel: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, cin, h, w) = input.dims4()?;
        let (cout, _, k, _) = kernel.dims4()?;
        let mut shifted = Vec::with_capacity(k * k);
        for ki in 0..k {
            for kj in 0..k {
                shifted.push(grad.pad_with_zeros(2, ki, k - 1 - ki)?.pad_with_zeros(
                    3,
                    kj,
                    k - 1 - kj,
                )?);
            }
        }
        // [B, Cout, k², H, W] -> [B, Cout·k², H·W], rows ordered (o, ki, kj) like W'.
        let gz = Tensor::stack(&shifted, 2)?.reshape((b, cout * k * k, h * w))?;
        let gx = if self.need_input {
            let rows_t = kernel_rows(kernel)?.t()?.contiguous()?;
            Some(rows_t.broadcast_matmul(&gz)?.reshape((b, cin, h, w))?)
        } else {
            None
        };
        let gk = if self.need_kernel {
            let x_t = input.reshape((b, cin, h * w))?.transpose(1, 2)?;
            let g_rows = gz.matmul(&x_t.contiguous()?)?.sum(0)?; // [Cout·k², Cin]
            Some(
                g_rows
                    .reshape((cout, k, k, cin))?
                    .permute((0, 3, 1, 2))?
                    .contiguous()?,
            )
        } else {
            None
        };
        Ok((gx, gk))
    }

    /// The gradients of input and kernel (None where not needed) for output gradient `grad`.
    fn grads(
        &self,
        input: &Tensor,
        kernel: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        if self.method == Method::ShiftAdd {
            return self.shift_add_grads(input, kernel, grad);
        }
        let gx = if self.need_input {
            Some(self.input_grad(input, kernel, grad)?)
        } else {
            None
        };
        let gk = if self.need_kernel {
            Some(self.kernel_grad(input, kernel, grad)?)
        } else {
            None
        };
        Ok((gx, gk))
    }
}

/// `conv2d(input, kernel)` with zero padding `padding` and stride `stride` (no dilation, one
/// group), differentiable with respect to whichever of `input` and `kernel` are tracked:
/// nothing is computed for a constant kernel (the frozen VGG) or a data input.
///
/// f32 on the CPU runs the project's own kernels ([`crate::cpu::conv`]); with the `cudnn`
/// feature, f32 and bf16 on CUDA call cuDNN directly (`crate::cuda::cudnn_conv`); other devices
/// and dtypes run candle's conv2d forward with the selective backward below.
pub fn conv2d(input: &Tensor, kernel: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let _timing = crate::profile::scope("conv2d", crate::profile::Phase::Forward, input.device());
    if crate::ops::cpu_kernels_apply(&[input, kernel]) {
        let reading = crate::cpu::conv::Reading::zero_pad(padding);
        return crate::cpu::conv::conv2d(input, kernel, None, reading, stride, false, None);
    }
    #[cfg(feature = "cudnn")]
    if crate::cuda::cudnn_conv::applies(input, kernel) {
        return crate::cuda::cudnn_conv::conv2d(input, kernel, padding, stride);
    }
    let need_input = input.track_op();
    let need_kernel = kernel.track_op();
    let (cout, cin, k, _) = kernel.dims4()?;
    let method = if padding == 0 && crate::cpu::conv::few_outputs(cin, cout, k, stride) {
        Method::ShiftAdd
    } else {
        Method::Im2col
    };
    let (x, w) = (input.detach(), kernel.detach());
    let out = match method {
        Method::Im2col => x.conv2d(&w, padding, stride, 1, 1)?,
        Method::ShiftAdd => shift_add_forward(&x, &w)?,
    }
    .contiguous()?;
    if !need_input && !need_kernel {
        return Ok(out);
    }
    let op = SelectiveConvGrad {
        stride,
        padding,
        need_input,
        need_kernel,
        method,
    };
    // The backward sees detached copies: its results must carry no op history.
    let backward = Arc::new(move |grad: &Tensor| op.grads(&x, &w, grad));
    with_backward("fauve-selective-conv2d", input, kernel, out, backward)
}

/// `conv2d(input, kernel, padding, stride) + bias` (per output channel), then ReLU when
/// `relu`. On the CPU in f32 one op with one backward (each op in candle's backward costs a
/// zero-filled buffer and an addition over the activation); elsewhere candle ops.
pub fn conv2d_bias(
    input: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    padding: usize,
    stride: usize,
    relu: bool,
) -> Result<Tensor> {
    conv2d_bias_frozen(input, kernel, bias, padding, stride, relu, None)
}

/// [`conv2d_bias`] with a constant `kernel` (a frozen loss network's): the CPU kernels keep
/// what they derive from it in `frozen` (its flipped and Winograd-transformed forms) for the
/// next call. Pass each kernel its own `frozen`, always the same one; None keeps nothing.
pub fn conv2d_bias_frozen(
    input: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    padding: usize,
    stride: usize,
    relu: bool,
    frozen: Option<&Arc<FrozenKernel>>,
) -> Result<Tensor> {
    let _timing = crate::profile::scope("conv2d", crate::profile::Phase::Forward, input.device());
    if crate::ops::cpu_kernels_apply(&[input, kernel, bias]) {
        let reading = crate::cpu::conv::Reading::zero_pad(padding);
        return crate::cpu::conv::conv2d(input, kernel, Some(bias), reading, stride, relu, frozen);
    }
    let ys =
        conv2d(input, kernel, padding, stride)?.broadcast_add(&bias.reshape((1, (), 1, 1))?)?;
    if relu {
        ys.relu()
    } else {
        Ok(ys)
    }
}

/// The transform network's conv: `input` upsampled `upsample` times (nearest neighbour), then
/// reflection-padded by `pad`, then `conv2d_bias` (no ReLU). On the CPU in f32 the conv reads
/// through index maps, so neither the upsampled nor the padded tensor is built (each was a
/// pass over the largest activations, forward and backward); elsewhere candle ops.
pub fn conv2d_reflect_bias(
    input: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    pad: usize,
    stride: usize,
    upsample: usize,
) -> Result<Tensor> {
    let _timing = crate::profile::scope("conv2d", crate::profile::Phase::Forward, input.device());
    if crate::ops::cpu_kernels_apply(&[input, kernel, bias]) {
        let reading = crate::cpu::conv::Reading {
            pad,
            reflect: true,
            up: upsample,
        };
        return crate::cpu::conv::conv2d(input, kernel, Some(bias), reading, stride, false, None);
    }
    let (_, _, h, w) = input.dims4()?;
    let up = if upsample > 1 {
        input.upsample_nearest2d(h * upsample, w * upsample)?
    } else {
        input.clone()
    };
    let padded =
        crate::ops::reflection_pad::reflection_pad2d(&up, pad).map_err(candle_core::Error::wrap)?;
    conv2d_bias(&padded, kernel, bias, 0, stride, false)
}

/// Switches the CPU kernels' Winograd F(2x2, 3x3) path for 3x3 stride-1 convs on or off for
/// the whole process (on by default), so that benchmarks can time both on the same layers.
/// Outputs differ by rounding only (within 1e-5 relative of direct sums).
pub fn set_winograd(on: bool) {
    crate::cpu::conv::set_winograd(on);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_grads_close, projected_grads, rel_l2};
    use candle_core::{DType, Device, Var};

    /// f32 on the CPU runs [`crate::cpu::conv`]; f64 runs the device-generic path (candle's
    /// conv forward with [`SelectiveConvGrad`], shift-and-add, dilation) that CUDA takes, so
    /// the CPU tests check both.
    const DTYPES: [DType; 2] = [DType::F32, DType::F64];

    /// Relative error bound for a dtype: f32 sums of a few thousand terms, or f64 ones.
    fn tolerance(dtype: DType) -> f64 {
        if dtype == DType::F64 {
            1e-12
        } else {
            1e-5
        }
    }

    fn randn(dims: &[usize], std: f32, dtype: DType, dev: &Device) -> Tensor {
        Tensor::randn(0f32, std, dims, dev)
            .and_then(|t| t.to_dtype(dtype))
            .unwrap()
    }

    fn var(dims: &[usize], std: f32, dtype: DType, dev: &Device) -> Var {
        Var::from_tensor(&randn(dims, std, dtype, dev)).unwrap()
    }

    /// Output and both gradients against candle's own conv2d and its backward.
    fn check(
        dtype: DType,
        shape: (usize, usize, usize, usize),
        cout: usize,
        k: usize,
        pad: usize,
        stride: usize,
    ) {
        let dev = crate::test_util::test_device();
        let (b, cin, h, w) = shape;
        let x = var(&[b, cin, h, w], 1., dtype, &dev);
        let wt = var(&[cout, cin, k, k], 0.3, dtype, &dev);
        // Reference: explicit zero padding, then candle's unpadded conv (candle's backward is
        // wrong for padded strided convs: its conv_transpose2d output padding is off).
        let padded = x
            .as_tensor()
            .pad_with_zeros(2, pad, pad)
            .unwrap()
            .pad_with_zeros(3, pad, pad)
            .unwrap();
        let reference = padded.conv2d(wt.as_tensor(), 0, stride, 1, 1).unwrap();
        let ours = conv2d(x.as_tensor(), wt.as_tensor(), pad, stride).unwrap();
        assert_eq!(ours.dims(), reference.dims());
        assert_eq!(ours.dtype(), dtype);
        let tol = tolerance(dtype);
        assert!(rel_l2(&ours, &reference) < tol / 10.0);
        let (g_ours, g_ref) = projected_grads(&ours, &reference).unwrap();
        assert_grads_close(
            &g_ours,
            &g_ref,
            &[("input", x.as_tensor()), ("kernel", wt.as_tensor())],
            tol,
            &format!("{dtype:?} {shape:?} k{k} p{pad} s{stride}"),
        );
    }

    #[test]
    fn matches_candle_conv2d_and_its_gradients() {
        for dtype in DTYPES {
            check(dtype, (2, 3, 12, 10), 4, 3, 1, 1);
            check(dtype, (1, 5, 13, 11), 6, 3, 0, 1);
            check(dtype, (2, 3, 20, 18), 4, 9, 0, 1);
            check(dtype, (2, 4, 12, 10), 5, 3, 0, 2); // striding drops the last row and column
            check(dtype, (1, 4, 12, 10), 3, 3, 1, 2);
            check(dtype, (1, 2, 11, 13), 3, 3, 0, 2);
            // Few outputs from many inputs: the dual path on the CPU, shift-and-add elsewhere
            // (the last 9x9 conv).
            check(dtype, (2, 32, 21, 19), 3, 9, 0, 1);
            check(dtype, (1, 16, 9, 8), 4, 3, 0, 1);
            // Few inputs, many outputs (VGG's first conv): the CPU input gradient folds back.
            check(dtype, (2, 3, 12, 10), 16, 3, 1, 1);
            // Large enough for several GEMM tiles, bands and channel chunks on the CPU path.
            check(dtype, (2, 128, 36, 30), 16, 3, 1, 1);
            check(dtype, (1, 64, 41, 37), 32, 3, 1, 2);
            check(dtype, (1, 32, 70, 66), 3, 9, 0, 1);
        }
        // (candle's own backward fails when H and W leave different remainders under the
        // stride, e.g. 11x10: it uses H's output padding for W. Ours pads each side itself.)
    }

    /// Bias and ReLU fused into the conv against candle's ops after candle's conv, for every
    /// combination of tracked and constant input, kernel and bias (VGG16 tracks only its
    /// input; the first transform layer only its parameters; a fine-tune may freeze biases).
    #[test]
    fn fused_bias_and_relu_match_candle_ops_for_every_tracked_combination() {
        let dev = crate::test_util::test_device();
        let cases = [
            ((2, 6, 13, 11), 5, 3, 1, 1, true),
            ((1, 6, 12, 14), 4, 3, 0, 2, false),
            ((2, 32, 21, 19), 3, 9, 0, 1, false), // the dual path / shift-and-add
        ];
        for dtype in DTYPES {
            let tol = tolerance(dtype);
            for ((b, cin, h, w), cout, k, pad, stride, relu) in cases {
                let x = var(&[b, cin, h, w], 1., dtype, &dev);
                let wt = var(&[cout, cin, k, k], 0.3, dtype, &dev);
                let bias = var(&[cout], 0.5, dtype, &dev);
                for combo in 0..8 {
                    let (tx, tw, tb) = (combo & 1 != 0, combo & 2 != 0, combo & 4 != 0);
                    let pick = |v: &Var, tracked: bool| {
                        if tracked {
                            v.as_tensor().clone()
                        } else {
                            v.as_tensor().detach()
                        }
                    };
                    let (xi, wi, bi) = (pick(&x, tx), pick(&wt, tw), pick(&bias, tb));
                    let ours = conv2d_bias(&xi, &wi, &bi, pad, stride, relu).unwrap();
                    assert_eq!(ours.track_op(), tx || tw || tb, "graph only when tracked");
                    let padded = xi
                        .pad_with_zeros(2, pad, pad)
                        .unwrap()
                        .pad_with_zeros(3, pad, pad)
                        .unwrap();
                    let mut reference = padded
                        .conv2d(&wi, 0, stride, 1, 1)
                        .unwrap()
                        .broadcast_add(&bi.reshape((1, cout, 1, 1)).unwrap())
                        .unwrap();
                    if relu {
                        reference = reference.relu().unwrap();
                    }
                    assert!(rel_l2(&ours, &reference) < tol / 10.0);
                    if combo == 0 {
                        continue;
                    }
                    let (g1, g2) = projected_grads(&ours, &reference).unwrap();
                    let what =
                        format!("{dtype:?} k{k} s{stride} relu {relu} (x {tx}, w {tw}, b {tb})");
                    for (name, v, tracked) in
                        [("input", &x, tx), ("kernel", &wt, tw), ("bias", &bias, tb)]
                    {
                        let present = g1.get(v.as_tensor()).is_some();
                        assert_eq!(present, tracked, "{what}: {name} gradient presence");
                    }
                    let vars = [
                        ("input", x.as_tensor()),
                        ("kernel", wt.as_tensor()),
                        ("bias", bias.as_tensor()),
                    ];
                    assert_grads_close(&g1, &g2, &vars, tol, &what);
                }
            }
        }
    }

    /// Upsampling and reflection padding read through the conv's index maps, against
    /// materialising them with candle's upsampling and the padding op, then candle's conv.
    #[test]
    fn reflect_and_upsample_reads_match_materialised_inputs() {
        let dev = crate::test_util::test_device();
        let cases = [
            ((2, 5, 9, 7), 6, 3, 1, 2, 1), // strided, as conv2/conv3 (H, W remainders equal: candle)
            ((1, 4, 6, 7), 3, 3, 1, 1, 2), // upsampling, as deconv1/deconv2
            ((2, 8, 9, 10), 8, 3, 1, 1, 1), // as the residual blocks' convs
            ((2, 3, 12, 11), 4, 9, 4, 1, 1), // 9x9, as conv1
            ((1, 32, 10, 9), 3, 9, 4, 1, 1), // few outputs: the dual path, as deconv3
        ];
        for dtype in DTYPES {
            let tol = tolerance(dtype);
            for ((b, cin, h, w), cout, k, pad, stride, up) in cases {
                let x = var(&[b, cin, h, w], 1., dtype, &dev);
                let wt = var(&[cout, cin, k, k], 0.3, dtype, &dev);
                let bias = var(&[cout], 0.5, dtype, &dev);
                let (xt, wtt, bt) = (x.as_tensor(), wt.as_tensor(), bias.as_tensor());
                let ours = conv2d_reflect_bias(xt, wtt, bt, pad, stride, up).unwrap();
                let upsampled = xt.upsample_nearest2d(h * up, w * up).unwrap();
                let padded = crate::ops::reflection_pad::reflection_pad2d(&upsampled, pad).unwrap();
                let reference = padded
                    .conv2d(wtt, 0, stride, 1, 1)
                    .unwrap()
                    .broadcast_add(&bt.reshape((1, cout, 1, 1)).unwrap())
                    .unwrap();
                assert!(rel_l2(&ours, &reference) < tol / 10.0);
                let (g1, g2) = projected_grads(&ours, &reference).unwrap();
                let vars = [("input", xt), ("kernel", wtt), ("bias", bt)];
                let what = format!("{dtype:?} k{k} s{stride} up{up}");
                assert_grads_close(&g1, &g2, &vars, tol, &what);
            }
        }
    }

    #[test]
    fn constant_kernel_gets_no_gradient_but_input_does() {
        let dev = crate::test_util::test_device();
        for dtype in DTYPES {
            let x = var(&[1, 2, 6, 6], 1., dtype, &dev);
            let k = randn(&[3, 2, 3, 3], 1., dtype, &dev);
            let y = conv2d(x.as_tensor(), &k, 1, 1).unwrap();
            let grads = y.sum_all().unwrap().backward().unwrap();
            assert!(grads.get(x.as_tensor()).is_some());
            assert!(grads.get(&k).is_none());
        }
    }

    /// A frozen kernel's kept forms (its dual, its Winograd transforms) give what fresh ones
    /// do, call after call; a trainable kernel ignores them and still gets its gradient.
    #[test]
    fn a_frozen_kernel_gives_what_a_fresh_one_does() -> anyhow::Result<()> {
        let dev = Device::Cpu;
        let frozen = Arc::new(FrozenKernel::default());
        let w = Tensor::randn(0f32, 0.05, (24, 16, 3, 3), &dev)?;
        let b = Tensor::randn(0f32, 0.1, 24, &dev)?;
        // 34x34: Winograd with the kept transform (im2col without it); 8x8: im2col both ways.
        for side in [34, 8, 34] {
            let x = Var::randn(0f32, 1., (1, 16, side, side), &dev)?;
            let kept = conv2d_bias_frozen(x.as_tensor(), &w, &b, 1, 1, true, Some(&frozen))?;
            let fresh = conv2d_bias(x.as_tensor(), &w, &b, 1, 1, true)?;
            let r = kept.randn_like(0., 1.)?;
            let dx = |y: &Tensor| -> anyhow::Result<Tensor> {
                Ok((y * &r)?
                    .sum_all()?
                    .backward()?
                    .get(&x)
                    .expect("input grad")
                    .clone())
            };
            assert!(rel_l2(&kept, &fresh) < 1e-5, "{side}");
            assert!(rel_l2(&dx(&kept)?, &dx(&fresh)?) < 1e-5, "{side}");
        }
        assert!(frozen.winograd.get().is_some() && frozen.dual_winograd.get().is_some());
        let wv = Var::from_tensor(&w)?;
        let x = Tensor::randn(0f32, 1., (1, 16, 34, 34), &dev)?;
        let y = conv2d_bias_frozen(&x, wv.as_tensor(), &b, 1, 1, true, Some(&frozen))?;
        assert!(y.sum_all()?.backward()?.get(&wv).is_some());
        Ok(())
    }

    #[test]
    fn untracked_inputs_build_no_graph() {
        let dev = crate::test_util::test_device();
        for dtype in DTYPES {
            let x = randn(&[1, 2, 6, 6], 1., dtype, &dev);
            let k = randn(&[3, 2, 3, 3], 1., dtype, &dev);
            assert!(!conv2d(&x, &k, 1, 1).unwrap().track_op());
        }
    }
}
