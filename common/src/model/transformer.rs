//! The image transform network of Johnson et al. (2016) in the pytorch/examples
//! fast_neural_style variant: three downsampling convs, five residual blocks, two upsampling
//! convs and a final conv, each followed by instance norm and ReLU except the last.
//!
//! Tensor names are pytorch/examples' state-dict keys, so their checkpoints load unchanged.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model::instance_norm::InstanceNorm;
use crate::model::layers::{ConvLayer, UpsampleConvLayer};
use crate::model::norm_source::{NormSource, PerImage};
use crate::precision::Precision;

/// Name of the only architecture this version knows, as written in model-file metadata.
pub const ARCHITECTURE: &str = "johnson2016-transformer-net";

const RESIDUAL_BLOCKS: usize = 5;
const WIDE: usize = 128;

/// `x + IN(conv(ReLU(IN(conv(x)))))`, 128 channels, 3x3 kernels.
#[derive(Debug, Clone)]
struct ResidualBlock {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
}

impl ResidualBlock {
    fn new(precision: Precision, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: ConvLayer::new(WIDE, WIDE, 3, 1, precision, vb.pp("conv1"))?,
            in1: InstanceNorm::new(WIDE, vb.pp("in1"))?,
            conv2: ConvLayer::new(WIDE, WIDE, 3, 1, precision, vb.pp("conv2"))?,
            in2: InstanceNorm::new(WIDE, vb.pp("in2"))?,
        })
    }
}

impl ResidualBlock {
    /// The block, its two norms (sites `site` and `site + 1`) from `norms`; None when `norms`
    /// stopped the pass.
    fn forward_with(
        &self,
        xs: &Tensor,
        norms: &mut dyn NormSource,
        site: usize,
    ) -> Result<Option<Tensor>> {
        let Some(ys) = norms.normalize(site, &self.in1, &self.conv1.forward(xs)?, true)? else {
            return Ok(None);
        };
        let Some(ys) = norms.normalize(site + 1, &self.in2, &self.conv2.forward(&ys)?, false)?
        else {
            return Ok(None);
        };
        Ok(Some((ys + xs)?))
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
}

impl TransformerNet {
    /// Builds the network from `vb`: loads weights from a file-backed builder, or creates
    /// PyTorch-initialised variables from a `VarMap`-backed one (for training). The convs
    /// compute in `precision`; weights, instance norm and the output stay in the weights' dtype.
    pub fn new(precision: Precision, vb: VarBuilder) -> Result<Self> {
        let res = (1..=RESIDUAL_BLOCKS)
            .map(|i| ResidualBlock::new(precision, vb.pp(format!("res{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv1: ConvLayer::new(3, 32, 9, 1, precision, vb.pp("conv1"))?,
            in1: InstanceNorm::new(32, vb.pp("in1"))?,
            conv2: ConvLayer::new(32, 64, 3, 2, precision, vb.pp("conv2"))?,
            in2: InstanceNorm::new(64, vb.pp("in2"))?,
            conv3: ConvLayer::new(64, WIDE, 3, 2, precision, vb.pp("conv3"))?,
            in3: InstanceNorm::new(WIDE, vb.pp("in3"))?,
            res,
            deconv1: UpsampleConvLayer::new(WIDE, 64, 3, precision, vb.pp("deconv1"))?,
            in4: InstanceNorm::new(64, vb.pp("in4"))?,
            deconv2: UpsampleConvLayer::new(64, 32, 3, precision, vb.pp("deconv2"))?,
            in5: InstanceNorm::new(32, vb.pp("in5"))?,
            deconv3: ConvLayer::new(32, 3, 9, 1, precision, vb.pp("deconv3"))?,
        })
    }

    /// Every tensor the network needs, with its shape, in pytorch/examples key order. Model
    /// files are checked against this list before any tensor is used.
    pub fn parameter_shapes() -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        let mut conv = |name: &str, cin: usize, cout: usize, k: usize| {
            out.push((format!("{name}.conv2d.weight"), vec![cout, cin, k, k]));
            out.push((format!("{name}.conv2d.bias"), vec![cout]));
        };
        conv("conv1", 3, 32, 9);
        conv("conv2", 32, 64, 3);
        conv("conv3", 64, WIDE, 3);
        for i in 1..=RESIDUAL_BLOCKS {
            conv(&format!("res{i}.conv1"), WIDE, WIDE, 3);
            conv(&format!("res{i}.conv2"), WIDE, WIDE, 3);
        }
        conv("deconv1", WIDE, 64, 3);
        conv("deconv2", 64, 32, 3);
        conv("deconv3", 32, 3, 9);
        let mut norm = |name: &str, c: usize| {
            out.push((format!("{name}.weight"), vec![c]));
            out.push((format!("{name}.bias"), vec![c]));
        };
        for (name, c) in [("in1", 32), ("in2", 64), ("in3", WIDE)] {
            norm(name, c);
        }
        for i in 1..=RESIDUAL_BLOCKS {
            norm(&format!("res{i}.in1"), WIDE);
            norm(&format!("res{i}.in2"), WIDE);
        }
        norm("in4", 64);
        norm("in5", 32);
        out
    }
}

impl TransformerNet {
    /// The forward pass with each instance-norm layer's statistics from `norms` (see
    /// [`NormSource`]); None when `norms` stopped it before the end.
    pub fn forward_with(&self, xs: &Tensor, norms: &mut dyn NormSource) -> Result<Option<Tensor>> {
        macro_rules! norm {
            ($site:expr, $layer:expr, $x:expr, $relu:expr) => {
                match norms.normalize($site, $layer, $x, $relu)? {
                    Some(ys) => ys,
                    None => return Ok(None),
                }
            };
        }
        // [B, 3, H, W] -> [B, 32, H, W] -> [B, 64, H/2, W/2] -> [B, 128, H/4, W/4]
        let ys = norm!(0, &self.in1, &self.conv1.forward(xs)?, true);
        let ys = norm!(1, &self.in2, &self.conv2.forward(&ys)?, true);
        let mut ys = norm!(2, &self.in3, &self.conv3.forward(&ys)?, true);
        for (i, block) in self.res.iter().enumerate() {
            ys = match block.forward_with(&ys, norms, 3 + 2 * i)? {
                Some(ys) => ys,
                None => return Ok(None),
            };
        }
        // [B, 128, H/4, W/4] -> [B, 64, H/2, W/2] -> [B, 32, H, W] -> [B, 3, H, W]
        let ys = norm!(13, &self.in4, &self.deconv1.forward(&ys)?, true);
        let ys = norm!(14, &self.in5, &self.deconv2.forward(&ys)?, true);
        Ok(Some(self.deconv3.forward(&ys)?))
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
    fn parameter_list_matches_what_the_network_creates() -> anyhow::Result<()> {
        let varmap = VarMap::new();
        TransformerNet::new(
            Precision::F32,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )?;
        let created = varmap.data().lock().unwrap();
        let listed = TransformerNet::parameter_shapes();
        assert_eq!(created.len(), listed.len());
        let mut count = 0;
        for (key, shape) in &listed {
            let var = created
                .get(key)
                .unwrap_or_else(|| panic!("{key} not created"));
            assert_eq!(var.dims(), shape.as_slice(), "{key}");
            count += shape.iter().product::<usize>();
        }
        // pytorch/examples' TransformerNet: about 1.68 M parameters.
        assert!((1_670_000..1_690_000).contains(&count), "{count}");
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
