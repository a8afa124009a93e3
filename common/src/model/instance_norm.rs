//! Instance normalisation with a learned scale and shift, the layer candle-nn does not provide
//! under that name; it is what makes feed-forward stylization work (Ulyanov et al. 2016). The
//! computation is the op [`crate::ops::instance_norm`].

use candle_core::{Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::Result;
use crate::ops::instance_norm::{instance_norm, INSTANCE_NORM_EPS};

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

    /// The norm followed by ReLU, fused into one pass on the CPU.
    pub fn forward_relu(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        instance_norm(xs, &self.weight, &self.bias, self.eps, true)
    }
}

impl InstanceNorm {
    /// The layer with given per-channel statistics (`[C]` mean and biased variance) instead of
    /// the input's own, then ReLU when `relu`: for inference only (no gradient).
    pub fn forward_with_stats(
        &self,
        xs: &Tensor,
        stats: &crate::model::channel_stats::ChannelStats,
        relu: bool,
    ) -> candle_core::Result<Tensor> {
        let c = self.weight.dim(0)?;
        let scale = (&self.weight * (&stats.var + self.eps)?.sqrt()?.recip()?)?;
        let shift = (&self.bias - (&stats.mean * &scale)?)?;
        let ys = xs
            .broadcast_mul(&scale.reshape((1, c, 1, 1))?)?
            .broadcast_add(&shift.reshape((1, c, 1, 1))?)?;
        if relu {
            ys.relu()
        } else {
            Ok(ys)
        }
    }
}

impl Module for InstanceNorm {
    /// The norm alone.
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        instance_norm(xs, &self.weight, &self.bias, self.eps, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use std::collections::HashMap;

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
