//! Adam (Kingma & Ba 2015) with PyTorch's update rule and no weight decay. Written here rather
//! than using candle-nn's `AdamW` because checkpoints must hold the moments and step count,
//! which `AdamW` keeps private.

use candle_core::{backprop::GradStore, Result, Tensor, Var};

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// Adam over a fixed list of named variables.
pub struct Adam {
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: usize,
    lr: f64,
}

impl Adam {
    /// Starts with zero moments; `vars` are sorted by name so the state layout is stable.
    pub fn new(mut vars: Vec<(String, Var)>, lr: f64) -> Result<Self> {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let m = vars
            .iter()
            .map(|(_, v)| v.as_tensor().zeros_like())
            .collect::<Result<Vec<_>>>()?;
        let v = m.clone();
        Ok(Self {
            vars,
            m,
            v,
            step: 0,
            lr,
        })
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Steps taken so far.
    #[cfg(test)]
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// One update from the gradients of a backward pass. Variables without a gradient are
    /// skipped: value and moments unchanged, as PyTorch skips a parameter whose `.grad` is
    /// None. (The step count still advances, which only matters for variables that get a
    /// gradient again later; every variable of the transform network gets one every step.)
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - BETA1.powi(t);
        let bias2_sqrt = (1.0 - BETA2.powi(t)).sqrt();
        let step_size = self.lr / bias1;
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Detached: a gradient can carry the op history of the step that made it, and
            // moments kept across steps would otherwise chain every step's graph (a leak).
            let g = g.detach();
            let m = ((&self.m[i] * BETA1)? + (&g * (1.0 - BETA1))?)?.detach();
            let v = ((&self.v[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?.detach();
            let denom = ((v.sqrt()? / bias2_sqrt)? + EPS)?;
            let update = ((&m / &denom)? * step_size)?;
            var.set(&var.as_tensor().sub(&update)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }

    /// Named state tensors for a checkpoint: `adam_m/<name>` and `adam_v/<name>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.vars.len());
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.push((format!("adam_m/{name}"), self.m[i].clone()));
            out.push((format!("adam_v/{name}"), self.v[i].clone()));
        }
        out
    }

    /// Restores moments and step count saved by [`Adam::state`].
    pub fn restore(
        &mut self,
        step: usize,
        get: impl Fn(&str) -> anyhow::Result<Tensor>,
    ) -> anyhow::Result<()> {
        for (i, (name, _)) in self.vars.iter().enumerate() {
            self.m[i] = get(&format!("adam_m/{name}"))?;
            self.v[i] = get(&format!("adam_v/{name}"))?;
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_pytorch_adam_on_a_quadratic() -> anyhow::Result<()> {
        // torch: p = tensor([1., -2.]); opt = Adam([p], lr=0.1)
        // for _ in range(3): opt.zero_grad(); (p**2).sum().backward(); opt.step()
        // print(p.tolist()) -> [0.7015863060951233, -1.7006233930587769]
        let p = Var::new(&[1f32, -2.], &Device::Cpu)?;
        let mut adam = Adam::new(vec![("p".into(), p.clone())], 0.1)?;
        for _ in 0..3 {
            let loss = p.as_tensor().sqr()?.sum_all()?;
            adam.step(&loss.backward()?)?;
        }
        let got = p.as_tensor().to_vec1::<f32>()?;
        for (g, e) in got.iter().zip([0.701_586_3_f32, -1.700_623_4]) {
            assert!((g - e).abs() < 1e-6, "{got:?}");
        }
        assert_eq!(adam.step_count(), 3);
        Ok(())
    }

    #[test]
    fn moments_never_keep_a_graph_alive() -> anyhow::Result<()> {
        // Regression: gradients computed from tracked tensors (here the kernel gradient of a
        // conv whose input is itself a variable) carry op history; moments that kept it chained
        // every step's graph and leaked ~100 MB/s in the demo run.
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 1., (1, 2, 6, 6), &dev)?;
        let w = Var::randn(0f32, 1., (3, 2, 3, 3), &dev)?;
        // candle's own conv2d: its kernel gradient is computed from the tracked input.
        let grads = x
            .as_tensor()
            .conv2d(w.as_tensor(), 1, 1, 1, 1)?
            .sqr()?
            .sum_all()?
            .backward()?;
        assert!(
            grads.get(w.as_tensor()).unwrap().track_op(),
            "premise: grad tracks"
        );
        let mut adam = Adam::new(vec![("w".into(), w.clone())], 0.1)?;
        adam.step(&grads)?;
        for (name, t) in adam.state() {
            assert!(!t.track_op(), "{name} holds a graph");
        }
        Ok(())
    }
}
