//! Seeded initialisation of the transform network. candle cannot seed its CPU generator, so the
//! weights are drawn here from the config's seed with PyTorch's default rules: convs
//! U(±1/√fan_in) for weight and bias, instance norm scale 1 and shift 0.

use std::collections::HashMap;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Overwrites every variable with values drawn from `seed` (in name order, so the result
/// depends on nothing else).
pub fn seeded_init(vars: &HashMap<String, Var>, seed: u64, device: &Device) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let var = &vars[name];
        let shape = var.dims().to_vec();
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if name.contains(".conv2d.") {
            let weight_name = name.replace(".bias", ".weight");
            let w = vars
                .get(&weight_name)
                .with_context(|| format!("no weight for {name}"))?;
            let fan_in: usize = w.dims()[1..].iter().product();
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        } else if name.ends_with(".weight") {
            vec![1.0; n]
        } else {
            vec![0.0; n]
        };
        var.set(&Tensor::from_vec(values, shape, device)?)?;
    }
    Ok(())
}
