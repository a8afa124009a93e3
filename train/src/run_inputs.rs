//! The two files a run's objective is made of, the painting and the VGG weights, identified by
//! SHA-256 when the run starts, so that resuming a run or scoring its model later can tell
//! when either was replaced (the same path, another picture or network).

use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::config::TrainConfig;

/// Checkpoint and model-metadata keys of the hashes.
pub const STYLE_KEY: &str = "style_image_sha256";
pub const VGG_KEY: &str = "vgg_sha256";
/// Checkpoint key of the hash of the model an `--extend` run adds a style to.
pub const EXTEND_KEY: &str = "extend_sha256";

/// SHA-256 (hex) of the painting and of the VGG file a run trains against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputHashes {
    /// The painting's hash; for several paintings, theirs in style order joined by commas.
    pub style_image: String,
    pub vgg: String,
    /// The model being extended (`extend`), if any.
    pub extend: Option<String>,
}

/// SHA-256 of the file at `path`, in hex, read in pieces (a VGG file is hundreds of MB).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The error for `path` not being the file a run or model recorded (`role`, e.g. "the VGG
/// file MODEL was made with"): both hashes shortened, what would go wrong and what to do. A
/// recorded hash comes from a file's metadata, so it is shortened by characters, not bytes.
pub fn hash_mismatch(
    path: &Path,
    role: &str,
    then: &str,
    now: &str,
    what: &str,
    hint: &str,
) -> anyhow::Error {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    anyhow::anyhow!(
        "{} is not {role} (SHA-256 {} then, {} now): {what}\n\nhint: {hint}",
        path.display(),
        short(then),
        short(now)
    )
}

impl InputHashes {
    /// The hashes of the files `cfg` names, as they are now.
    pub fn of(cfg: &TrainConfig) -> Result<Self> {
        Ok(Self {
            style_image: cfg
                .style_paths()
                .iter()
                .map(|p| sha256_file(p))
                .collect::<Result<Vec<_>>>()?
                .join(","),
            vgg: sha256_file(&cfg.vgg_path())?,
            extend: cfg.extend.as_deref().map(sha256_file).transpose()?,
        })
    }

    /// Fails, naming the file, when either hash differs from the one recorded in `source` (a
    /// checkpoint, a model); `what` says what would go wrong, `hint` what to do. A hash
    /// that was not recorded (older files) is not checked.
    pub fn check(
        &self,
        cfg: &TrainConfig,
        recorded_style: Option<&str>,
        recorded_vgg: Option<&str>,
        source: &Path,
        what: &str,
        hint: &str,
    ) -> Result<()> {
        let mut files = vec![(recorded_vgg, self.vgg.as_str(), cfg.vgg_path(), "VGG file")];
        let paths = cfg.style_paths();
        let now_styles: Vec<&str> = self.style_image.split(',').collect();
        let then_styles: Option<Vec<&str>> = recorded_style.map(|r| r.split(',').collect());
        for (i, path) in paths.into_iter().enumerate() {
            let then = then_styles
                .as_ref()
                .map(|t| t.get(i).copied().unwrap_or("none"));
            let now = now_styles.get(i).copied().unwrap_or_default();
            files.push((then, now, path, "style image"));
        }
        for (recorded, now, path, kind) in files {
            let Some(recorded) = recorded else { continue };
            if recorded != now {
                let role = format!("the {kind} {} was made with", source.display());
                return Err(hash_mismatch(&path, &role, recorded, now, what, hint));
            }
        }
        Ok(())
    }
}
