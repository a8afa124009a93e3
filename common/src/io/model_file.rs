//! The style-model file other programs load: one safetensors file holding the transform
//! network's tensors under pytorch/examples keys, plus string metadata saying what it is and how
//! it was trained. A file with those keys and no Fauve metadata (a converted pytorch/examples
//! checkpoint) loads as the default architecture.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::io::atomic_write::atomic_write;
use crate::model::architecture::Architecture;
use crate::model::style_bank::StyleBank;
use crate::model::transformer::TransformerNet;
use crate::precision::Precision;
use crate::safetensors_file::SafetensorsFile;
use crate::style_choice::{Resolved, StyleChoice};

/// Value of the `format` metadata key in files Fauve writes.
pub const FORMAT_NAME: &str = "fauve-style-model";
/// The newest format version this library reads: 2 adds multi-style models, written as 2;
/// one-style models are still written as 1, so older readers load them.
pub const FORMAT_VERSION: u32 = 2;
/// The version of one-style model files (today's format since the first release).
const ONE_STYLE_VERSION: u32 = 1;

const KEY_FORMAT: &str = "format";
const KEY_VERSION: &str = "format_version";
const KEY_ARCHITECTURE: &str = "architecture";
const KEY_STYLE: &str = "style_name";
const KEY_TRAINING: &str = "training";
const KEY_STYLES: &str = "styles";

/// One style of a multi-style model, as its metadata lists them (JSON under `styles`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StyleEntry {
    /// The style's name, unique in the model.
    pub name: String,
    /// SHA-256 of the painting it was trained on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_image_sha256: Option<String>,
    /// Where the painting came from (its path when the style was trained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a model file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMetadata {
    /// Format version the file was written with (for new metadata: the one it will be
    /// written with, 1 for one style, 2 for several).
    pub format_version: u32,
    /// Which transform network the file holds (for files without Fauve metadata, the one whose
    /// first conv has the file's width; Johnson's when it has neither).
    pub architecture: Architecture,
    /// Human-readable style name (e.g. `starry_night`), if known; for a multi-style model,
    /// the collection's name.
    pub style_name: Option<String>,
    /// A multi-style model's styles, in the order of its norm tables' rows; empty for a
    /// one-style model.
    pub styles: Vec<StyleEntry>,
    /// Training summary (config, steps, final losses, hashes of inputs), as JSON.
    pub training: Option<serde_json::Value>,
    /// Whether the file carried Fauve metadata at all (false for converted checkpoints).
    pub from_fauve: bool,
}

impl Default for ModelMetadata {
    fn default() -> Self {
        Self {
            format_version: ONE_STYLE_VERSION,
            architecture: Architecture::Johnson,
            style_name: None,
            styles: Vec::new(),
            training: None,
            from_fauve: false,
        }
    }
}

impl ModelMetadata {
    /// Metadata for a new model of the default architecture.
    pub fn new(style_name: Option<String>, training: Option<serde_json::Value>) -> Self {
        Self {
            style_name,
            training,
            from_fauve: true,
            ..Self::default()
        }
    }

    /// The same metadata for a model of `architecture`.
    pub fn with_architecture(self, architecture: Architecture) -> Self {
        Self {
            architecture,
            ..self
        }
    }

    /// Metadata for a new model holding several styles (two or more).
    pub fn multi(
        name: Option<String>,
        styles: Vec<StyleEntry>,
        training: Option<serde_json::Value>,
    ) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            styles,
            ..Self::new(name, training)
        }
    }

    /// How many styles the model holds.
    pub fn n_styles(&self) -> usize {
        self.styles.len().max(1)
    }

    /// The styles' names in order (a one-style model's own name, or `style`).
    pub fn style_names(&self) -> Vec<String> {
        if self.styles.is_empty() {
            return vec![self.style_name.clone().unwrap_or_else(|| "style".into())];
        }
        self.styles.iter().map(|s| s.name.clone()).collect()
    }

    /// The styles with where each came from: a multi-style model's list, or a one-style
    /// model's name with its painting's path and hash from the training summary.
    pub fn style_entries(&self) -> Vec<StyleEntry> {
        if !self.styles.is_empty() {
            return self.styles.clone();
        }
        let text = |pointer: &str| {
            self.training
                .as_ref()
                .and_then(|t| t.pointer(pointer))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        vec![StyleEntry {
            name: self.style_names().remove(0),
            style_image_sha256: text("/style_image_sha256"),
            source: text("/config/style_image"),
        }]
    }

    fn to_header(&self) -> HashMap<String, String> {
        let version = if self.styles.is_empty() {
            ONE_STYLE_VERSION
        } else {
            FORMAT_VERSION
        };
        let mut h = HashMap::from([
            (KEY_FORMAT.to_string(), FORMAT_NAME.to_string()),
            (KEY_VERSION.to_string(), version.to_string()),
            (
                KEY_ARCHITECTURE.to_string(),
                self.architecture.metadata_name().to_string(),
            ),
        ]);
        if !self.styles.is_empty() {
            let list = serde_json::to_string(&self.styles).unwrap_or_default();
            h.insert(KEY_STYLES.to_string(), list);
        }
        if let Some(s) = &self.style_name {
            h.insert(KEY_STYLE.to_string(), s.clone());
        }
        if let Some(t) = &self.training {
            h.insert(KEY_TRAINING.to_string(), t.to_string());
        }
        h
    }

    /// What the model file `file` says about itself, without reading its tensors. A converted
    /// checkpoint says nothing: its first conv's width then tells the architecture.
    pub fn of_file(file: &SafetensorsFile) -> Result<Self> {
        let mut metadata = Self::from_header(file.path(), &file.metadata()?)?;
        if !metadata.from_fauve {
            let width = file.shape("conv1.conv2d.weight").ok();
            let found =
                width.and_then(|s| s.first().copied().and_then(Architecture::with_first_width));
            if let Some(a) = found {
                metadata.architecture = a;
            }
        }
        Ok(metadata)
    }

    fn from_header(path: &Path, h: &HashMap<String, String>) -> Result<Self> {
        if h.get(KEY_FORMAT).map(String::as_str) != Some(FORMAT_NAME) {
            return Ok(Self::default());
        }
        let bad = |message: String| Error::Metadata {
            path: path.to_path_buf(),
            message,
        };
        let version = h
            .get(KEY_VERSION)
            .ok_or_else(|| bad(format!("metadata has no `{KEY_VERSION}`")))?;
        let format_version: u32 = version.parse().map_err(|_| {
            bad(format!(
                "metadata `{KEY_VERSION}` is `{version}`, not a number"
            ))
        })?;
        if format_version > FORMAT_VERSION {
            return Err(bad(format!(
                "written by a newer Fauve (format version {format_version}); this build reads up to version {FORMAT_VERSION}\n\nhint: upgrade fauve"
            )));
        }
        let architecture = match h.get(KEY_ARCHITECTURE) {
            None => Architecture::Johnson,
            Some(name) => Architecture::from_metadata_name(name).ok_or_else(|| {
                let known: Vec<&str> = Architecture::ALL.map(|a| a.metadata_name()).to_vec();
                bad(format!(
                    "unknown architecture `{name}`; this build knows {}\n\nhint: upgrade fauve",
                    known.join(", ")
                ))
            })?,
        };
        let training = h
            .get(KEY_TRAINING)
            .map(|s| serde_json::from_str(s))
            .transpose()
            .map_err(|e| bad(format!("metadata `{KEY_TRAINING}` is not valid JSON: {e}")))?;
        Ok(Self {
            format_version,
            architecture,
            style_name: h.get(KEY_STYLE).cloned(),
            styles: styles_from_header(h).map_err(bad)?,
            training,
            from_fauve: true,
        })
    }
}

/// The `styles` list of a header (empty when absent): two or more, each name unique.
fn styles_from_header(h: &HashMap<String, String>) -> std::result::Result<Vec<StyleEntry>, String> {
    let Some(text) = h.get(KEY_STYLES) else {
        return Ok(Vec::new());
    };
    let styles: Vec<StyleEntry> = serde_json::from_str(text)
        .map_err(|e| format!("metadata `{KEY_STYLES}` is not a list of styles: {e}"))?;
    if styles.len() < 2 {
        return Err(format!(
            "metadata `{KEY_STYLES}` lists {} style(s); a multi-style model holds at least 2",
            styles.len()
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(styles.len());
    if let Some(s) = styles.iter().find(|s| !seen.insert(s.name.as_str())) {
        return Err(format!("metadata `{KEY_STYLES}` names `{}` twice", s.name));
    }
    Ok(styles)
}

/// A loaded model file: its metadata and the transform network's tensors (f32).
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// What the file says about itself.
    pub metadata: ModelMetadata,
    /// The tensors under pytorch/examples keys, checked against the architecture.
    pub tensors: HashMap<String, Tensor>,
}

impl ModelFile {
    /// Reads and validates the file at `path`, putting its tensors on `device`. Extra tensors
    /// (e.g. old checkpoints' `inN.running_mean`) are ignored; a missing or mis-shaped one fails
    /// with an error naming the file and the first offending key.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let file = SafetensorsFile::open(path)?;
        let metadata = ModelMetadata::of_file(&file)?;
        let mut tensors = HashMap::new();
        let shapes = metadata.architecture.parameter_shapes(metadata.n_styles());
        for (key, shape) in shapes {
            let t = file.tensor_f32(&key, Some(&shape), device)?;
            let count = non_finite(&t)?;
            if count > 0 {
                return Err(Error::NonFinite {
                    path: path.to_path_buf(),
                    key,
                    count,
                });
            }
            tensors.insert(key, t);
        }
        Ok(Self { metadata, tensors })
    }

    /// Builds the transform network of a one-style model, its convs computing in
    /// `precision`; a multi-style model fails with [`Error::StyleNeeded`] (see
    /// [`ModelFile::network_for`]).
    pub fn network(&self, device: &Device, precision: Precision) -> Result<TransformerNet> {
        if self.metadata.n_styles() > 1 {
            return Err(Error::StyleNeeded {
                styles: self.metadata.style_names(),
            });
        }
        TransformerNet::from_tensors(self.tensors.clone(), precision, device)
    }

    /// The network for `choice` among the model's styles.
    pub fn network_for(
        &self,
        choice: &StyleChoice,
        device: &Device,
        precision: Precision,
    ) -> Result<TransformerNet> {
        let resolved = choice.resolve(&self.metadata.style_names())?;
        if self.metadata.n_styles() == 1 {
            return self.network(device, precision);
        }
        let bank = self.bank(precision)?;
        match resolved {
            Resolved::Row(i) => bank.network_for(i),
            Resolved::Weights(w) => bank.network_mixed(&w),
        }
    }

    /// The model's shared convs and per-style norm tables.
    pub fn bank(&self, precision: Precision) -> Result<StyleBank> {
        StyleBank::from_tensors(&self.tensors, self.metadata.n_styles(), precision)
    }
}

/// How many of `t`'s values are NaN or infinite.
fn non_finite(t: &Tensor) -> Result<usize> {
    let values = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(values.iter().filter(|v| !v.is_finite()).count())
}

/// Writes a model file atomically: `tensors` (every key of [`Architecture::parameter_shapes`]
/// for the metadata's architecture and style count, checked) as f32, with `metadata` in the
/// header.
pub fn save_model_file(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    metadata: &ModelMetadata,
) -> Result<()> {
    let mut out = Vec::new();
    let shapes = metadata.architecture.parameter_shapes(metadata.n_styles());
    for (key, shape) in shapes {
        let t = tensors.get(&key).ok_or_else(|| Error::MissingTensor {
            path: path.to_path_buf(),
            key: key.clone(),
        })?;
        if t.dims() != shape.as_slice() {
            return Err(Error::WrongShape {
                path: path.to_path_buf(),
                key,
                found: t.dims().to_vec(),
                expected: shape,
            });
        }
        let t = t
            .to_dtype(candle_core::DType::F32)?
            .to_device(&Device::Cpu)?
            .contiguous()?;
        out.push((key, t));
    }
    let bytes = safetensors::serialize(out, Some(metadata.to_header()))
        .map_err(|e| Error::Invalid(format!("{}: cannot serialize model: {e}", path.display())))?;
    atomic_write(path, &bytes)
}
