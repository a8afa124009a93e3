//! Instance normalisation with a learned scale and shift, which candle-nn does not provide under
//! that name; it is what makes feed-forward stylization work (Ulyanov et al. 2016).

use candle_core::{Module, Tensor};
use candle_nn::{Init, VarBuilder};

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

impl Module for InstanceNorm {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.reshape((b, c, h * w))?;
        let mean = flat.mean_keepdim(2)?;
        let centered = flat.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(2)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let scale = self.weight.reshape((1, c, 1))?;
        let shift = self.bias.reshape((1, c, 1))?;
        normed
            .broadcast_mul(&scale)?
            .broadcast_add(&shift)?
            .reshape((b, c, h, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use std::collections::HashMap;

    #[test]
    fn normalises_each_channel_then_applies_affine() -> anyhow::Result<()> {
        let dev = Device::Cpu;
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
