//! Fauve: fast feed-forward neural style transfer.
//!
//! This crate holds everything the trainer and the stylizer share, and is what other programs
//! link to run a trained model:
//!
//! ```no_run
//! # fn main() -> fauve::Result<()> {
//! let device = fauve::parse_device("cpu")?;
//! let stylizer = fauve::Stylizer::load("styles/starry_night.safetensors", &device)?;
//! let photo = fauve::load_image("photo.jpg".as_ref())?;
//! fauve::save_image(&stylizer.stylize(&photo)?, "photo-starry.png".as_ref())?;
//! # Ok(())
//! # }
//! ```
//!
//! Cargo features: `cuda` and `cudnn` (GPU), `onnx` ([`save_onnx`]: export a model for other
//! runtimes).

// Layers, each depending only on those below it (scripts/check-import-cycles.py checks that
// no two modules or folders import each other, at any depth): `io` (model files, images) on
// `model` (networks and losses) on `ops` (differentiable ops) on `cpu` and `cuda` (kernels) on
// `custom_grad` (ops with their own backward); `safetensors_file` serves `model` and `io`.
// ARCHITECTURE.md at the repository root draws the whole map.
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod custom_grad;
mod io;
mod model;
#[cfg(any(test, feature = "cuda"))]
mod norm_passes;
mod ops;
mod safetensors_file;

mod adjust;
mod allocator;
mod device;
mod error;
mod memory;
/// The camera's motion between video frames (public for `examples/motion_cost.rs`).
pub mod motion;
mod precision;
/// Per-op timings (`fauve-bench --profile`).
pub mod profile;
mod sequence;
mod stroke_scale;
mod style_choice;
mod stylizer;
#[cfg(test)]
mod test_util;
mod tiling;
// The test helpers name the library `fauve`, as the end-to-end tests that share them do.
#[cfg(test)]
extern crate self as fauve;

pub use adjust::{blend, preserve_colors, StyleOptions};
pub use allocator::keep_freed_memory;
pub use device::{parse_device, CUDA_COMPILED};
pub use error::{report, Error, Result};
pub use io::atomic_write::{atomic_write, persist_partial, PendingWrite, PARTIAL_SUFFIX};
pub use io::file_identity::{canonical_target, same_file, FileId};
pub use io::file_name::file_name_safe;
pub use io::image::{
    decode_image, decode_image_within, has_image_extension, image_to_tensor, load_image,
    load_image_within, output_format, resize_for_stylizing, save_image, tensor_to_image, to_rgb,
    IMAGE_EXTENSIONS, JPEG_QUALITY,
};
pub use io::model_file::{
    save_model_file, ModelFile, ModelMetadata, StyleEntry, FORMAT_NAME, FORMAT_VERSION,
};
#[cfg(feature = "onnx")]
pub use io::onnx_export::{
    onnx_bytes, save_onnx, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT, ONNX_STYLE_INPUT,
};
pub use model::architecture::Architecture;
pub use model::instance_norm::InstanceNorm;
pub use model::layers::{ConvLayer, UpsampleConvLayer};
/// The perceptual losses (content, Gram style, total variation).
pub use model::loss;
pub use model::preprocess::{Preprocess, PREPROCESS_KEY};
pub use model::style_bank::StyleBank;
pub use model::tap_target::TapTarget;
pub use model::transformer::{TransformerNet, MIN_SIDE};
pub use model::vgg::{Vgg, VggFeatures, VggInfo, TAP_NAMES};
pub use model::vgg_layout::{VggNet, NETWORK_KEY};
/// The differentiable convolutions the networks are made of.
pub use ops::conv;
pub use ops::instance_norm::INSTANCE_NORM_EPS;
pub use ops::reflection_pad::reflection_pad2d;
pub use precision::{allow_tf32, tf32_allowed, Precision};
pub use safetensors_file::SafetensorsFile;
pub use sequence::{FrameStylizer, VideoOptions, DEFAULT_BLEND, DEFAULT_MOMENTUM};
pub use stroke_scale::{network_size as stroke_network_size, MAX_STROKE_SCALE};
pub use style_choice::StyleChoice;
pub use stylizer::Stylizer;
pub use tiling::{Tiling, DEFAULT_OVERLAP, MAX_OVERLAP, MAX_TILE, MIN_TILE};

/// Re-exported so callers use the same candle as the library.
pub use candle_core;
/// Re-exported so callers use the same candle-nn as the library.
pub use candle_nn;
/// Re-exported so callers use the same image crate as the library.
pub use image;
