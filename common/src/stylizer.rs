//! The one call other programs need: load a model file once, then stylize images with it.

use std::path::Path;

use candle_core::{Device, Module, Tensor};
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};

use crate::adjust::{self, StyleOptions};
use crate::error::{Error, Result};
use crate::io::image::{image_to_tensor, tensor_to_image};
use crate::io::model_file::{ModelFile, ModelMetadata};
use crate::model::transformer::TransformerNet;
use crate::precision::Precision;

/// Smallest image side the network accepts (its 9x9 reflection-padded convs need more than 4
/// pixels, and the downsampling halves the size twice).
pub const MIN_SIDE: u32 = 8;

/// A loaded style model, ready to stylize images in one forward pass each.
#[derive(Debug, Clone)]
pub struct Stylizer {
    net: TransformerNet,
    metadata: ModelMetadata,
    device: Device,
}

impl Stylizer {
    /// Loads the model file at `path` onto `device`.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let file = ModelFile::load(path.as_ref(), device)?;
        Ok(Self {
            net: file.network(device, Precision::F32)?,
            metadata: file.metadata,
            device: device.clone(),
        })
    }

    /// Wraps an already built network (e.g. one being trained) for stylizing.
    pub fn from_network(net: TransformerNet, metadata: ModelMetadata, device: &Device) -> Self {
        Self {
            net,
            metadata,
            device: device.clone(),
        }
    }

    /// What the model file says about itself.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The raw network output for a `[B, 3, H, W]` RGB batch in 0..255: unclamped, and a few
    /// pixels larger than the input when a side is not a multiple of 4.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(self.net.forward(xs)?)
    }

    /// Stylizes one image. The result has the input's size; alpha is composited over white.
    pub fn stylize(&self, img: &DynamicImage) -> Result<RgbImage> {
        let (w, h) = (img.width(), img.height());
        if w < MIN_SIDE || h < MIN_SIDE {
            return Err(Error::Invalid(format!(
                "image is {w}x{h}; stylizing needs at least {MIN_SIDE}x{MIN_SIDE} pixels"
            )));
        }
        let xs = image_to_tensor(img, &self.device)?;
        let out = tensor_to_image(&self.forward(&xs)?)?;
        if out.dimensions() == (w, h) {
            return Ok(out);
        }
        Ok(image::imageops::resize(&out, w, h, FilterType::CatmullRom))
    }

    /// Stylizes one image and finishes it as `options` say (the photo's colours kept, the
    /// style's strength reduced); [`Stylizer::stylize`] with the default options.
    pub fn stylize_with(&self, img: &DynamicImage, options: &StyleOptions) -> Result<RgbImage> {
        options.validate()?;
        let stylized = self.stylize(img)?;
        if options.is_identity() {
            return Ok(stylized);
        }
        adjust::finish(&crate::to_rgb(img), stylized, options)
    }
}
