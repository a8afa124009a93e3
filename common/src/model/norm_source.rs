//! Where the transform network's instance-norm layers take their statistics from. Normally each
//! image normalises each layer over itself ([`PerImage`]); stylizing a huge image tile by tile
//! needs the whole image's statistics in every tile, and a video needs statistics that do not
//! jump from frame to frame. The network runs the same layers either way
//! ([`crate::TransformerNet::forward_with`]); only this source changes.

use candle_core::Tensor;

use crate::error::Result;
use crate::model::instance_norm::InstanceNorm;

/// The number of instance-norm layers in the transform network, in the order they run: in1,
/// in2, in3, the five residual blocks' in1 and in2, in4, in5.
pub const NORM_SITES: usize = 15;

/// Supplies each instance-norm layer's output, or stops the forward pass.
pub trait NormSource {
    /// The output of instance-norm layer number `site` (see [`NORM_SITES`]) for its input `xs`,
    /// ReLU included when `relu`; `None` ends the forward pass there (a caller that wanted only
    /// this layer's input has it).
    fn normalize(
        &mut self,
        site: usize,
        layer: &InstanceNorm,
        xs: &Tensor,
        relu: bool,
    ) -> Result<Option<Tensor>>;
}

/// Each image normalised over itself: the network as trained.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerImage;

impl NormSource for PerImage {
    fn normalize(
        &mut self,
        _: usize,
        layer: &InstanceNorm,
        xs: &Tensor,
        relu: bool,
    ) -> Result<Option<Tensor>> {
        Ok(Some(if relu {
            layer.forward_relu(xs)?
        } else {
            candle_core::Module::forward(layer, xs)?
        }))
    }
}
