//! Adding a style to a trained model (`--extend MODEL`): the run's settings start from the
//! model's own training config, and the model it writes describes every style it holds, so
//! that `fauve-train eval` can score each one.

use std::path::Path;

use anyhow::{Context, Result};
use fauve::{ModelMetadata, StyleEntry};

use crate::run_inputs::STYLE_KEY;
use crate::trainable::Trainable;

/// Keys of the base model's config that describe its own paintings and run, not the
/// objective a new style should be trained against.
const RUN_KEYS: &[&str] = &[
    "style_image",
    "style_images",
    "style_names",
    "style_name",
    "run_dir",
    "steps",
    "epochs",
    "max_minutes",
    "sample_image",
    "eval_dir",
    "extend",
];

/// Steps an extension trains when neither `steps` nor `epochs` is given: a new style comes
/// within about 10% of a network trained for it alone in 300 steps and levels off by 600
/// (docs/multi-style.md), where the photo folder's two epochs could be thousands.
pub const DEFAULT_STEPS: usize = 600;

/// The training config stored in the model at `path`, less its paintings and run (and the
/// held-out photos, a path of the base's run): the VGG file, layers, weights, sizes and photos
/// a new style is trained with unless flags say otherwise, and always the model's own
/// architecture. A model without a config (a converted checkpoint) gives the defaults.
pub fn base_config(path: &Path) -> Result<toml::Table> {
    let file = fauve::SafetensorsFile::open(path)
        .with_context(|| format!("cannot read the model to extend, {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read the model to extend, {}", path.display()))?;
    let training: Option<serde_json::Value> = meta
        .get("training")
        .and_then(|t| serde_json::from_str(t).ok());
    let mut table = training
        .as_ref()
        .and_then(|t| t.get("config"))
        .and_then(|c| toml::Value::try_from(c).ok())
        .and_then(|v| v.as_table().cloned())
        .unwrap_or_default();
    for key in RUN_KEYS {
        table.remove(*key);
    }
    let architecture = ModelMetadata::of_file(&file)
        .with_context(|| format!("cannot read the model to extend, {}", path.display()))?
        .architecture;
    table.insert("architecture".into(), architecture.name().into());
    Ok(table)
}

/// An extension's training summary made to describe the whole model: its config lists every
/// style's painting and name, its style hash all of theirs (unknown ones empty), and it
/// records the model it extends. Other runs' summaries are returned as they are.
pub fn whole_summary(
    mut summary: serde_json::Value,
    entries: &[StyleEntry],
    net: &Trainable,
) -> serde_json::Value {
    let Some(base) = net.base_metadata() else {
        return summary;
    };
    let sources: Vec<String> = entries
        .iter()
        .map(|e| e.source.clone().unwrap_or_default())
        .collect();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    if let Some(config) = summary.get_mut("config").and_then(|c| c.as_object_mut()) {
        config.insert("style_images".into(), sources.into());
        config.insert("style_names".into(), names.into());
        config.remove("extend");
    }
    let hashes: Vec<&str> = entries
        .iter()
        .map(|e| e.style_image_sha256.as_deref().unwrap_or_default())
        .collect();
    summary[STYLE_KEY] = hashes.join(",").into();
    summary["extended_from"] = describe(base).into();
    summary
}

/// The extended model in a few words: its styles.
fn describe(base: &ModelMetadata) -> String {
    format!("a model of {}", base.style_names().join(", "))
}
