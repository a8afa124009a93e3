//! Many styles in one transform network (Dumoulin, Shlens and Kudlur 2017, "conditional
//! instance norm"): the convs are shared, and only the instance norms' scale and shift differ
//! per style. A style, or a weighted mix of styles, is a choice of those parameters; the network
//! for it is an ordinary one-style [`TransformerNet`], so tiling, video and every other path
//! that runs a network work unchanged.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::model::architecture::Architecture;
use crate::model::transformer::TransformerNet;
use crate::precision::Precision;

/// The shared convs plus one row of norm parameters per style.
#[derive(Debug, Clone)]
pub struct StyleBank {
    /// Conv tensors under their pytorch/examples keys.
    shared: HashMap<String, Tensor>,
    /// Norm keys (`in1.weight`, ...) to their `[n_styles, C]` tables.
    tables: HashMap<String, Tensor>,
    n_styles: usize,
    architecture: Architecture,
    precision: Precision,
}

impl StyleBank {
    /// The bank of a model's tensors ([`Architecture::parameter_shapes`] with `n_styles`, the
    /// architecture told by the tensors; one-style `[C]` norms become one-row tables).
    pub fn from_tensors(
        tensors: &HashMap<String, Tensor>,
        n_styles: usize,
        precision: Precision,
    ) -> Result<Self> {
        let architecture = Architecture::of_tensors(tensors)?;
        let mut shared = HashMap::new();
        let mut tables = HashMap::new();
        let norm_keys = architecture.norm_keys();
        for (key, _) in architecture.parameter_shapes(n_styles) {
            let t = tensors
                .get(&key)
                .ok_or_else(|| Error::Invalid(format!("missing tensor `{key}`")))?;
            if norm_keys.contains(&key) {
                let c = t.dims().last().copied().unwrap_or(0);
                tables.insert(key, t.reshape((n_styles, c))?);
            } else {
                shared.insert(key, t.clone());
            }
        }
        Ok(Self {
            shared,
            tables,
            n_styles,
            architecture,
            precision,
        })
    }

    /// The architecture of the network the bank makes.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// How many styles the bank holds.
    pub fn n_styles(&self) -> usize {
        self.n_styles
    }

    /// The one-style network of style `index`: its rows copied exactly.
    pub fn network_for(&self, index: usize) -> Result<TransformerNet> {
        self.check_index(index)?;
        self.build(|table| Ok(table.get(index)?))
    }

    /// The one-style network whose norm parameters are `weights[i]` times style i's, summed
    /// (one weight per style; a weight of 1 on one style and 0 on the rest gives exactly that
    /// style's parameters).
    pub fn network_mixed(&self, weights: &[f32]) -> Result<TransformerNet> {
        if weights.len() != self.n_styles {
            return Err(Error::Invalid(format!(
                "a mix needs one weight per style ({}), got {}",
                self.n_styles,
                weights.len()
            )));
        }
        let device = self.device();
        let column = Tensor::new(weights, &device)?.reshape((self.n_styles, 1))?;
        self.build(|table| Ok(table.broadcast_mul(&column)?.sum(0)?))
    }

    /// Every tensor of a model holding these styles and then `extra`'s rows (norm key to
    /// `[k, C]`), for a model file: the existing rows are copied bit for bit.
    pub fn tensors_with(&self, extra: &HashMap<String, Tensor>) -> Result<HashMap<String, Tensor>> {
        let mut out = self.shared.clone();
        for (key, table) in &self.tables {
            let rows = match extra.get(key) {
                Some(more) => {
                    let c = table.dim(1)?;
                    let more = more.reshape(((), c))?;
                    Tensor::cat(&[table, &more], 0)?
                }
                None => table.clone(),
            };
            out.insert(key.clone(), rows);
        }
        Ok(out)
    }

    /// The shared conv tensors (frozen when a style is added to a trained model).
    pub fn shared(&self) -> &HashMap<String, Tensor> {
        &self.shared
    }

    /// Norm key to its `[n_styles, C]` table.
    pub fn tables(&self) -> &HashMap<String, Tensor> {
        &self.tables
    }

    fn check_index(&self, index: usize) -> Result<()> {
        if index >= self.n_styles {
            return Err(Error::Invalid(format!(
                "style index {index} is out of range: the model holds {} styles (0 to {})",
                self.n_styles,
                self.n_styles - 1
            )));
        }
        Ok(())
    }

    fn device(&self) -> Device {
        self.tables
            .values()
            .next()
            .map_or(Device::Cpu, |t| t.device().clone())
    }

    /// The network with each norm's `[C]` parameters `pick(table)`.
    fn build(&self, pick: impl Fn(&Tensor) -> Result<Tensor>) -> Result<TransformerNet> {
        let mut tensors = self.shared.clone();
        for (key, table) in &self.tables {
            tensors.insert(key.clone(), pick(table)?);
        }
        TransformerNet::from_tensors(tensors, self.precision, &self.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Module;

    fn bank(n: usize) -> anyhow::Result<StyleBank> {
        let dev = Device::Cpu;
        let mut tensors = HashMap::new();
        for (key, shape) in Architecture::Johnson.parameter_shapes(n) {
            // Random rows, so the styles differ; norm scales around 1.
            let t = Tensor::rand(-0.3f32, 0.3, shape, &dev)?;
            let t = if key.ends_with(".weight") && !key.contains("conv2d") {
                (t + 1.0)?
            } else {
                t
            };
            tensors.insert(key, t);
        }
        Ok(StyleBank::from_tensors(&tensors, n, Precision::F32)?)
    }

    #[test]
    fn a_mix_of_one_style_is_that_style_exactly() -> anyhow::Result<()> {
        let bank = bank(3)?;
        let xs = Tensor::rand(0f32, 255., (1, 3, 16, 16), &Device::Cpu)?;
        let one = bank.network_for(1)?.forward(&xs)?;
        let mixed = bank.network_mixed(&[0.0, 1.0, 0.0])?.forward(&xs)?;
        let diff = (&one - &mixed)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert_eq!(diff, 0.0);
        let other = bank.network_for(2)?.forward(&xs)?;
        let apart = (&one - &other)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(apart > 1.0, "styles 1 and 2 give the same output ({apart})");
        Ok(())
    }

    #[test]
    fn extra_rows_follow_the_existing_ones_unchanged() -> anyhow::Result<()> {
        let bank = bank(2)?;
        let extra: HashMap<String, Tensor> = Architecture::Johnson
            .norm_channels()
            .into_iter()
            .flat_map(|(name, c)| {
                [".weight", ".bias"].map(|s| {
                    let t = Tensor::full(7f32, c, &Device::Cpu).unwrap();
                    (format!("{name}{s}"), t)
                })
            })
            .collect();
        let grown = StyleBank::from_tensors(&bank.tensors_with(&extra)?, 3, Precision::F32)?;
        for (key, table) in bank.tables() {
            let new = &grown.tables()[key];
            let old_rows = new.narrow(0, 0, 2)?;
            let same = (table - &old_rows)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert_eq!(same, 0.0, "{key}");
            assert_eq!(new.get(2)?.to_vec1::<f32>()?[0], 7.0);
        }
        assert!(bank.network_mixed(&[1.0]).is_err());
        assert!(bank.network_for(2).is_err());
        Ok(())
    }
}
