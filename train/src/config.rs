//! The training configuration: every hyper-parameter with its default in one place, read from a
//! TOML file, overridden by `--kebab-case-key VALUE` flags, validated with messages that name
//! the key, and saved into the run folder and the model file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fauve::{Precision, Preprocess};
use serde::{Deserialize, Serialize};

/// Every training setting. Field names are the TOML keys; each is also a `--kebab-case` flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Name of the style, stored in the model file (default: the style image's file stem).
    pub style_name: Option<String>,
    /// Folder of training photos, searched recursively (e.g. COCO's train2014/).
    pub data_dir: PathBuf,
    /// The painting whose style is learned.
    pub style_image: PathBuf,
    /// VGG16 weights with `preprocess` metadata (scripts/fetch-vgg16.sh).
    pub vgg: PathBuf,
    /// Run folder: config, checkpoints, TensorBoard events, samples, final model
    /// (default: runs/<style_name>).
    pub run_dir: Option<PathBuf>,
    /// Side of the square training crops, in pixels.
    pub image_size: usize,
    /// Resize the style image so its longest side is this many pixels (default: keep its size).
    pub style_size: Option<usize>,
    /// Photos per step.
    pub batch_size: usize,
    /// Passes over the photo folder; ignored when `steps` is set.
    pub epochs: usize,
    /// Total optimizer steps (overrides `epochs`).
    pub steps: Option<usize>,
    /// Adam learning rate.
    pub lr: f64,
    /// Content loss weight (default: 1e5 for torchvision VGG files, scaled by 1/60² for Caffe).
    pub content_weight: Option<f64>,
    /// Style loss weight (default: 1e10 for torchvision VGG files, scaled by 1/60⁴ for Caffe).
    pub style_weight: Option<f64>,
    /// Total-variation weight (0 disables it).
    pub tv_weight: f64,
    /// VGG16 layer of the content loss.
    pub content_layer: String,
    /// VGG16 layers of the style loss.
    pub style_layers: Vec<String>,
    /// Take random crops instead of centre crops.
    pub random_crop: bool,
    /// Seed of the weights' initialisation, the shuffle and random crops.
    pub seed: u64,
    /// Log losses to TensorBoard every N steps.
    pub log_every: usize,
    /// Write a checkpoint every N steps.
    pub checkpoint_every: usize,
    /// How many checkpoints to keep.
    pub keep_checkpoints: usize,
    /// Stylize the sample photo every N steps (0 disables samples).
    pub sample_every: usize,
    /// Photo stylized at each sample interval (default: the first training photo).
    pub sample_image: Option<PathBuf>,
    /// Threads decoding photos (0: one per core).
    pub workers: usize,
    /// Batches decoded ahead of the training step.
    pub prefetch: usize,
    /// Compute device: cpu, cuda, cuda:N or auto.
    pub device: String,
    /// Conv precision: f32, or bf16 (CUDA only; weights, norms and losses stay f32).
    pub precision: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            style_name: None,
            data_dir: "data/photos".into(),
            style_image: "data/styles/starry_night.jpg".into(),
            vgg: "models/vgg16.safetensors".into(),
            run_dir: None,
            image_size: 256,
            style_size: None,
            batch_size: 4,
            epochs: 2,
            steps: None,
            lr: 1e-3,
            content_weight: None,
            style_weight: None,
            tv_weight: 0.0,
            content_layer: "relu2_2".into(),
            style_layers: fauve::TAP_NAMES.iter().map(|s| s.to_string()).collect(),
            random_crop: false,
            seed: 42,
            log_every: 10,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            sample_every: 200,
            sample_image: None,
            workers: 0,
            prefetch: 4,
            device: "auto".into(),
            precision: "f32".into(),
        }
    }
}

/// pytorch/examples' weights, which assume torchvision preprocessing.
const TORCHVISION_WEIGHTS: (f64, f64) = (1e5, 1e10);
/// Caffe features are about 255/σ ≈ 60x larger per unit: content terms scale by 60², Gram
/// (style) terms by 60⁴, so the same balance would need weights divided by those factors.
const CAFFE_SCALE: f64 = 60.0;
/// ...but with the Caffe VGG16 that scripts/fetch-vgg16.sh provides, that scaling leaves the
/// content term about 30x too weak: in a sweep of x1, x3, x10, x30 (docs/balance.md; 600 steps
/// of batch 4 at 256 px on an H100) the photo is lost under texture at x1 and x3 and clearly
/// kept, under the painting's strokes and palette, at x30.
const CAFFE_CONTENT_BOOST: f64 = 30.0;

/// Default (content, style) weights for a VGG file's preprocessing.
pub fn default_weights(p: Preprocess) -> (f64, f64) {
    let (c, s) = TORCHVISION_WEIGHTS;
    match p {
        Preprocess::Torchvision => (c, s),
        Preprocess::CaffeBgr => (
            c / CAFFE_SCALE.powi(2) * CAFFE_CONTENT_BOOST,
            s / CAFFE_SCALE.powi(4),
        ),
    }
}

/// One-line help for every key, in the order `--help` shows them.
pub const KEY_HELP: &[(&str, &str)] = &[
    (
        "style_name",
        "style name stored in the model (default: style image stem)",
    ),
    (
        "data_dir",
        "folder of training photos, searched recursively",
    ),
    ("style_image", "the painting whose style is learned"),
    (
        "vgg",
        "VGG16 weights with preprocess metadata (scripts/fetch-vgg16.sh)",
    ),
    ("run_dir", "run folder (default: runs/<style_name>)"),
    ("image_size", "side of the square training crops"),
    (
        "style_size",
        "longest side of the style image (default: as is)",
    ),
    ("batch_size", "photos per step"),
    (
        "epochs",
        "passes over the photos; ignored when steps is set",
    ),
    ("steps", "total optimizer steps (overrides epochs)"),
    ("lr", "Adam learning rate"),
    (
        "content_weight",
        "content loss weight (default depends on the VGG preprocessing)",
    ),
    (
        "style_weight",
        "style loss weight (default depends on the VGG preprocessing)",
    ),
    ("tv_weight", "total-variation weight, 0 disables"),
    ("content_layer", "VGG16 layer of the content loss"),
    (
        "style_layers",
        "VGG16 layers of the style loss, e.g. '[\"relu2_2\",\"relu3_3\"]'",
    ),
    (
        "random_crop",
        "random crops instead of centre crops (true/false)",
    ),
    ("seed", "seed of init, shuffle and crops"),
    ("log_every", "TensorBoard scalars every N steps"),
    ("checkpoint_every", "checkpoint every N steps"),
    ("keep_checkpoints", "checkpoints kept"),
    (
        "sample_every",
        "stylize the sample photo every N steps, 0 disables",
    ),
    (
        "sample_image",
        "photo stylized for samples (default: first training photo)",
    ),
    ("workers", "photo-decoding threads, 0 = one per core"),
    ("prefetch", "batches decoded ahead"),
    ("device", "cpu, cuda, cuda:N or auto"),
    (
        "precision",
        "f32, or bf16 (CUDA only): convs in bf16, weights, norms and losses in f32",
    ),
];

/// The `--help` section listing every key with its default.
pub fn keys_help() -> String {
    let defaults = toml::Value::try_from(TrainConfig::default()).ok();
    let mut out =
        String::from("Config keys (TOML snake_case; each is also a --kebab-case flag):\n");
    for (key, help) in KEY_HELP {
        let default = defaults
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| format!(" [default: {v}]"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  --{:<18} {help}{default}\n",
            key.replace('_', "-")
        ));
    }
    out
}

fn parse_value(raw: &str) -> toml::Value {
    // A bare TOML value (number, bool, array, quoted string); anything else is a string.
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

/// Parses `--key value` pairs into a table of snake_case keys; unknown keys are errors.
pub fn parse_overrides(args: &[String]) -> Result<toml::Table> {
    let mut table = toml::Table::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            bail!("unexpected argument `{flag}`; settings are given as --key value");
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let key = name.replace('-', "_");
        if !KEY_HELP.iter().any(|(k, _)| *k == key) {
            bail!("unknown setting `--{name}`\n\nhint: `fauve-train --help` lists every key");
        }
        let raw = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .with_context(|| format!("`--{name}` needs a value"))?,
        };
        table.insert(key, parse_value(&raw));
    }
    Ok(table)
}

/// Reads a TOML config (None: the defaults) and applies overrides; unknown keys, wrong types
/// and bad values are errors naming the key.
pub fn load(path: Option<&Path>, overrides: &toml::Table) -> Result<TrainConfig> {
    let mut table = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read config {}", p.display()))?;
            text.parse::<toml::Table>()
                .with_context(|| format!("{}: invalid TOML", p.display()))?
        }
        None => toml::Table::new(),
    };
    for (k, v) in overrides {
        table.insert(k.clone(), v.clone());
    }
    let where_ = path.map_or("command line".into(), |p| p.display().to_string());
    let cfg: TrainConfig =
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                // Type errors from a Value carry no position: find the key that fails alone.
                let culprit = table.iter().find(|(k, v)| {
                    let one = toml::Table::from_iter([((*k).clone(), (*v).clone())]);
                    toml::Value::Table(one).try_into::<TrainConfig>().is_err()
                });
                match culprit {
                    Some((k, v)) => {
                        anyhow::anyhow!("{where_}: `{k}` = {v}: {}", e.message().trim())
                    }
                    None => anyhow::anyhow!("{where_}: {}", e.message().trim()),
                }
            })?;
    cfg.validate()?;
    Ok(cfg)
}

impl TrainConfig {
    /// Checks values that types alone do not (positive sizes, finite weights, known layers).
    pub fn validate(&self) -> Result<()> {
        let positive = |key: &str, v: usize| -> Result<()> {
            if v == 0 {
                bail!("`{key}` must be at least 1, got 0");
            }
            Ok(())
        };
        positive("batch_size", self.batch_size)?;
        positive("epochs", self.epochs)?;
        positive("log_every", self.log_every)?;
        positive("checkpoint_every", self.checkpoint_every)?;
        positive("keep_checkpoints", self.keep_checkpoints)?;
        positive("prefetch", self.prefetch)?;
        if let Some(s) = self.steps {
            positive("steps", s)?;
        }
        if self.image_size < 16 {
            bail!("`image_size` must be at least 16, got {}", self.image_size);
        }
        if let Some(s) = self.style_size {
            if s < 16 {
                bail!("`style_size` must be at least 16, got {s}");
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("`lr` must be a positive number, got {}", self.lr);
        }
        for (key, v) in [
            ("content_weight", self.content_weight),
            ("style_weight", self.style_weight),
            ("tv_weight", Some(self.tv_weight)),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    bail!("`{key}` must be a non-negative number, got {v}");
                }
            }
        }
        let layer_index = |key: &str, name: &str| -> Result<usize> {
            fauve::TAP_NAMES
                .iter()
                .position(|t| *t == name)
                .with_context(|| {
                    format!(
                        "`{key}`: unknown layer `{name}`; choose from {}",
                        fauve::TAP_NAMES.join(", ")
                    )
                })
        };
        layer_index("content_layer", &self.content_layer)?;
        if self.style_layers.is_empty() {
            bail!("`style_layers` must name at least one layer");
        }
        for l in &self.style_layers {
            layer_index("style_layers", l)?;
        }
        let device =
            fauve::parse_device(&self.device).map_err(|e| anyhow::anyhow!("`device`: {e}"))?;
        let precision = self.precision()?;
        if precision == Precision::Bf16 && device.is_cpu() {
            bail!("`precision` bf16 needs a CUDA device (candle has no bf16 matrix product on the CPU)\n\nhint: use --precision f32, or --device cuda with a CUDA build");
        }
        Ok(())
    }

    /// The conv precision.
    pub fn precision(&self) -> Result<Precision> {
        Precision::parse(&self.precision)
            .with_context(|| format!("`precision` must be f32 or bf16, got `{}`", self.precision))
    }

    /// The style name: configured, or the style image's file stem.
    pub fn style_name(&self) -> String {
        self.style_name.clone().unwrap_or_else(|| {
            self.style_image
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "style".into())
        })
    }

    /// The run folder: configured, or runs/<style_name>.
    pub fn run_dir(&self) -> PathBuf {
        self.run_dir
            .clone()
            .unwrap_or_else(|| Path::new("runs").join(self.style_name()))
    }

    /// Index in [`fauve::TAP_NAMES`] of the content layer (validated).
    pub fn content_index(&self) -> usize {
        fauve::TAP_NAMES
            .iter()
            .position(|t| *t == self.content_layer)
            .unwrap_or(1)
    }

    /// Indices in [`fauve::TAP_NAMES`] of the style layers (validated).
    pub fn style_indices(&self) -> Vec<usize> {
        self.style_layers
            .iter()
            .filter_map(|l| fauve::TAP_NAMES.iter().position(|t| t == l))
            .collect()
    }

    /// The config as TOML text, for the run folder.
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_field_has_help_and_every_help_a_field() {
        let defaults = toml::Value::try_from(TrainConfig {
            style_name: Some("x".into()),
            run_dir: Some("r".into()),
            style_size: Some(1),
            steps: Some(1),
            content_weight: Some(1.0),
            style_weight: Some(1.0),
            sample_image: Some("s".into()),
            ..Default::default()
        })
        .unwrap();
        let table = defaults.as_table().unwrap();
        assert_eq!(table.len(), KEY_HELP.len());
        for (k, _) in KEY_HELP {
            assert!(table.contains_key(*k), "{k}");
        }
    }

    #[test]
    fn overrides_parse_typed_values_and_kebab_case() -> Result<()> {
        let t = parse_overrides(&args(&[
            "--image-size",
            "64",
            "--lr=0.01",
            "--style-layers",
            "[\"relu2_2\"]",
            "--data-dir",
            "photos/x",
            "--random-crop",
            "true",
        ]))?;
        let cfg = load(None, &t)?;
        assert_eq!(cfg.image_size, 64);
        assert_eq!(cfg.lr, 0.01);
        assert_eq!(cfg.style_layers, vec!["relu2_2"]);
        assert_eq!(cfg.data_dir, PathBuf::from("photos/x"));
        assert!(cfg.random_crop);
        Ok(())
    }

    #[test]
    fn unknown_flags_and_keys_are_named() {
        let err = parse_overrides(&args(&["--learning-rate", "1"])).unwrap_err();
        assert!(err.to_string().contains("`--learning-rate`"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "image_size = 64\nbatchsize = 2\n").unwrap();
        let err = load(Some(&p), &toml::Table::new()).unwrap_err().to_string();
        assert!(err.contains("batchsize"), "{err}");
    }

    #[test]
    fn bf16_on_the_cpu_is_refused_with_the_fix() {
        let t = parse_overrides(&args(&["--precision", "bf16", "--device", "cpu"])).unwrap();
        let err = load(None, &t).unwrap_err().to_string();
        assert!(err.contains("bf16 needs a CUDA device"), "{err}");
        assert!(err.contains("--precision f32"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        for (flag, value, needle) in [
            ("--lr", "-0.001", "`lr` must be a positive number"),
            ("--batch-size", "0", "`batch_size` must be at least 1"),
            ("--image-size", "abc", "`image_size` = \"abc\""),
            ("--content-layer", "relu9_9", "unknown layer `relu9_9`"),
            ("--style-weight", "nan", "`style_weight`"),
            ("--device", "tpu", "`device`"),
            ("--precision", "fp8", "`precision` must be f32 or bf16"),
        ] {
            let t = parse_overrides(&args(&[flag, value])).unwrap();
            let err = load(None, &t).unwrap_err().to_string();
            assert!(err.contains(needle), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn caffe_defaults_follow_the_scale_and_the_sweep() {
        let (ct, st) = default_weights(Preprocess::Torchvision);
        let (cc, sc) = default_weights(Preprocess::CaffeBgr);
        assert_eq!((ct, st), (1e5, 1e10));
        // 60² for the feature scale, times 30 from the balance sweep.
        assert!((ct / cc - 120.0).abs() < 1e-9);
        assert!((st / sc - 60f64.powi(4)).abs() < 1e-3);
    }
}
