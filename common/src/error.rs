//! The library's typed error: every failure a caller can act on names the file, key or value
//! that caused it, so binaries can print it as is.

use std::path::PathBuf;

/// Errors returned by the `fauve` library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A numerical operation failed inside candle (shape mismatch, device error, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// A file could not be read or written. The OS error is part of the message and not
    /// also a `source()`, so printing the whole chain says it once.
    #[error("{}: {}", path.display(), io_message(error))]
    Io {
        path: PathBuf,
        error: std::io::Error,
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

    /// A tensor holds NaN or infinite values (a damaged file, or a training run that
    /// diverged): every image it made would be black or garbage.
    #[error("{}: tensor `{key}` holds {count} NaN or infinite value(s); the model is damaged", path.display())]
    NonFinite {
        path: PathBuf,
        key: String,
        count: usize,
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

    /// A multi-style model was asked to stylize without saying which style or mix.
    #[error("the model holds {} styles ({}); choose one of them, or a mix", styles.len(), numbered(styles))]
    StyleNeeded { styles: Vec<String> },

    /// A style was asked for by a name or index the model does not have.
    #[error("the model has no style `{asked}`; it holds {}", numbered(styles))]
    UnknownStyle { asked: String, styles: Vec<String> },
}

/// `0 starry_night, 1 autumn`.
fn numbered(styles: &[String]) -> String {
    let named: Vec<String> = styles
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{i} {s}"))
        .collect();
    named.join(", ")
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }
}

/// Marks the advice part of a message: `what went wrong\n\nhint: what to do`.
const HINT: &str = "\n\nhint: ";

/// An error and its chain of causes as one message for a person: the causes joined by `: `,
/// outermost first, then every `hint:` any of them carries, after all the causes (printing the
/// chain as is would put an outer message's hint before the cause it is about).
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut causes = Vec::new();
    let mut hints = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        let mut parts = text.split(HINT);
        causes.push(parts.next().unwrap_or_default().to_string());
        hints.extend(parts.map(str::to_string));
        next = e.source();
    }
    let mut out = causes.join(": ");
    for h in hints {
        out.push_str(HINT);
        out.push_str(&h);
    }
    out
}

/// The OS error without Rust's " (os error N)" tail, in lowercase like our own messages.
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot load the weights\n\nhint: run fetch.sh")]
    struct Outer(#[source] Error);

    #[test]
    fn a_report_puts_every_hint_after_all_causes() {
        let inner = Error::Invalid("no `preprocess` metadata\n\nhint: add it".into());
        let text = report(&Outer(inner));
        assert_eq!(
            text,
            "cannot load the weights: no `preprocess` metadata\n\nhint: run fetch.sh\n\nhint: add it"
        );
        let plain = Error::io("/x", std::io::Error::from_raw_os_error(2));
        assert_eq!(report(&plain), "/x: no such file or directory");
    }

    #[test]
    fn io_errors_say_the_path_and_the_reason_once() {
        let e = Error::io(
            "/x/y.jpg",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.to_string(), "/x/y.jpg: entity not found");
        assert!(std::error::Error::source(&e).is_none());
        let e = Error::io("/x", std::io::Error::from_raw_os_error(2));
        assert_eq!(e.to_string(), "/x: no such file or directory");
    }
}
