//! Files in and out: images, model files, safetensors reading, and the atomic write that every
//! file Fauve makes goes through.

pub(crate) mod atomic_write;
pub(crate) mod file_identity;
pub(crate) mod file_name;
pub(crate) mod image;
pub(crate) mod model_file;
#[cfg(feature = "onnx")]
pub(crate) mod onnx_export;

use std::path::Path;

/// The folder a file at `path` is (or would be) in: its parent, or `.` for a bare name.
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
