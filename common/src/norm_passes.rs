//! Instance norm (+ ReLU) made differentiable out of four passes over the activation, for a
//! device that has a fused kernel for each ([`crate::cuda::instance_norm`]): statistics,
//! normalise, gradient sums, input gradient. Everything between the passes is per-plane
//! (`[B, C, k]`) and done with candle ops, so the gradients of `γ` and `β` flow through
//! candle's autograd and the kernels stay simple.
//!
//! [`ReferencePasses`] computes the same four passes with candle ops: the tests check the
//! composition with it on the CPU, and the kernels against it on a GPU.

use std::sync::Arc;

use candle_core::{Result, Tensor};

use crate::custom_grad::with_backward;

/// The four passes. Tensors are contiguous f32 `[B, C, H, W]`; `params` holds per plane
/// `[mean, 1/σ, γ, β]` (`[B, C, 4]`), and for [`NormPasses::grad_input`] also `mean(g)` and
/// `mean(g·x̂)` (`[B, C, 6]`), where `g` is the output gradient masked by the ReLU if any.
pub(crate) trait NormPasses: Send + Sync + 'static {
    /// `[B, C, 2]`: each plane's mean and `1/sqrt(var + eps)` (biased variance).
    fn stats(&self, xs: &Tensor, eps: f64) -> Result<Tensor>;
    /// `γ·(x − mean)/σ + β`, then ReLU when `relu`.
    fn normalize(&self, xs: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor>;
    /// `[B, C, 2]`: each plane's `Σ g` and `Σ g·x̂`.
    fn grad_sums(&self, xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor>;
    /// `γ/σ · (g − mean(g) − x̂·mean(g·x̂))`.
    fn grad_input(&self, xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor>;
}

/// `γ·x̂ + β` (then ReLU) per sample and channel of `xs`, differentiable in `xs`, `weight` and
/// `bias`, computed by `passes`.
pub(crate) fn instance_norm_by_passes<P: NormPasses>(
    passes: Arc<P>,
    xs: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    let x = xs.detach().contiguous()?;
    let stats = passes.stats(&x, eps)?;
    let per_plane = |t: &Tensor| t.reshape((1, c, 1))?.broadcast_as((b, c, 1));
    // Tracked through γ and β only: the statistics come from the detached input, and the
    // input's own gradient is the closed form below.
    let params = Tensor::cat(&[&stats, &per_plane(weight)?, &per_plane(bias)?], 2)?;
    let p = params.detach().contiguous()?;
    let y = passes.normalize(&x, &p, relu)?;
    let need_input = xs.track_op();
    let need_params = params.track_op();
    let backward = Arc::new(move |dy: &Tensor| {
        let dy = dy.contiguous()?;
        let sums = passes.grad_sums(&x, &dy, &p, relu)?;
        let dx = if need_input {
            let means = (&sums / (h * w) as f64)?;
            let p6 = Tensor::cat(&[&p, &means], 2)?.contiguous()?;
            Some(passes.grad_input(&x, &dy, &p6, relu)?)
        } else {
            None
        };
        let dparams = if need_params {
            // No gradient for the statistics; γ gets Σ g·x̂, β gets Σ g.
            let zeros = sums.zeros_like()?;
            let dgamma = sums.narrow(2, 1, 1)?;
            let dbeta = sums.narrow(2, 0, 1)?;
            Some(Tensor::cat(&[&zeros, &dgamma, &dbeta], 2)?)
        } else {
            None
        };
        Ok((dx, dparams))
    });
    with_backward("fauve-instance-norm-passes", xs, &params, y, backward)
}

/// The four passes as candle ops on any device: the reference the kernels are tested against.
#[cfg(test)]
pub(crate) struct ReferencePasses;

#[cfg(test)]
impl ReferencePasses {
    /// `x̂` and `g` (the output gradient masked by the ReLU when `relu`), `[B, C, HW]`.
    fn xhat(xs: &Tensor, params: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.reshape((b, c, h * w))?;
        flat.broadcast_sub(&params.narrow(2, 0, 1)?)?
            .broadcast_mul(&params.narrow(2, 1, 1)?)
    }

    fn masked_grad(xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let dy = dy.reshape((b, c, h * w))?;
        if !relu {
            return Ok(dy);
        }
        let y = Self::xhat(xs, params)?
            .broadcast_mul(&params.narrow(2, 2, 1)?)?
            .broadcast_add(&params.narrow(2, 3, 1)?)?;
        dy.mul(&y.gt(0.0)?.to_dtype(dy.dtype())?)
    }
}

#[cfg(test)]
impl NormPasses for ReferencePasses {
    fn stats(&self, xs: &Tensor, eps: f64) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.reshape((b, c, h * w))?;
        let mean = flat.mean_keepdim(2)?;
        let var = flat.broadcast_sub(&mean)?.sqr()?.mean_keepdim(2)?;
        let inv_std = (var + eps)?.sqrt()?.recip()?;
        Tensor::cat(&[&mean, &inv_std], 2)
    }

    fn normalize(&self, xs: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        let y = Self::xhat(xs, params)?
            .broadcast_mul(&params.narrow(2, 2, 1)?)?
            .broadcast_add(&params.narrow(2, 3, 1)?)?
            .reshape(xs.dims())?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }

    fn grad_sums(&self, xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        let g = Self::masked_grad(xs, dy, params, relu)?;
        let gx = (&g * Self::xhat(xs, params)?)?;
        Tensor::cat(&[g.sum_keepdim(2)?, gx.sum_keepdim(2)?], 2)
    }

    fn grad_input(&self, xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        let g = Self::masked_grad(xs, dy, params, relu)?;
        let inner = g
            .broadcast_sub(&params.narrow(2, 4, 1)?)?
            .sub(&Self::xhat(xs, params)?.broadcast_mul(&params.narrow(2, 5, 1)?)?)?;
        let scale = (params.narrow(2, 2, 1)? * params.narrow(2, 1, 1)?)?;
        inner.broadcast_mul(&scale)?.reshape(xs.dims())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::instance_norm::INSTANCE_NORM_EPS;
    use crate::test_util::{assert_grads_close, projected_grads, rel_l2};
    use candle_core::{DType, Var};

    /// The plain candle composition, differentiated by candle, then ReLU when `relu`.
    fn composition(xs: &Tensor, weight: &Tensor, bias: &Tensor, relu: bool) -> Result<Tensor> {
        let y = crate::ops::instance_norm::tests::reference(xs, weight, bias)?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }

    /// The composition of the passes, with and without ReLU, with every input tracked, a
    /// frozen input, and frozen γ and β, against candle differentiating the plain formula.
    #[test]
    fn passes_compose_to_instance_norm_and_its_gradients() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        let x = Var::randn(0.5f32, 2., (3, 5, 9, 7), &dev)?;
        let weight = Var::randn(1f32, 0.5, 5, &dev)?;
        let bias = Var::randn(0f32, 0.5, 5, &dev)?;
        for relu in [false, true] {
            for (frozen_input, frozen_affine) in [(false, false), (true, false), (false, true)] {
                let pick = |v: &Var, frozen: bool| {
                    if frozen {
                        v.as_tensor().detach()
                    } else {
                        v.as_tensor().clone()
                    }
                };
                let input = pick(&x, frozen_input);
                let (wt, bt) = (pick(&weight, frozen_affine), pick(&bias, frozen_affine));
                let ours = instance_norm_by_passes(
                    Arc::new(ReferencePasses),
                    &input,
                    &wt,
                    &bt,
                    INSTANCE_NORM_EPS,
                    relu,
                )?;
                assert_eq!(ours.dtype(), DType::F32);
                let reference = composition(&input, &wt, &bt, relu)?;
                assert!(rel_l2(&ours, &reference) < 1e-6);
                let (g1, g2) = projected_grads(&ours, &reference)?;
                let what =
                    format!("relu {relu}, frozen input {frozen_input}, affine {frozen_affine}");
                assert_eq!(g1.get(x.as_tensor()).is_some(), !frozen_input, "{what}");
                assert_eq!(
                    g1.get(weight.as_tensor()).is_some(),
                    !frozen_affine,
                    "{what}"
                );
                let vars = [
                    ("x", x.as_tensor()),
                    ("weight", weight.as_tensor()),
                    ("bias", bias.as_tensor()),
                ];
                assert_grads_close(&g1, &g2, &vars, 1e-5, &what);
            }
        }
        Ok(())
    }

    /// Each CUDA kernel against the reference pass, on planes of one, a few and many chunks,
    /// and the whole op against the composition (FAUVE_TEST_DEVICE=cuda; scripts/gpu-check.sh).
    #[cfg(feature = "cuda")]
    #[test]
    #[ignore = "needs a CUDA device: scripts/gpu-check.sh runs it"]
    fn cuda_kernels_match_the_reference_passes() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        assert!(dev.is_cuda(), "run with FAUVE_TEST_DEVICE=cuda on a GPU");
        let kernels = crate::cuda::instance_norm::CudaPasses;
        // 6x7: one chunk per plane; 96x80 and 300x257: several, with a ragged last chunk.
        for (b, c, h, w) in [(2, 3, 6, 7), (2, 4, 96, 80), (1, 3, 300, 257)] {
            // An offset mean, where a one-pass E[x²] − E[x]² would lose digits.
            let x = (Tensor::randn(0f32, 2., (b, c, h, w), &dev)? + 50.0)?;
            let dy = Tensor::randn(0f32, 1., (b, c, h, w), &dev)?;
            let stats_ref = ReferencePasses.stats(&x, INSTANCE_NORM_EPS)?;
            let stats = kernels.stats(&x, INSTANCE_NORM_EPS)?;
            let what = format!("{b}x{c}x{h}x{w}");
            assert!(rel_l2(&stats, &stats_ref) < 1e-6, "stats {what}");
            let affine = Tensor::randn(0f32, 1., (b, c, 2), &dev)?;
            let p = Tensor::cat(&[&stats_ref, &affine], 2)?.contiguous()?;
            for relu in [false, true] {
                let y = kernels.normalize(&x, &p, relu)?;
                let y_ref = ReferencePasses.normalize(&x, &p, relu)?;
                assert!(rel_l2(&y, &y_ref) < 1e-6, "normalize {what} relu {relu}");
                let sums = kernels.grad_sums(&x, &dy, &p, relu)?;
                let sums_ref = ReferencePasses.grad_sums(&x, &dy, &p, relu)?;
                assert!(
                    rel_l2(&sums, &sums_ref) < 1e-5,
                    "grad sums {what} relu {relu}"
                );
                let means = (&sums_ref / (h * w) as f64)?;
                let p6 = Tensor::cat(&[&p, &means], 2)?.contiguous()?;
                let dx = kernels.grad_input(&x, &dy, &p6, relu)?;
                let dx_ref = ReferencePasses.grad_input(&x, &dy, &p6, relu)?;
                assert!(rel_l2(&dx, &dx_ref) < 1e-5, "grad input {what} relu {relu}");
            }
        }
        // The op as the layers call it takes the kernels on CUDA.
        let x = Var::randn(0.5f32, 2., (2, 6, 40, 33), &dev)?;
        let weight = Var::randn(1f32, 0.5, 6, &dev)?;
        let bias = Var::randn(0f32, 0.5, 6, &dev)?;
        let (xt, wt, bt) = (x.as_tensor(), weight.as_tensor(), bias.as_tensor());
        let ours = crate::ops::instance_norm::instance_norm(xt, wt, bt, INSTANCE_NORM_EPS, true)?;
        let reference = composition(xt, wt, bt, true)?;
        assert!(rel_l2(&ours, &reference) < 1e-6);
        let (g1, g2) = projected_grads(&ours, &reference)?;
        let vars = [("x", xt), ("weight", wt), ("bias", bt)];
        assert_grads_close(&g1, &g2, &vars, 1e-5, "instance norm on CUDA");
        Ok(())
    }
}
