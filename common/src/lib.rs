//! Fauve: fast feed-forward neural style transfer.
//!
//! This crate holds everything the trainer and the stylizer share, and is what other programs
//! link to run a trained model:
//!
//! ```no_run
//! # fn main() -> fauve::Result<()> {
//! let device = fauve::parse_device("cpu")?;
//! let stylizer = fauve::Stylizer::load("starry_night.safetensors", &device)?;
//! let photo = fauve::load_image("photo.jpg".as_ref())?;
//! fauve::save_image(&stylizer.stylize(&photo)?, "photo-starry.png".as_ref())?;
//! # Ok(())
//! # }
//! ```

mod allocator;
mod atomic_write;
pub mod conv;
mod cpu_conv;
mod cpu_gather;
mod cpu_norm;
mod cpu_slice;
mod custom_grad;
mod device;
mod error;
mod image_io;
mod layers;
pub mod loss;
mod model_file;
mod norm;
mod padding;
mod pool;
mod precision;
mod safetensors_file;
mod stylizer;
#[cfg(test)]
mod test_util;
mod transformer;
mod vgg;

pub use allocator::keep_freed_memory;
pub use atomic_write::{atomic_write, PendingWrite, PARTIAL_SUFFIX};
pub use device::{parse_device, CUDA_COMPILED};
pub use error::{report, Error, Result};
pub use image_io::{
    has_image_extension, image_to_tensor, load_image, output_format, resize_for_stylizing,
    save_image, tensor_to_image, to_rgb, IMAGE_EXTENSIONS, JPEG_QUALITY,
};
pub use layers::{ConvLayer, UpsampleConvLayer};
pub use model_file::{save_model_file, ModelFile, ModelMetadata, FORMAT_NAME, FORMAT_VERSION};
pub use norm::{InstanceNorm, INSTANCE_NORM_EPS};
pub use padding::reflection_pad2d;
pub use precision::Precision;
pub use safetensors_file::SafetensorsFile;
pub use stylizer::{Stylizer, MIN_SIDE};
pub use transformer::{TransformerNet, ARCHITECTURE};
pub use vgg::{Preprocess, Vgg16, VggFeatures, PREPROCESS_KEY, TAP_NAMES};

/// Re-exported so callers use the same candle as the library.
pub use candle_core;
/// Re-exported so callers use the same candle-nn as the library.
pub use candle_nn;
/// Re-exported so callers use the same image crate as the library.
pub use image;
