//! The input transformation a VGG file's weights were trained with, named in its metadata:
//! mixing up Caffe's and torchvision's silently ruins training, so a file must say which.

use candle_core::Tensor;

use crate::error::Result;

/// Metadata key naming the input preprocessing the weights were trained with.
pub const PREPROCESS_KEY: &str = "preprocess";

/// How an RGB 0..255 image must be transformed before the VGG weights see it.
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
