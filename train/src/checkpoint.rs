//! Checkpoints for resuming: the model, Adam's moments and step count, the position in the
//! data stream and the config, in one safetensors file under `checkpoints/`. Written to a
//! temporary name, flushed, then renamed, so a crash never leaves a half-written file under a
//! final name and the last good checkpoint always survives.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use fauve::SafetensorsFile;

use crate::data::DataPosition;
use crate::run_inputs::{InputHashes, EXTEND_KEY, STYLE_KEY, VGG_KEY};

const MARKER: &str = "fauve_checkpoint";
const PREFIX: &str = "step-";
const SUFFIX: &str = ".safetensors";

/// Fault injection for tests: when this variable is `before_rename`, the process aborts after
/// writing the temporary file and before renaming it, as a crash or kill would.
pub const FAULT_ENV: &str = "FAUVE_FAULT";

/// Everything besides tensors that a resume needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    pub step: usize,
    pub data: DataPosition,
    /// Indices (in the sorted file list) of photos found unreadable so far.
    pub bad_files: BTreeSet<usize>,
    pub config_toml: String,
    /// [`crate::data::PhotoSet::fingerprint`] of the photo set (None in older checkpoints).
    pub data_fingerprint: Option<String>,
    /// The painting's and the VGG file's hashes when the run started (None in older
    /// checkpoints).
    pub inputs: Option<InputHashes>,
}

/// A checkpoint read back from disk.
pub struct Checkpoint {
    pub path: PathBuf,
    pub state: TrainState,
    file: SafetensorsFile,
}

impl Checkpoint {
    /// Tensor `name` of the checkpoint on `device`.
    pub fn tensor(&self, name: &str, device: &Device) -> Result<Tensor> {
        Ok(self.file.tensor_f32(name, None, device)?)
    }
}

fn file_name(step: usize) -> String {
    format!("{PREFIX}{step:08}{SUFFIX}")
}

fn step_of(path: &Path) -> Option<usize> {
    path.file_name()?
        .to_str()?
        .strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

/// Completed checkpoints in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| step_of(&p).map(|s| (s, p)))
        .collect();
    out.sort();
    out
}

/// Writes a checkpoint for `state.step` into `dir` and deletes all but the newest `keep`.
pub fn save(
    dir: &Path,
    tensors: Vec<(String, Tensor)>,
    state: &TrainState,
    keep: usize,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut meta = HashMap::from([
        (MARKER.to_string(), "1".to_string()),
        ("step".to_string(), state.step.to_string()),
        ("epoch".to_string(), state.data.epoch.to_string()),
        ("position".to_string(), state.data.position.to_string()),
        (
            "bad_files".to_string(),
            state
                .bad_files
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("config".to_string(), state.config_toml.clone()),
    ]);
    if let Some(f) = &state.data_fingerprint {
        meta.insert("data_fingerprint".to_string(), f.clone());
    }
    if let Some(h) = &state.inputs {
        meta.insert(STYLE_KEY.to_string(), h.style_image.clone());
        meta.insert(VGG_KEY.to_string(), h.vgg.clone());
        if let Some(e) = &h.extend {
            meta.insert(EXTEND_KEY.to_string(), e.clone());
        }
    }
    let tensors = tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<Result<Vec<_>>>()?;
    let bytes =
        safetensors::serialize(tensors, Some(meta)).context("cannot serialize checkpoint")?;
    let final_path = dir.join(file_name(state.step));
    let pending = fauve::PendingWrite::new(&final_path, &bytes).with_context(|| {
        format!(
            "cannot write checkpoint {} (disk full?)",
            final_path.display()
        )
    })?;
    if std::env::var(FAULT_ENV).as_deref() == Ok("before_rename") {
        // Simulated crash: keep the partial file on disk, as a kill would.
        pending.abandon();
        std::process::abort();
    }
    pending
        .commit()
        .with_context(|| format!("cannot rename checkpoint into {}", final_path.display()))?;
    prune(dir, state.step, keep);
    Ok(final_path)
}

/// Deletes all but the newest `keep` checkpoints up to `step`, the one just written. Files of
/// later steps are not this run's past (a resume starts from the newest readable checkpoint),
/// so they are never what pruning removes.
fn prune(dir: &Path, step: usize, keep: usize) {
    let older: Vec<_> = list(dir).into_iter().filter(|(s, _)| *s <= step).collect();
    for (_, old) in older.iter().take(older.len().saturating_sub(keep.max(1))) {
        let _ = std::fs::remove_file(old);
    }
}

fn read(path: &Path) -> Result<Checkpoint> {
    let file = SafetensorsFile::open(path)?;
    let meta = file.metadata()?;
    if meta.get(MARKER).map(String::as_str) != Some("1") {
        bail!("{}: not a Fauve checkpoint", path.display());
    }
    let num = |k: &str| -> Result<usize> {
        meta.get(k)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{}: checkpoint metadata lacks `{k}`", path.display()))
    };
    let state = TrainState {
        step: num("step")?,
        data: DataPosition {
            epoch: num("epoch")?,
            position: num("position")?,
        },
        bad_files: meta
            .get("bad_files")
            .map(|s| s.split(',').filter_map(|i| i.parse().ok()).collect())
            .unwrap_or_default(),
        config_toml: meta
            .get("config")
            .cloned()
            .with_context(|| format!("{}: checkpoint has no config", path.display()))?,
        data_fingerprint: meta.get("data_fingerprint").cloned(),
        inputs: match (meta.get(STYLE_KEY), meta.get(VGG_KEY)) {
            (Some(style_image), Some(vgg)) => Some(InputHashes {
                style_image: style_image.clone(),
                vgg: vgg.clone(),
                extend: meta.get(EXTEND_KEY).cloned(),
            }),
            _ => None,
        },
    };
    Ok(Checkpoint {
        path: path.to_path_buf(),
        state,
        file,
    })
}

/// Suffix given to a checkpoint that does not read back, so that it stays for inspection but
/// out of the listing.
pub const DAMAGED_SUFFIX: &str = ".damaged";

/// The newest checkpoint in `dir` that reads back whole; damaged ones are reported and renamed
/// aside (`DAMAGED_SUFFIX`), and leftover temporary files are removed.
pub fn latest(dir: &Path) -> Result<Option<Checkpoint>> {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.to_string_lossy().ends_with(fauve::PARTIAL_SUFFIX) {
            eprintln!("warning: removing unfinished checkpoint {}", p.display());
            let _ = std::fs::remove_file(&p);
        }
    }
    for (_, path) in list(dir).into_iter().rev() {
        match read(&path) {
            Ok(c) => return Ok(Some(c)),
            Err(e) => set_aside(&path, &e),
        }
    }
    Ok(None)
}

/// Reports a damaged checkpoint and renames it out of the listing.
fn set_aside(path: &Path, e: &anyhow::Error) {
    let mut aside = path.as_os_str().to_owned();
    aside.push(DAMAGED_SUFFIX);
    match std::fs::rename(path, &aside) {
        Ok(()) => eprintln!(
            "warning: skipping damaged checkpoint (kept as {}): {e:#}",
            Path::new(&aside).display()
        ),
        Err(_) => eprintln!("warning: skipping damaged checkpoint: {e:#}"),
    }
}
