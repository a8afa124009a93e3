//! The one call other programs need: load a model file once, then stylize images with it.

use std::borrow::Cow;
use std::path::Path;

use candle_core::{Device, Module, Tensor};
use image::{DynamicImage, RgbImage};

use crate::adjust::{self, StyleOptions};
use crate::error::{Error, Result};
use crate::io::image::{image_to_tensor, tensor_to_image};
use crate::io::model_file::{ModelFile, ModelMetadata};
use crate::model::style_bank::StyleBank;
use crate::model::transformer::{TransformerNet, MIN_SIDE};
use crate::precision::Precision;
use crate::stroke_scale;
use crate::style_choice::{Resolved, StyleChoice};
use crate::tiling::{Tiling, MAX_TILE};

/// A loaded style model, ready to stylize images in one forward pass each. A multi-style model
/// stylizes with the style or mix its [`StyleOptions::style`] names.
#[derive(Debug, Clone)]
pub struct Stylizer {
    /// The network of a one-style model (None for a multi-style one: it has no default).
    net: Option<TransformerNet>,
    /// A multi-style model's shared convs and norm tables.
    bank: Option<StyleBank>,
    metadata: ModelMetadata,
    device: Device,
}

impl Stylizer {
    /// Loads the model file at `path` onto `device`.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let file = ModelFile::load(path.as_ref(), device)?;
        let (net, bank) = if file.metadata.n_styles() > 1 {
            (None, Some(file.bank(Precision::F32)?))
        } else {
            (Some(file.network(device, Precision::F32)?), None)
        };
        Ok(Self {
            net,
            bank,
            metadata: file.metadata,
            device: device.clone(),
        })
    }

    /// Wraps an already built network (e.g. one being trained) for stylizing.
    pub fn from_network(net: TransformerNet, metadata: ModelMetadata, device: &Device) -> Self {
        Self {
            net: Some(net),
            bank: None,
            metadata,
            device: device.clone(),
        }
    }

    /// The model's styles by name, in index order (one for a one-style model).
    pub fn styles(&self) -> Vec<String> {
        self.metadata.style_names()
    }

    /// The weight of each style under `choice`, one per style in index order, summing to 1:
    /// checks a choice before any image is read, and says what a mix is made of.
    pub fn style_weights(&self, choice: &StyleChoice) -> Result<Vec<f32>> {
        let n = self.styles().len();
        Ok(match choice.resolve(&self.styles())? {
            Resolved::Row(i) => (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect(),
            Resolved::Weights(w) => w,
        })
    }

    /// A one-style stylizer of `choice`, for callers that run [`Stylizer::forward`] or
    /// [`Stylizer::stylize`] directly: its metadata is the model's, as one style named after
    /// the choice (`NAME`, or `mix` for a mix).
    pub fn with_style(&self, choice: &StyleChoice) -> Result<Stylizer> {
        let name = match choice.resolve(&self.styles())? {
            Resolved::Row(i) => self.styles().swap_remove(i),
            Resolved::Weights(_) => "mix".to_string(),
        };
        Ok(Self {
            net: Some(self.network_for(choice)?.into_owned()),
            bank: None,
            metadata: ModelMetadata {
                style_name: Some(name),
                styles: Vec::new(),
                ..self.metadata.clone()
            },
            device: self.device.clone(),
        })
    }

    /// The network of the model's only style ([`Error::StyleNeeded`] for a multi-style one).
    pub(crate) fn network(&self) -> Result<&TransformerNet> {
        self.net.as_ref().ok_or_else(|| Error::StyleNeeded {
            styles: self.styles(),
        })
    }

    /// The network for `choice`: a one-style model's own, or the chosen style's or mix's
    /// norm parameters with the shared convs.
    pub(crate) fn network_for(&self, choice: &StyleChoice) -> Result<Cow<'_, TransformerNet>> {
        let resolved = choice.resolve(&self.styles())?;
        match (&self.bank, resolved) {
            (None, _) => Ok(Cow::Borrowed(self.network()?)),
            (Some(bank), Resolved::Row(i)) => Ok(Cow::Owned(bank.network_for(i)?)),
            (Some(bank), Resolved::Weights(w)) => Ok(Cow::Owned(bank.network_mixed(&w)?)),
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
    /// pixels larger than the input when a side is not a multiple of 4. One-style models only
    /// (see [`Stylizer::stylize_with`] for the others).
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(self.network()?.forward(xs)?)
    }

    /// Stylizes one image in one forward pass with a one-style model. The result has the
    /// input's size; alpha is composited over white.
    pub fn stylize(&self, img: &DynamicImage) -> Result<RgbImage> {
        stylize_whole(self.network()?, img, &self.device)
    }

    /// Stylizes one image and finishes it as `options` say (the photo's colours kept, the
    /// style's strength reduced; in tiles when asked or when one pass would not fit in memory);
    /// [`Stylizer::stylize`] with the default options.
    pub fn stylize_with(&self, img: &DynamicImage, options: &StyleOptions) -> Result<RgbImage> {
        self.stylize_with_progress(img, options, &mut |_, _| {})
    }

    /// [`Stylizer::stylize_with`], calling `progress(done, total)` as tiles are done (a tiled
    /// image takes 16 passes over its tiles; an untiled one calls it once, at the end).
    pub fn stylize_with_progress(
        &self,
        img: &DynamicImage,
        options: &StyleOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RgbImage> {
        let tiling = self.tiling_for(img.width(), img.height(), options)?;
        self.stylize_planned(img, options, tiling, progress)
    }

    /// [`Stylizer::stylize_with_progress`] in the tiles already chosen (by
    /// [`Stylizer::tiling_for`], say, whose answer a caller may want to show first), or in one
    /// pass when `tiling` is None.
    pub fn stylize_planned(
        &self,
        img: &DynamicImage,
        options: &StyleOptions,
        tiling: Option<Tiling>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RgbImage> {
        options.validate()?;
        let net = self.network_for(&options.style)?;
        let run = |img: &DynamicImage, progress: &mut dyn FnMut(usize, usize)| match tiling {
            None => stylize_whole(&net, img, &self.device),
            Some(tiling) => stylize_in_tiles(&net, img, &self.device, tiling, progress),
        };
        let stylized = if options.stroke_scale == 1.0 {
            run(img, progress)?
        } else {
            let photo = crate::to_rgb(img);
            let small = stroke_scale::shrink(&photo, options.stroke_scale);
            let out = run(&DynamicImage::ImageRgb8(small.clone()), progress)?;
            stroke_scale::enlarge(&out, &small, &photo)
        };
        progress(1, 1);
        if options.is_identity() {
            return Ok(stylized);
        }
        adjust::finish(&crate::to_rgb(img), stylized, options)
    }

    /// Stylizes one image in tiles (see [`Tiling`]) with a one-style model, calling
    /// `progress(done, total)` after each tile pass. The result has the input's size.
    pub fn stylize_tiled(
        &self,
        img: &DynamicImage,
        tiling: Tiling,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RgbImage> {
        stylize_in_tiles(self.network()?, img, &self.device, tiling, progress)
    }

    /// The tiles a `width` x `height` image is stylized in under `options`: those asked for,
    /// else None when one forward pass (at the size the stroke scale gives) fits in the memory
    /// budget, else the largest tiles that fit. Errors when the options' tile side, overlap or
    /// stroke scale is out of bounds.
    pub fn tiling_for(
        &self,
        width: u32,
        height: u32,
        options: &StyleOptions,
    ) -> Result<Option<Tiling>> {
        stroke_scale::validate(options.stroke_scale)?;
        let (width, height) = stroke_scale::network_size(width, height, options.stroke_scale);
        let budget = options.max_memory.unwrap_or_else(|| self.memory_budget());
        // A third of the budget for one tile's pass, a third for keeping tiles' activations
        // between passes (as many as fit: it saves recomputing them), a third for the image,
        // the result and what the allocator holds on to.
        let with_cache = |tile| {
            Ok(Some(
                Tiling::new(tile, options.overlap)?.with_cache_bytes(budget / 3),
            ))
        };
        if let Some(tile) = options.tile {
            return with_cache(tile);
        }
        let per_pixel = bytes_per_pixel(&self.device);
        let pixels =
            |w: u32, h: u32| u64::from(w.next_multiple_of(4)) * u64::from(h.next_multiple_of(4));
        if pixels(width, height) * per_pixel <= budget {
            return Ok(None);
        }
        let side = ((budget / 3 / per_pixel) as f64).sqrt() as u32;
        let tile = side
            .saturating_sub(options.overlap.saturating_mul(2))
            .clamp(crate::tiling::MIN_TILE, MAX_TILE);
        with_cache(tile)
    }

    /// The default memory budget of a forward pass on this stylizer's device: half the memory
    /// the system has available (CPU), or 80% of the GPU's free memory (CUDA).
    pub fn memory_budget(&self) -> u64 {
        default_budget(&self.device)
    }
}

/// One forward pass of `net` over `img`, cropped to its size.
fn stylize_whole(net: &TransformerNet, img: &DynamicImage, device: &Device) -> Result<RgbImage> {
    let (w, h) = (img.width(), img.height());
    check_size(w, h)?;
    let xs = image_to_tensor(img, device)?;
    let out = tensor_to_image(&net.forward(&xs)?)?;
    Ok(crop_to(out, w, h))
}

/// `net` over `img` in tiles, cropped to its size.
fn stylize_in_tiles(
    net: &TransformerNet,
    img: &DynamicImage,
    device: &Device,
    tiling: Tiling,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RgbImage> {
    check_size(img.width(), img.height())?;
    let rgb = crate::to_rgb(img);
    let (out, _) = crate::tiling::stylize_tiled(net, &rgb, device, tiling, progress)?;
    Ok(crop_to(out, img.width(), img.height()))
}

pub(crate) fn check_size(w: u32, h: u32) -> Result<()> {
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(Error::Invalid(format!(
            "image is {w}x{h}; stylizing needs at least {MIN_SIDE}x{MIN_SIDE} pixels"
        )));
    }
    Ok(())
}

/// The network's output cut to the input's size: the network rounds sides up to multiples of
/// 4, padding on the right and bottom, so the input's pixels are the top-left `w` x `h` ones
/// (cropped, never resampled, so each output pixel stays over its input pixel).
pub(crate) fn crop_to(out: RgbImage, w: u32, h: u32) -> RgbImage {
    if out.dimensions() == (w, h) {
        return out;
    }
    image::imageops::crop_imm(&out, 0, 0, w, h).to_image()
}

/// Peak memory of one forward pass per input pixel, measured with fauve-infer (docs/tiling.md):
/// the CPU kernels' activations and buffers, or candle's CUDA convolutions' im2col buffers.
fn bytes_per_pixel(device: &Device) -> u64 {
    if device.is_cpu() {
        CPU_BYTES_PER_PIXEL
    } else {
        CUDA_BYTES_PER_PIXEL
    }
}

const CPU_BYTES_PER_PIXEL: u64 = 460;
const CUDA_BYTES_PER_PIXEL: u64 = 5000;

fn default_budget(device: &Device) -> u64 {
    use crate::memory::FALLBACK_BUDGET as FALLBACK;
    match device {
        Device::Cpu => crate::memory::default_cpu_budget(),
        #[cfg(feature = "cuda")]
        Device::Cuda(dev) => dev
            .cuda_stream()
            .context()
            .mem_get_info()
            .map_or(FALLBACK, |(free, _)| free as u64 / 5 * 4),
        #[allow(unreachable_patterns)]
        _ => FALLBACK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    /// Sides that are not multiples of 4 come back at the input's size as the top-left part
    /// of the network's output, not resampled, whole or in tiles.
    #[test]
    fn odd_sides_are_cropped_not_resampled() -> anyhow::Result<()> {
        let varmap = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = TransformerNet::new(Precision::F32, vb)?;
        let stylizer = Stylizer::from_network(net, ModelMetadata::new(None, None), &Device::Cpu);
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(37, 29, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 9) as u8, ((x + y) * 3) as u8])
        }));
        let raw = tensor_to_image(&stylizer.forward(&image_to_tensor(&img, &Device::Cpu)?)?)?;
        assert_eq!(raw.dimensions(), (40, 32));
        let want = image::imageops::crop_imm(&raw, 0, 0, 37, 29).to_image();
        assert!(stylizer.stylize(&img)? == want);
        let tiled = stylizer.stylize_tiled(&img, Tiling::new(16, 200)?, &mut |_, _| {})?;
        assert_eq!(tiled.dimensions(), (37, 29));
        Ok(())
    }
}
