//! The statistics an instance-norm layer normalises with, apart from the layers that use them
//! (the network's norms, the tiler and the video stylizer all pass them around).

use candle_core::{DType, Tensor};

use crate::error::Result;

/// Per-channel statistics of one instance-norm layer's input: mean and biased variance, `[C]`
/// f32 tensors on the network's device.
#[derive(Debug, Clone)]
pub struct ChannelStats {
    /// Mean of each channel.
    pub mean: Tensor,
    /// Biased variance of each channel.
    pub var: Tensor,
}

impl ChannelStats {
    /// The statistics of one image's `[1, C, H, W]` activation.
    pub fn of(xs: &Tensor) -> Result<Self> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.to_dtype(DType::F32)?.reshape((b * c, h * w))?;
        let mean = flat.mean_keepdim(1)?;
        let var = flat.broadcast_sub(&mean)?.sqr()?.mean(1)?;
        Ok(Self {
            mean: mean.squeeze(1)?,
            var,
        })
    }
}
