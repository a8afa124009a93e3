//! The library's typed error: every failure a caller can act on names the file, key or value
//! that caused it, so binaries can print it as is.

use std::path::PathBuf;

/// Errors returned by the `fauve` library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A numerical operation failed inside candle (shape mismatch, device error, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file is not a valid safetensors file (wrong format, truncated, bad header).
    #[error("{}: not a valid safetensors file ({reason})", path.display())]
    NotSafetensors { path: PathBuf, reason: String },

    /// A tensor the model needs is absent from the file.
    #[error("{}: missing tensor `{key}`", path.display())]
    MissingTensor { path: PathBuf, key: String },

    /// A tensor has a shape other than the one the architecture needs.
    #[error("{}: tensor `{key}` has shape {found:?}, expected {expected:?}", path.display())]
    WrongShape {
        path: PathBuf,
        key: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },

    /// A tensor is stored with an element type the model cannot use.
    #[error("{}: tensor `{key}` has dtype {dtype}, expected f32, f16 or bf16", path.display())]
    WrongDtype {
        path: PathBuf,
        key: String,
        dtype: String,
    },

    /// File metadata is missing or holds a value this version does not understand.
    #[error("{}: {message}", path.display())]
    Metadata { path: PathBuf, message: String },

    /// An image could not be decoded or encoded.
    #[error("{}: {message}", path.display())]
    Image { path: PathBuf, message: String },

    /// An argument is outside what the operation supports (too small an image, a bad device name).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
