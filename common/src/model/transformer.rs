//! The image transform network of Johnson et al. (2016) in the pytorch/examples
//! fast_neural_style variant: three downsampling convs, five residual blocks, two upsampling
//! convs and a final conv, each followed by instance norm and ReLU except the last.
//!
//! Tensor names are pytorch/examples' state-dict keys, so their checkpoints load unchanged.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model::architecture::{Architecture, RESIDUAL_BLOCKS};
use crate::model::instance_norm::InstanceNorm;
use crate::model::layers::{ConvLayer, UpsampleConvLayer};
use crate::model::norm_source::{NormSource, PerImage};
use crate::precision::Precision;

/// Smallest image side the network accepts (its 9x9 reflection-padded convs need more than 4
/// pixels, and the downsampling halves the size twice).
pub const MIN_SIDE: u32 = 8;

/// `x + IN(conv(ReLU(IN(conv(x)))))`, at the quarter-resolution width, 3x3 kernels.
#[derive(Debug, Clone)]
struct ResidualBlock {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
}

impl ResidualBlock {
    fn new(wide: usize, precision: Precision, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: ConvLayer::new(wide, wide, 3, 1, precision, vb.pp("conv1"))?,
            in1: InstanceNorm::new(wide, vb.pp("in1"))?,
            conv2: ConvLayer::new(wide, wide, 3, 1, precision, vb.pp("conv2"))?,
            in2: InstanceNorm::new(wide, vb.pp("in2"))?,
        })
    }
}

/// The transform network. Input and output are `[B, 3, H, W]` RGB in 0..255; the output is not
/// clamped. For sides that are not multiples of 4 the output is a few pixels larger than the
/// input (as in PyTorch); [`crate::Stylizer`] brings it back to the input size.
#[derive(Debug, Clone)]
pub struct TransformerNet {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
    conv3: ConvLayer,
    in3: InstanceNorm,
    res: Vec<ResidualBlock>,
    deconv1: UpsampleConvLayer,
    in4: InstanceNorm,
    deconv2: UpsampleConvLayer,
    in5: InstanceNorm,
    deconv3: ConvLayer,
    architecture: Architecture,
}

impl TransformerNet {
    /// Builds Johnson's network (the default architecture) from `vb`: loads weights from a
    /// file-backed builder, or creates PyTorch-initialised variables from a `VarMap`-backed one
    /// (for training). The convs compute in `precision`; weights, instance norm and the output
    /// stay in the weights' dtype.
    pub fn new(precision: Precision, vb: VarBuilder) -> Result<Self> {
        Self::with_architecture(Architecture::Johnson, precision, vb)
    }

    /// [`Self::new`] for either architecture.
    pub fn with_architecture(
        architecture: Architecture,
        precision: Precision,
        vb: VarBuilder,
    ) -> Result<Self> {
        let [c1, c2, c3] = architecture.widths();
        let res = (1..=RESIDUAL_BLOCKS)
            .map(|i| ResidualBlock::new(c3, precision, vb.pp(format!("res{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv1: ConvLayer::new(3, c1, 9, 1, precision, vb.pp("conv1"))?,
            in1: InstanceNorm::new(c1, vb.pp("in1"))?,
            conv2: ConvLayer::new(c1, c2, 3, 2, precision, vb.pp("conv2"))?,
            in2: InstanceNorm::new(c2, vb.pp("in2"))?,
            conv3: ConvLayer::new(c2, c3, 3, 2, precision, vb.pp("conv3"))?,
            in3: InstanceNorm::new(c3, vb.pp("in3"))?,
            res,
            deconv1: UpsampleConvLayer::new(c3, c2, 3, precision, vb.pp("deconv1"))?,
            in4: InstanceNorm::new(c2, vb.pp("in4"))?,
            deconv2: UpsampleConvLayer::new(c2, c1, 3, precision, vb.pp("deconv2"))?,
            in5: InstanceNorm::new(c1, vb.pp("in5"))?,
            deconv3: ConvLayer::new(c1, 3, 9, 1, precision, vb.pp("deconv3"))?,
            architecture,
        })
    }

    /// The one-style network made of `tensors` (pytorch/examples keys, `[C]` norms) on
    /// `device`, of the architecture its first conv's width tells. Tracked tensors stay
    /// tracked, so a trainer's gradients reach the variables they came from.
    pub fn from_tensors(
        tensors: HashMap<String, Tensor>,
        precision: Precision,
        device: &Device,
    ) -> Result<Self> {
        let architecture = Architecture::of_tensors(&tensors)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Self::with_architecture(architecture, precision, vb)
    }

    /// Which of the two sizes this network is.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }
}

/// The activation about to be normalised at norm layer `site` (see
/// [`crate::model::norm_source::NORM_SITES`]), with the residual stream it will be added to when
/// `site` is a residual block's second norm. The forward pass goes from one to the next, so a
/// caller may stop at a site and go on later (tiling does).
#[derive(Debug, Clone)]
pub(crate) struct PreNorm {
    pub site: usize,
    pub x: Tensor,
    skip: Option<Tensor>,
}

impl PreNorm {
    /// Memory it holds, in bytes.
    pub fn bytes(&self) -> u64 {
        let size = |t: &Tensor| (t.elem_count() * t.dtype().size_in_bytes()) as u64;
        size(&self.x) + self.skip.as_ref().map_or(0, size)
    }
}

/// Where a step of the forward pass leads.
pub(crate) enum Next {
    /// The next norm layer's input.
    Norm(PreNorm),
    /// The network's output.
    Output(Tensor),
}

impl TransformerNet {
    /// The input of the first norm layer: `conv1(xs)`.
    pub(crate) fn first_norm_input(&self, xs: &Tensor) -> Result<PreNorm> {
        Ok(PreNorm {
            site: 0,
            x: self.conv1.forward(xs)?,
            skip: None,
        })
    }

    /// Norm layer `site`, and whether ReLU follows it.
    pub(crate) fn norm_layer(&self, site: usize) -> (&InstanceNorm, bool) {
        match site {
            0 => (&self.in1, true),
            1 => (&self.in2, true),
            2 => (&self.in3, true),
            13 => (&self.in4, true),
            14 => (&self.in5, true),
            s => {
                let block = &self.res[(s - 3) / 2];
                if (s - 3) % 2 == 0 {
                    (&block.in1, true)
                } else {
                    (&block.in2, false)
                }
            }
        }
    }

    /// How many input pixels one pixel of norm layer `site`'s input spans: the network works at
    /// full, half and quarter resolution.
    pub(crate) fn norm_scale(site: usize) -> u32 {
        match site {
            0 | 14 => 1,
            1 | 13 => 2,
            _ => 4,
        }
    }

    /// From norm layer `pre.site`'s output `normed` (ReLU applied) to the next norm layer's input,
    /// or to the output after the last.
    pub(crate) fn after_norm(&self, pre: PreNorm, normed: Tensor) -> Result<Next> {
        let norm = |site, x, skip| Ok(Next::Norm(PreNorm { site, x, skip }));
        match pre.site {
            // [B, c1, H, W] -> [B, c2, H/2, W/2] -> [B, c3, H/4, W/4]
            0 => norm(1, self.conv2.forward(&normed)?, None),
            1 => norm(2, self.conv3.forward(&normed)?, None),
            // The residual stream enters block 1.
            2 => norm(3, self.res[0].conv1.forward(&normed)?, Some(normed)),
            s @ 3..=12 => {
                let i = (s - 3) / 2;
                let skip = pre
                    .skip
                    .ok_or_else(|| crate::Error::Invalid("residual stream missing".into()))?;
                if (s - 3) % 2 == 0 {
                    norm(s + 1, self.res[i].conv2.forward(&normed)?, Some(skip))
                } else {
                    let stream = (normed + skip)?;
                    match self.res.get(i + 1) {
                        Some(next) => norm(s + 1, next.conv1.forward(&stream)?, Some(stream)),
                        // [B, c3, H/4, W/4] -> [B, c2, H/2, W/2]
                        None => norm(13, self.deconv1.forward(&stream)?, None),
                    }
                }
            }
            // -> [B, c1, H, W] -> [B, 3, H, W]
            13 => norm(14, self.deconv2.forward(&normed)?, None),
            _ => Ok(Next::Output(self.deconv3.forward(&normed)?)),
        }
    }

    /// From `pre` on to the output, each norm layer's statistics from `norms` (see
    /// [`NormSource`]); None when `norms` stopped the pass.
    pub(crate) fn continue_with(
        &self,
        mut pre: PreNorm,
        norms: &mut dyn NormSource,
    ) -> Result<Option<Tensor>> {
        loop {
            let (layer, relu) = self.norm_layer(pre.site);
            let Some(normed) = norms.normalize(pre.site, layer, &pre.x, relu)? else {
                return Ok(None);
            };
            match self.after_norm(pre, normed)? {
                Next::Norm(next) => pre = next,
                Next::Output(ys) => return Ok(Some(ys)),
            }
        }
    }

    /// The forward pass with each instance-norm layer's statistics from `norms` (see
    /// [`NormSource`]); None when `norms` stopped it before the end.
    pub fn forward_with(&self, xs: &Tensor, norms: &mut dyn NormSource) -> Result<Option<Tensor>> {
        self.continue_with(self.first_norm_input(xs)?, norms)
    }
}

impl Module for TransformerNet {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self.forward_with(xs, &mut PerImage) {
            Ok(Some(ys)) => Ok(ys),
            // PerImage never stops the pass.
            Ok(None) => Err(candle_core::Error::Msg(
                "the forward pass was stopped".into(),
            )),
            Err(crate::Error::Candle(e)) => Err(e),
            Err(e) => Err(candle_core::Error::wrap(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn parameter_list_matches_what_each_network_creates() -> anyhow::Result<()> {
        for arch in Architecture::ALL {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
            let net = TransformerNet::with_architecture(arch, Precision::F32, vb)?;
            assert_eq!(net.architecture(), arch);
            let created = varmap.data().lock().unwrap();
            let listed = arch.parameter_shapes(1);
            assert_eq!(created.len(), listed.len());
            for (key, shape) in &listed {
                let var = created
                    .get(key)
                    .unwrap_or_else(|| panic!("{key} not created"));
                assert_eq!(var.dims(), shape.as_slice(), "{arch} {key}");
            }
        }
        Ok(())
    }

    #[test]
    fn output_of_multiple_of_four_input_has_input_size() -> anyhow::Result<()> {
        let varmap = VarMap::new();
        let net = TransformerNet::new(
            Precision::F32,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )?;
        let xs = Tensor::rand(0f32, 255., (2, 3, 16, 24), &Device::Cpu)?;
        assert_eq!(net.forward(&xs)?.dims(), &[2, 3, 16, 24]);
        Ok(())
    }
}
