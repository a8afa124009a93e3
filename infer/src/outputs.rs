//! Where each result goes: next to its input, into a folder (mirroring the input folders'
//! sub-folders), or to one named file; and the guard that no input, and no earlier output of
//! the same run, is ever overwritten.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use fauve::FileId;

use crate::inputs::Job;

/// Where results go: next to each input, into a folder, or (one input only) to a named file.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputTarget {
    NextToInput,
    Folder(PathBuf),
    File(PathBuf),
}

impl OutputTarget {
    /// Interprets `-o`: an existing folder, or a name without an extension, is a folder; any
    /// other name is a file, whose extension must be a format the encoder writes, and which
    /// takes one input image only.
    pub fn from_arg(out: Option<&Path>) -> Result<Self> {
        let Some(out) = out else {
            return Ok(OutputTarget::NextToInput);
        };
        if out.is_dir() || out.extension().is_none() {
            return Ok(OutputTarget::Folder(out.to_path_buf()));
        }
        match fauve::output_format(out) {
            Ok(_) => Ok(OutputTarget::File(out.to_path_buf())),
            Err(e) => bail!(
                "-o {e}\n\nhint: for an output folder, give a name without an extension or create the folder first"
            ),
        }
    }

    /// Checks that a file target gets exactly one image.
    pub fn check_count(&self, images: usize) -> Result<()> {
        if let OutputTarget::File(f) = self {
            if images > 1 {
                bail!(
                    "-o {} names one file but the inputs hold {images} images\n\nhint: give a folder to -o",
                    f.display()
                );
            }
        }
        Ok(())
    }

    /// The output path for `job`: `<stem>-<suffix>.<ext>`, where ext is the input's own when
    /// it is PNG or JPEG (photos keep their kind), else `png`.
    pub fn path_for(&self, job: &Job, suffix: &str) -> PathBuf {
        let input = &job.input;
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let ext = input
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .filter(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
            .unwrap_or_else(|| "png".into());
        let name = format!("{stem}-{suffix}.{ext}");
        match self {
            OutputTarget::NextToInput => input.with_file_name(name),
            OutputTarget::Folder(dir) => dir.join(&job.subdir).join(name),
            OutputTarget::File(f) => f.clone(),
        }
    }
}

/// Refuses outputs that would replace an input or an output written earlier in the same run
/// (two inputs of the same name from different folders, say). Inputs are compared as files
/// (device and inode), so no spelling, link or hard link of an input gets through.
pub struct OverwriteGuard {
    inputs: HashSet<FileId>,
    claimed: HashSet<PathBuf>,
    written: HashSet<FileId>,
}

impl OverwriteGuard {
    /// A guard over these inputs (each identified once).
    pub fn new(jobs: &[Job]) -> Self {
        Self {
            inputs: jobs.iter().filter_map(|j| FileId::of(&j.input)).collect(),
            claimed: HashSet::new(),
            written: HashSet::new(),
        }
    }

    /// Claims `output` for one result; an error says why it may not be written.
    pub fn claim(&mut self, output: &Path) -> Result<()> {
        if let Some(id) = FileId::of(output) {
            if self.inputs.contains(&id) {
                bail!("output {} would overwrite an input", output.display());
            }
            if self.written.contains(&id) {
                bail!(
                    "output {} would overwrite another result of this run",
                    output.display()
                );
            }
        }
        if !self.claimed.insert(fauve::canonical_target(output)) {
            bail!(
                "output {} would overwrite another result of this run",
                output.display()
            );
        }
        Ok(())
    }

    /// Records that `output` was written, so that another spelling of it (a case-insensitive
    /// file system) is refused later in the run.
    pub fn written(&mut self, output: &Path) {
        if let Some(id) = FileId::of(output) {
            self.written.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(input: &str, subdir: &str) -> Job {
        Job {
            input: input.into(),
            subdir: subdir.into(),
        }
    }

    #[test]
    fn names_keep_jpeg_and_fall_back_to_png() {
        let t = OutputTarget::NextToInput;
        assert_eq!(
            t.path_for(&job("a/b.JPG", ""), "mosaic"),
            Path::new("a/b-mosaic.JPG")
        );
        assert_eq!(
            t.path_for(&job("a/b.webp", ""), "mosaic"),
            Path::new("a/b-mosaic.png")
        );
        let t = OutputTarget::Folder("out".into());
        assert_eq!(
            t.path_for(&job("in/trip/b.png", "trip"), "x"),
            Path::new("out/trip/b-x.png")
        );
    }

    #[test]
    fn a_named_file_takes_any_writable_format_and_one_image() {
        let t = OutputTarget::from_arg(Some(Path::new("out.webp"))).unwrap();
        assert_eq!(t, OutputTarget::File("out.webp".into()));
        assert!(t.check_count(1).is_ok());
        let err = t.check_count(2).unwrap_err().to_string();
        assert!(err.contains("names one file"), "{err}");
        let err = OutputTarget::from_arg(Some(Path::new("out.xyz")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("out.xyz") && err.contains(".png"), "{err}");
        assert_eq!(
            OutputTarget::from_arg(Some(Path::new("outdir"))).unwrap(),
            OutputTarget::Folder("outdir".into())
        );
    }

    #[test]
    fn the_guard_refuses_inputs_and_repeated_outputs() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let input = dir.path().join("a.png");
        std::fs::write(&input, b"x")?;
        let mut guard = OverwriteGuard::new(&[Job {
            input: input.clone(),
            subdir: PathBuf::new(),
        }]);
        let via_dots = dir.path().join("sub/../a.png");
        std::fs::create_dir(dir.path().join("sub"))?;
        assert!(guard.claim(&via_dots).is_err());
        let hard = dir.path().join("b.png");
        std::fs::hard_link(&input, &hard)?;
        let err = guard.claim(&hard).unwrap_err().to_string();
        assert!(err.contains("would overwrite an input"), "{err}");
        let out = dir.path().join("a-x.png");
        guard.claim(&out)?;
        assert!(guard.claim(&out).is_err());
        Ok(())
    }
}
