//! Instance normalisation with a learned scale and shift, which candle-nn does not provide under
//! that name; it is what makes feed-forward stylization work (Ulyanov et al. 2016).

use std::sync::Arc;

use candle_core::{DType, Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::custom_grad::with_backward;
use crate::error::Result;

/// PyTorch's default epsilon for `InstanceNorm2d`.
pub const INSTANCE_NORM_EPS: f64 = 1e-5;

/// Normalises each sample and channel over its H·W positions (biased variance), then applies
/// per-channel `weight` and `bias`. Keys: `weight`, `bias`, both `[C]`.
#[derive(Debug, Clone)]
pub struct InstanceNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl InstanceNorm {
    /// Builds the layer for `channels` channels; new weights start at scale 1, shift 0.
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(channels, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(channels, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            eps: INSTANCE_NORM_EPS,
        })
    }
}

impl InstanceNorm {
    /// The norm followed by ReLU, fused into one pass on the CPU.
    pub fn forward_relu(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.apply(xs, true)
    }

    fn apply(&self, xs: &Tensor, relu: bool) -> candle_core::Result<Tensor> {
        if xs.device().is_cpu() && xs.dtype() == DType::F32 && self.weight.dtype() == DType::F32 {
            return crate::cpu_norm::instance_norm(xs, &self.weight, &self.bias, self.eps, relu);
        }
        let ys = self.composed(xs)?;
        if relu {
            ys.relu()
        } else {
            Ok(ys)
        }
    }

    /// `γ·x̂ + β` with `x̂ = (x − μ)/σ` per sample and channel from candle ops (any device and
    /// dtype). The backward is the closed form `dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))`,
    /// `dγ = Σ dy·x̂`, `dβ = Σ dy` (about ten times faster than candle differentiating the
    /// composition).
    fn composed(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.detach().reshape((b, c, h * w))?;
        let mean = flat.mean_keepdim(2)?;
        let centered = flat.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(2)?;
        let inv_std = (var + self.eps)?.sqrt()?.recip()?; // [B, C, 1]
        let normed = centered.broadcast_mul(&inv_std)?; // x̂, [B, C, HW]
        let scale = self.weight.detach().reshape((1, c, 1))?;
        let scaled = normed.broadcast_mul(&scale)?.reshape((b, c, h, w))?;
        let need_input = xs.track_op();
        let need_weight = self.weight.track_op();
        let backward = Arc::new(move |dy: &Tensor| {
            let dy = dy.reshape((b, c, h * w))?;
            let dy_xhat = (&dy * &normed)?;
            let dx = if need_input {
                let mean_dy = dy.mean_keepdim(2)?;
                let mean_dy_xhat = dy_xhat.mean_keepdim(2)?;
                let inner = dy
                    .broadcast_sub(&mean_dy)?
                    .sub(&normed.broadcast_mul(&mean_dy_xhat)?)?;
                Some(
                    inner
                        .broadcast_mul(&inv_std.broadcast_mul(&scale)?)?
                        .reshape((b, c, h, w))?,
                )
            } else {
                None
            };
            let dgamma = if need_weight {
                Some(dy_xhat.sum(2)?.sum(0)?)
            } else {
                None
            };
            Ok((dx, dgamma))
        });
        let scaled = with_backward("fauve-instance-norm", xs, &self.weight, scaled, backward)?;
        scaled.broadcast_add(&self.bias.reshape((1, c, 1, 1))?)
    }
}

impl Module for InstanceNorm {
    /// The norm alone (f32 on the CPU: the project's fused kernel; elsewhere candle ops).
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.apply(xs, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{projected_grads, rel_l2};
    use candle_core::{DType, Var};
    use std::collections::HashMap;

    /// The plain candle composition, differentiated by candle: the reference.
    fn composed(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.reshape((b, c, h * w))?;
        let centered = flat.broadcast_sub(&flat.mean_keepdim(2)?)?;
        let var = centered.sqr()?.mean_keepdim(2)?;
        centered
            .broadcast_div(&(var + INSTANCE_NORM_EPS)?.sqrt()?)?
            .broadcast_mul(&weight.reshape((1, c, 1))?)?
            .broadcast_add(&bias.reshape((1, c, 1))?)?
            .reshape((b, c, h, w))
    }

    #[test]
    fn closed_form_backward_matches_candle_on_the_composition() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        let x = Var::randn(3f32, 2., (2, 5, 7, 6), &dev)?;
        let weight = Var::randn(1f32, 0.5, 5, &dev)?;
        let bias = Var::randn(0f32, 0.5, 5, &dev)?;
        let norm = InstanceNorm {
            weight: weight.as_tensor().clone(),
            bias: bias.as_tensor().clone(),
            eps: INSTANCE_NORM_EPS,
        };
        // The device's path (fused on the CPU) and the candle-op path used elsewhere.
        for ours in [norm.forward(x.as_tensor())?, norm.composed(x.as_tensor())?] {
            let reference = composed(x.as_tensor(), weight.as_tensor(), bias.as_tensor())?;
            assert!(rel_l2(&ours, &reference) < 1e-6);
            let (g1, g2) = projected_grads(&ours, &reference)?;
            for (name, v) in [("x", &x), ("weight", &weight), ("bias", &bias)] {
                let err = rel_l2(
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                assert!(err < 1e-5, "{name}: {err:e}");
            }
        }
        Ok(())
    }

    /// The fused norm + ReLU against the composition followed by candle's ReLU, with every
    /// input tracked and with only the affine tracked (frozen input).
    #[test]
    fn fused_relu_matches_the_composition() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        let x = Var::randn(0.5f32, 2., (3, 6, 9, 11), &dev)?;
        let weight = Var::randn(1f32, 0.5, 6, &dev)?;
        let bias = Var::randn(0f32, 0.5, 6, &dev)?;
        let norm = InstanceNorm {
            weight: weight.as_tensor().clone(),
            bias: bias.as_tensor().clone(),
            eps: INSTANCE_NORM_EPS,
        };
        for frozen_input in [false, true] {
            let input = if frozen_input {
                x.as_tensor().detach()
            } else {
                x.as_tensor().clone()
            };
            let ours = norm.forward_relu(&input)?;
            let reference = composed(&input, weight.as_tensor(), bias.as_tensor())?.relu()?;
            assert!(rel_l2(&ours, &reference) < 1e-6);
            let (g1, g2) = projected_grads(&ours, &reference)?;
            assert_eq!(g1.get(x.as_tensor()).is_some(), !frozen_input);
            for (name, v) in [("x", &x), ("weight", &weight), ("bias", &bias)] {
                if let (Some(a), Some(e)) = (g1.get(v.as_tensor()), g2.get(v.as_tensor())) {
                    let err = rel_l2(a, e);
                    assert!(err < 1e-5, "{name}: {err:e}");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn normalises_each_channel_then_applies_affine() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        let ts = HashMap::from([
            ("weight".to_string(), Tensor::new(&[2f32, 1.], &dev)?),
            ("bias".to_string(), Tensor::new(&[0.5f32, -1.], &dev)?),
        ]);
        let norm = InstanceNorm::new(2, VarBuilder::from_tensors(ts, DType::F32, &dev))?;
        // Channel 0: [1, 3] -> mean 2, var 1 -> [-1, 1]; channel 1: [5, 5] -> [0, 0].
        let xs = Tensor::new(&[1f32, 3., 5., 5.], &dev)?.reshape((1, 2, 1, 2))?;
        let ys = norm.forward(&xs)?.flatten_all()?.to_vec1::<f32>()?;
        let s = 1.0 / (1.0f32 + 1e-5).sqrt();
        let expected = [-2. * s + 0.5, 2. * s + 0.5, -1., -1.];
        for (y, e) in ys.iter().zip(expected) {
            assert!((y - e).abs() < 1e-5, "{ys:?} vs {expected:?}");
        }
        Ok(())
    }
}
