//! Which files to stylize and where each result goes: directories expand to the images in
//! them, and output names are chosen so that an input is never overwritten.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Expands inputs: files are kept as given (whatever their name; the decoder looks at content),
/// directories become their image files, sorted. A missing input is an error.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && fauve::has_image_extension(p))
                .collect();
            if found.is_empty() {
                eprintln!(
                    "warning: {}: no image files in this folder",
                    input.display()
                );
            }
            found.sort();
            out.extend(found);
        } else if input.exists() {
            out.push(input.clone());
        } else {
            bail!("{}: no such file or directory", input.display());
        }
    }
    Ok(out)
}

/// Where results go: next to each input, into a folder, or (one input only) to a named file.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputTarget {
    NextToInput,
    Folder(PathBuf),
    File(PathBuf),
}

impl OutputTarget {
    /// Interprets `-o`: a name ending in .png/.jpg/.jpeg that is not an existing folder is a
    /// file (allowed for a single input only); anything else is a folder.
    pub fn from_arg(out: Option<&Path>, n_inputs: usize) -> Result<Self> {
        let Some(out) = out else {
            return Ok(OutputTarget::NextToInput);
        };
        if !out.is_dir() && fauve::output_format(out).is_ok() {
            if n_inputs > 1 {
                bail!(
                    "-o {} names one file but there are {n_inputs} inputs\n\nhint: give a folder to -o",
                    out.display()
                );
            }
            return Ok(OutputTarget::File(out.to_path_buf()));
        }
        Ok(OutputTarget::Folder(out.to_path_buf()))
    }

    /// The output path for `input`: `<stem>-<suffix>.<ext>`, where ext is the input's own when
    /// it is PNG or JPEG, else `png`.
    pub fn path_for(&self, input: &Path, suffix: &str) -> PathBuf {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let ext = match fauve::output_format(input) {
            Ok(_) => input
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_else(|| "png".into()),
            Err(_) => "png".into(),
        };
        let name = format!("{stem}-{suffix}.{ext}");
        match self {
            OutputTarget::NextToInput => input.with_file_name(name),
            OutputTarget::Folder(dir) => dir.join(name),
            OutputTarget::File(f) => f.clone(),
        }
    }
}

/// Whether `a` and `b` are the same file (by canonical path when both exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A string safe to use in file names (style names come from model metadata).
pub fn file_name_safe(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "stylized".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_jpeg_and_fall_back_to_png() {
        let t = OutputTarget::NextToInput;
        assert_eq!(
            t.path_for(Path::new("a/b.JPG"), "mosaic"),
            Path::new("a/b-mosaic.JPG")
        );
        assert_eq!(
            t.path_for(Path::new("a/b.webp"), "mosaic"),
            Path::new("a/b-mosaic.png")
        );
        let t = OutputTarget::Folder("out".into());
        assert_eq!(
            t.path_for(Path::new("a/b.png"), "x"),
            Path::new("out/b-x.png")
        );
    }

    #[test]
    fn a_file_target_is_refused_for_many_inputs() {
        assert!(OutputTarget::from_arg(Some(Path::new("x.png")), 2).is_err());
        assert_eq!(
            OutputTarget::from_arg(Some(Path::new("x.png")), 1).unwrap(),
            OutputTarget::File("x.png".into())
        );
        assert_eq!(
            OutputTarget::from_arg(Some(Path::new("outdir")), 3).unwrap(),
            OutputTarget::Folder("outdir".into())
        );
    }

    #[test]
    fn style_names_are_made_file_safe() {
        assert_eq!(file_name_safe("starry night/v2"), "starry_night_v2");
        assert_eq!(file_name_safe(""), "stylized");
    }
}
