//! The two conv blocks of the transform network: reflection-padded conv, and nearest-neighbour
//! upsampling followed by one (which avoids the checkerboard artefacts of transposed convs).

use candle_core::{DType, Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::Result;
use crate::ops::conv::{conv2d, conv2d_reflect_bias};
use crate::ops::reflection_pad::reflection_pad2d;
use crate::precision::Precision;

/// Reflection padding of `kernel / 2` then an unpadded conv. Keys: `conv2d.weight`
/// `[out, in, k, k]`, `conv2d.bias` `[out]`.
#[derive(Debug, Clone)]
pub struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    pad: usize,
    /// The dtype the conv computes in (see [`crate::Precision`]); the output is in the
    /// weights' dtype again.
    compute: DType,
}

impl ConvLayer {
    /// Builds the layer, computing in `precision` (f32: the weights' own dtype); new weights use
    /// PyTorch's default init, U(±1/√fan_in).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        precision: Precision,
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
        let compute = match precision {
            Precision::F32 => weight.dtype(),
            other => other.conv_dtype(),
        };
        Ok(Self {
            weight,
            bias,
            stride,
            pad: kernel / 2,
            compute,
        })
    }

    /// The layer on `xs` upsampled `upsample` times first (nearest neighbour).
    fn apply(&self, xs: &Tensor, upsample: usize) -> candle_core::Result<Tensor> {
        if self.compute == self.weight.dtype() {
            return conv2d_reflect_bias(
                xs,
                &self.weight,
                &self.bias,
                self.pad,
                self.stride,
                upsample,
            );
        }
        // Cast first: the upsampled tensor is larger.
        let xs = xs.to_dtype(self.compute)?;
        let xs = if upsample > 1 {
            let (_, _, h, w) = xs.dims4()?;
            xs.upsample_nearest2d(upsample * h, upsample * w)?
        } else {
            xs
        };
        let padded = reflection_pad2d(&xs, self.pad).map_err(candle_core::Error::wrap)?;
        let ys = conv2d(
            &padded,
            &self.weight.to_dtype(self.compute)?,
            0,
            self.stride,
        )?;
        ys.to_dtype(self.weight.dtype())?
            .broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
    }
}

impl Module for ConvLayer {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.apply(xs, 1)
    }
}

/// Nearest-neighbour upsampling by 2, then a [`ConvLayer`] with stride 1.
#[derive(Debug, Clone)]
pub struct UpsampleConvLayer {
    conv: ConvLayer,
}

impl UpsampleConvLayer {
    /// Builds the layer; keys and precision as for [`ConvLayer`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        precision: Precision,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            conv: ConvLayer::new(in_channels, out_channels, kernel, 1, precision, vb)?,
        })
    }
}

impl Module for UpsampleConvLayer {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.conv.apply(xs, 2)
    }
}
