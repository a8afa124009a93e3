//! The training state a checkpoint holds, under its keys, and how a resume puts it back: the
//! network's variables (`model/NAME`), Adam's moments (see [`Adam::state`]), the step and the
//! data position. The trainer and the checkpoint fuzz target both go through here.

use std::collections::HashMap;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};

use crate::adam::Adam;
use crate::checkpoint::{Checkpoint, TrainState};

/// The tensors of a checkpoint of `vars` trained by `adam`.
pub fn checkpoint_tensors(vars: &HashMap<String, Var>, adam: &Adam) -> Vec<(String, Tensor)> {
    let mut tensors: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(k, v)| (format!("model/{k}"), v.as_tensor().clone()))
        .collect();
    tensors.extend(adam.state());
    tensors
}

/// Puts the checkpoint's weights, Adam moments, step and data position in place.
pub fn restore(
    ckpt: &Checkpoint,
    vars: &HashMap<String, Var>,
    adam: &mut Adam,
    state: &mut TrainState,
    device: &Device,
) -> Result<()> {
    for (name, var) in vars {
        var.set(&ckpt.tensor(&format!("model/{name}"), device)?)
            .with_context(|| format!("{}: tensor model/{name}", ckpt.path.display()))?;
    }
    adam.restore(ckpt.state.step, |k| ckpt.tensor(k, device))?;
    state.step = ckpt.state.step;
    state.data = ckpt.state.data;
    if ckpt.state.data_fingerprint == state.data_fingerprint {
        // Indices into the same file list; after a change they would name other files.
        state.bad_files = ckpt.state.bad_files.clone();
    }
    Ok(())
}
