//! What a run trains: the whole transform network for one painting or several (conditional
//! instance norm: shared convs, one row of norm parameters per style), or, when extending a
//! trained model, only a new style's norm parameters on top of its frozen weights.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Init, VarBuilder, VarMap};
use fauve::{
    Architecture, ModelFile, ModelMetadata, Precision, StyleBank, StyleEntry, TransformerNet,
};

/// The trainable variables and how the network of each of the run's styles is made of them.
pub struct Trainable {
    vars: HashMap<String, Var>,
    kind: Kind,
    architecture: Architecture,
    precision: Precision,
    device: Device,
}

enum Kind {
    /// One painting: the variables are the network's own tensors, pytorch/examples keys.
    One(TransformerNet),
    /// Several paintings: convs shared, each norm parameter a `[n, C]` variable.
    Many,
    /// One new style on a trained model: only its `[C]` norm parameters are variables.
    Extend {
        base: StyleBank,
        base_meta: ModelMetadata,
    },
}

impl Trainable {
    /// A new network of `architecture` for `n_styles` paintings, every variable created (the
    /// caller draws their values, see [`crate::init::seeded_init`]). One painting gives exactly
    /// the variables a one-style run always had.
    pub fn fresh(
        architecture: Architecture,
        n_styles: usize,
        precision: Precision,
        device: &Device,
    ) -> Result<Self> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let kind = if n_styles == 1 {
            Kind::One(TransformerNet::with_architecture(
                architecture,
                precision,
                vb,
            )?)
        } else {
            for (key, shape) in architecture.parameter_shapes(n_styles) {
                vb.get_with_hints(shape, &key, Init::Const(0.0))?;
            }
            Kind::Many
        };
        let vars = varmap.data().lock().map(|m| m.clone()).unwrap_or_default();
        Ok(Self {
            vars,
            kind,
            architecture,
            precision,
            device: device.clone(),
        })
    }

    /// A new style for the model at `path`: its weights frozen, the new style's norm
    /// parameters starting at the mean of the existing styles'.
    pub fn extending(path: &Path, precision: Precision, device: &Device) -> Result<Self> {
        let file = ModelFile::load(path, device)
            .with_context(|| format!("cannot load the model to extend, {}", path.display()))?;
        let base = file.bank(precision)?;
        let mut vars = HashMap::new();
        for (key, table) in base.tables() {
            vars.insert(key.clone(), Var::from_tensor(&table.mean(0)?)?);
        }
        Ok(Self {
            vars,
            architecture: base.architecture(),
            kind: Kind::Extend {
                base,
                base_meta: file.metadata,
            },
            precision,
            device: device.clone(),
        })
    }

    /// The variables the optimizer updates, by name (checkpoints store them as `model/NAME`).
    pub fn vars(&self) -> &HashMap<String, Var> {
        &self.vars
    }

    /// The network of the run's painting `style` (0 for the new one when extending), built
    /// from the variables so that gradients reach them.
    pub fn network(&self, style: usize) -> Result<TransformerNet> {
        let var = |k: &String| self.vars[k].as_tensor().clone();
        let tensors: HashMap<String, Tensor> = match &self.kind {
            Kind::One(net) => return Ok(net.clone()),
            Kind::Many => {
                let norms = self.architecture.norm_keys();
                let mut out = HashMap::new();
                for k in self.vars.keys() {
                    let t = if norms.contains(k) {
                        var(k).get(style)?
                    } else {
                        var(k)
                    };
                    out.insert(k.clone(), t);
                }
                out
            }
            Kind::Extend { base, .. } => {
                let mut out = base.shared().clone();
                out.extend(self.vars.keys().map(|k| (k.clone(), var(k))));
                out
            }
        };
        Ok(TransformerNet::from_tensors(
            tensors,
            self.precision,
            &self.device,
        )?)
    }

    /// The transform network's architecture (an extension's is its base model's).
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Every tensor of the model file this run writes: for an extension, the base model's
    /// tensors (copied) with the new style's row appended.
    pub fn model_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let own: HashMap<String, Tensor> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        match &self.kind {
            Kind::Extend { base, .. } => Ok(base.tensors_with(&own)?),
            _ => Ok(own),
        }
    }

    /// The styles of the model this run writes, when there are several: the base model's
    /// (extending) followed by this run's `new` ones.
    pub fn styles(&self, new: Vec<StyleEntry>) -> Vec<StyleEntry> {
        match &self.kind {
            Kind::Extend { base_meta, .. } => {
                let mut all = base_meta.style_entries();
                all.extend(new);
                all
            }
            Kind::One(_) => Vec::new(),
            Kind::Many => new,
        }
    }

    /// The model being extended, if this run extends one.
    pub fn base_metadata(&self) -> Option<&ModelMetadata> {
        match &self.kind {
            Kind::Extend { base_meta, .. } => Some(base_meta),
            _ => None,
        }
    }
}
