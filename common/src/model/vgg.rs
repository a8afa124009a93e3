//! The frozen VGG16 perceptual network up to relu4_3, loaded from a torchvision-layout
//! safetensors file (`features.N.weight/bias`). Its weights are plain tensors, never `Var`s, so
//! no optimizer can see them and no gradient is kept for them.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::{Error, Result};
use crate::io::safetensors_file::SafetensorsFile;
use crate::ops::conv::conv2d_bias;
use crate::precision::Precision;

/// `features.N` indices of the ten convs up to conv4_3.
const CONV_INDICES: [usize; 10] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21];
/// After which conv (position in [`CONV_INDICES`]) a feature is tapped and, but for the last,
/// a 2x2 max-pool follows.
const TAP_AFTER: [usize; 4] = [1, 3, 6, 9];

/// Names of the four tapped activations, in the order [`VggFeatures::taps`] holds them.
pub const TAP_NAMES: [&str; 4] = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"];

/// Metadata key naming the input preprocessing the weights were trained with.
pub const PREPROCESS_KEY: &str = "preprocess";

/// How an RGB 0..255 image must be transformed before the VGG16 weights see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocess {
    /// Caffe's original VGG: BGR order, 0..255, minus the per-channel mean.
    CaffeBgr,
    /// torchvision's VGG: RGB in 0..1, minus mean, divided by std.
    Torchvision,
}

impl Preprocess {
    /// The name used in metadata and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Preprocess::CaffeBgr => "caffe_bgr",
            Preprocess::Torchvision => "torchvision",
        }
    }

    /// Parses a metadata value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "caffe_bgr" => Some(Preprocess::CaffeBgr),
            "torchvision" => Some(Preprocess::Torchvision),
            _ => None,
        }
    }

    /// Applies the preprocessing to a `[B, 3, H, W]` RGB batch in 0..255.
    pub fn apply(self, xs: &Tensor) -> Result<Tensor> {
        let dev = xs.device();
        let per_channel = |v: [f32; 3]| Tensor::new(&v, dev)?.reshape((1, 3, 1, 1));
        Ok(match self {
            Preprocess::CaffeBgr => {
                let bgr = xs.index_select(&Tensor::new(&[2u32, 1, 0], dev)?, 1)?;
                bgr.broadcast_sub(&per_channel([103.939, 116.779, 123.68])?)?
            }
            Preprocess::Torchvision => (xs / 255.0)?
                .broadcast_sub(&per_channel([0.485, 0.456, 0.406])?)?
                .broadcast_div(&per_channel([0.229, 0.224, 0.225])?)?,
        })
    }
}

/// The four tapped activations of one batch: relu1_2, relu2_2, relu3_3, relu4_3.
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

/// VGG16 convs up to relu4_3 with their preprocessing.
#[derive(Debug, Clone)]
pub struct Vgg16 {
    /// (weight, bias) of each conv; constants.
    convs: Vec<(Tensor, Tensor)>,
    preprocess: Preprocess,
}

impl Vgg16 {
    /// Builds the network from `vb` (keys `features.N.weight` and `.bias`, as in torchvision's
    /// state dict; constants, never trained) for inputs preprocessed as `preprocess`. Channel
    /// counts come from the tensors' shapes, so narrow test networks build too. The convs run
    /// in `precision` (weights converted once); the taps come back in the input's dtype, so
    /// Gram matrices and losses accumulate in f32.
    pub fn new(vb: VarBuilder, preprocess: Preprocess, precision: Precision) -> Result<Self> {
        let dtype = precision.conv_dtype();
        let mut convs = Vec::with_capacity(CONV_INDICES.len());
        let mut in_channels = 3;
        for idx in CONV_INDICES {
            let key = format!("features.{idx}.weight");
            let weight = vb.get_unchecked(&key)?;
            let out_channels = weight.dims().first().copied().unwrap_or(0);
            let expected = [out_channels, in_channels, 3, 3];
            if weight.dims() != expected {
                return Err(Error::Invalid(format!(
                    "VGG16 tensor `{key}` has shape {:?}, expected {expected:?}",
                    weight.dims()
                )));
            }
            let bias = vb.get(out_channels, &format!("features.{idx}.bias"))?;
            convs.push((weight.to_dtype(dtype)?, bias.to_dtype(dtype)?));
            in_channels = out_channels;
        }
        Ok(Self { convs, preprocess })
    }

    /// Loads the network from the safetensors file at `path` (see [`Vgg16::new`]). The
    /// preprocessing comes from the file's `preprocess` metadata, and a file without it is
    /// refused; tensors of the wrong shape or dtype are named with the file.
    pub fn load(path: &Path, device: &Device, precision: Precision) -> Result<Self> {
        let file = SafetensorsFile::open(path)?;
        let meta = file.metadata()?;
        let preprocess = match meta.get(PREPROCESS_KEY) {
            Some(v) => Preprocess::parse(v).ok_or_else(|| Error::Metadata {
                path: path.to_path_buf(),
                message: format!(
                    "metadata `{PREPROCESS_KEY}` is `{v}`; expected `caffe_bgr` or `torchvision`"
                ),
            })?,
            None => {
                return Err(Error::Metadata {
                    path: path.to_path_buf(),
                    message: format!(
                        "no `{PREPROCESS_KEY}` metadata, so the input preprocessing of these VGG16 weights is unknown\n\nhint: run scripts/fetch-vgg16.sh to make a file that has it, or add `{PREPROCESS_KEY}` = `caffe_bgr` (Caffe/Keras weights) or `torchvision` (torchvision weights) to the safetensors metadata"
                    ),
                })
            }
        };
        let mut tensors = HashMap::new();
        let mut in_channels = 3;
        for idx in CONV_INDICES {
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
        Self::new(vb, preprocess, precision)
    }

    /// The preprocessing these weights expect.
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// Runs a `[B, 3, H, W]` RGB batch in 0..255 through the network (preprocessing included)
    /// and returns the four taps. Gradients flow to `xs` only.
    pub fn features(&self, xs: &Tensor) -> Result<VggFeatures> {
        let taps: [Tensor; 4] = self
            .taps_up_to(xs, 4)?
            .try_into()
            .map_err(|_| Error::Invalid("VGG16 produced the wrong number of taps".into()))?;
        Ok(VggFeatures { taps })
    }

    /// The first `n` taps only (1..=4), stopping the network early: the content target needs
    /// relu2_2 alone, which saves most of the cost of a full pass.
    pub fn taps_up_to(&self, xs: &Tensor, n: usize) -> Result<Vec<Tensor>> {
        let n = n.clamp(1, 4);
        let dtype = self.convs.first().map_or(DType::F32, |(w, _)| w.dtype());
        let mut ys = self.preprocess.apply(xs)?.to_dtype(dtype)?;
        let mut taps = Vec::with_capacity(n);
        for (i, (weight, bias)) in self.convs.iter().enumerate() {
            ys = conv2d_bias(&ys, weight, bias, 1, 1, true)?;
            if TAP_AFTER.contains(&i) {
                taps.push(ys.to_dtype(xs.dtype())?);
                if taps.len() == n {
                    break;
                }
                ys = crate::ops::max_pool::max_pool2x2(&ys)?;
            }
        }
        Ok(taps)
    }
}

impl Module for Vgg16 {
    /// The deepest tap, relu4_3 (use [`Vgg16::features`] for all four).
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let taps = self.taps_up_to(xs, 4).map_err(candle_core::Error::wrap)?;
        taps.into_iter()
            .last()
            .ok_or_else(|| candle_core::Error::Msg("VGG16 produced no taps".into()))
    }
}
