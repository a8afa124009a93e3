//! What must hold before a run starts or resumes: a resumed run continues on the photos,
//! painting, VGG file and base model it started with, and a new style's name is new.

use anyhow::{bail, Result};

use crate::checkpoint::Checkpoint;
use crate::config::TrainConfig;
use crate::run_inputs::{hash_mismatch, InputHashes};
use crate::trainable::Trainable;

/// Choices about how to run that are not training settings (not saved with the run).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Resume although the photo folder differs from the one the run started with.
    pub allow_changed_data: bool,
}

/// Checks, before resuming from `ckpt`, that the run's inputs are those it started with: the
/// photos (`fingerprint`), the painting and VGG file, and the model an extension extends.
pub fn check_resume(
    ckpt: &Checkpoint,
    fingerprint: &str,
    inputs: &InputHashes,
    cfg: &TrainConfig,
    options: Options,
) -> Result<()> {
    check_same_data(ckpt, fingerprint, cfg, options)?;
    check_same_base(ckpt, inputs, cfg)?;
    let saved = ckpt.state.inputs.as_ref();
    inputs.check(
        cfg,
        saved.map(|h| h.style_image.as_str()),
        saved.map(|h| h.vgg.as_str()),
        &ckpt.path,
        "resuming would train toward another objective than the steps so far",
        "put the original file back, or start a new run",
    )
}

/// Refuses to resume an `--extend` run whose base model was replaced since it started: the new
/// style's norm parameters were trained against the old model's convs.
fn check_same_base(ckpt: &Checkpoint, inputs: &InputHashes, cfg: &TrainConfig) -> Result<()> {
    let then = ckpt.state.inputs.as_ref().and_then(|h| h.extend.as_deref());
    if let (Some(then), Some(now), Some(path)) = (then, inputs.extend.as_deref(), &cfg.extend) {
        if then != now {
            return Err(hash_mismatch(
                path,
                "the model this run started extending",
                then,
                now,
                "the new style was trained against the other model's weights",
                "put the original model back, or start a new run",
            ));
        }
    }
    Ok(())
}

/// Refuses a new style whose name the model being extended already has.
pub fn check_new_names(net: &Trainable, names: &[String]) -> Result<()> {
    let Some(base) = net.base_metadata() else {
        return Ok(());
    };
    let existing = base.style_entries();
    if let Some(name) = names
        .iter()
        .find(|n| existing.iter().any(|e| &e.name == *n))
    {
        bail!(
            "the model to extend already has a style named `{name}`\n\nhint: name the new one with --style-name"
        );
    }
    Ok(())
}

/// Refuses an extension whose configured architecture is not its base model's (the new style's
/// norm rows must fit the model's widths).
pub fn check_architecture(net: &Trainable, cfg: &TrainConfig) -> Result<()> {
    let wanted = cfg.architecture()?;
    if net.base_metadata().is_some() && net.architecture() != wanted {
        bail!(
            "`architecture` is {wanted}, but the model to extend is {}\n\nhint: drop --architecture; an extension keeps its model's",
            net.architecture()
        );
    }
    Ok(())
}

/// How messages name the run's photos.
fn data_source(cfg: &TrainConfig) -> String {
    match &cfg.hf_dataset {
        Some(d) => format!("the Hub dataset {d} ({})", cfg.hf_split),
        None => format!("the photo folder {}", cfg.data_dir.display()),
    }
}

/// Refuses to resume on a photo folder other than the run's (the data order, and so the
/// result, would silently differ from an uninterrupted run) unless the user allows it.
fn check_same_data(
    ckpt: &Checkpoint,
    fingerprint: &str,
    cfg: &TrainConfig,
    options: Options,
) -> Result<()> {
    let Some(saved) = &ckpt.state.data_fingerprint else {
        eprintln!(
            "warning: {} predates photo-folder fingerprints; cannot check that {} is unchanged",
            ckpt.path.display(),
            data_source(cfg)
        );
        return Ok(());
    };
    if saved == fingerprint {
        return Ok(());
    }
    let count = |f: &str| f.split(':').next().unwrap_or("?").to_string();
    let what = format!(
        "{} changed since the run started ({} photos then, {} now, or files renamed or resized)",
        data_source(cfg),
        count(saved),
        count(fingerprint)
    );
    if options.allow_changed_data {
        eprintln!("warning: {what}; continuing as asked (--allow-changed-data): the data order differs from an uninterrupted run");
        return Ok(());
    }
    bail!(
        "{what}: resuming would not continue the same sequence of photos\n\nhint: restore the folder, or pass --allow-changed-data to continue on it anyway"
    )
}
