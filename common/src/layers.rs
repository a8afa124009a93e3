//! The two conv blocks of the transform network: reflection-padded conv, and nearest-neighbour
//! upsampling followed by one (which avoids the checkerboard artefacts of transposed convs).

use candle_core::{Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::conv::conv2d;
use crate::error::Result;
use crate::padding::reflection_pad2d;

/// Reflection padding of `kernel / 2` then an unpadded conv. Keys: `conv2d.weight`
/// `[out, in, k, k]`, `conv2d.bias` `[out]`.
#[derive(Debug, Clone)]
pub struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    pad: usize,
}

impl ConvLayer {
    /// Builds the layer; new weights use PyTorch's default init, U(±1/√fan_in).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let vb = vb.pp("conv2d");
        let bound = 1.0 / ((in_channels * kernel * kernel) as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight =
            vb.get_with_hints((out_channels, in_channels, kernel, kernel), "weight", init)?;
        let bias = vb.get_with_hints(out_channels, "bias", init)?;
        Ok(Self {
            weight,
            bias,
            stride,
            pad: kernel / 2,
        })
    }
}

impl Module for ConvLayer {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let padded = reflection_pad2d(xs, self.pad).map_err(candle_core::Error::wrap)?;
        let ys = conv2d(&padded, &self.weight, 0, self.stride)?;
        ys.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
    }
}

/// Nearest-neighbour upsampling by 2, then a [`ConvLayer`] with stride 1.
#[derive(Debug, Clone)]
pub struct UpsampleConvLayer {
    conv: ConvLayer,
}

impl UpsampleConvLayer {
    /// Builds the layer; keys as for [`ConvLayer`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            conv: ConvLayer::new(in_channels, out_channels, kernel, 1, vb)?,
        })
    }
}

impl Module for UpsampleConvLayer {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = xs.dims4()?;
        self.conv.forward(&xs.upsample_nearest2d(2 * h, 2 * w)?)
    }
}
