//! The optimisation method of Gatys et al. (2016), the ancestor of feed-forward style transfer:
//! the pixels of one photo are optimised with L-BFGS against exactly the perceptual loss a
//! training run would use. Minutes instead of a night, so a user can see what a weight setting
//! or a style size looks like before training a network for it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Executor, Gradient, State, KV};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use candle_core::{DType, Device, Shape, Tensor, Var};

pub use crate::perceptual::LossValues;
use crate::perceptual::PerceptualLoss;

/// How many past steps L-BFGS remembers: PyTorch's `history_size` default (100) needs 1.6 MB
/// per step at 256 px in f64; 50 keeps a 256 px preview under 200 MB with the same result.
pub const HISTORY: usize = 50;

/// What one preview optimisation did.
pub struct Outcome {
    /// The optimised image, `[1, 3, H, W]` in 0..255 (not clamped: clamp when saving).
    pub image: Tensor,
    /// Loss of the photo itself, where the optimisation starts.
    pub start: LossValues,
    /// Loss of `image`, the lowest seen.
    pub end: LossValues,
    pub iterations: usize,
    /// Loss and gradient computations (the line search takes more than one per iteration).
    pub evaluations: usize,
    pub seconds: f64,
    /// Stopped early by Ctrl-C; `image` is the best so far.
    pub interrupted: bool,
    /// Why the optimisation failed before its last iteration (a line search that found no
    /// lower point, a loss that became non-finite); `image` is still the best point it reached.
    pub failure: Option<String>,
}

/// The lowest-loss point seen, and the last point evaluated (the line search asks for the cost
/// and the gradient of the same point separately; one forward and backward pass serves both).
#[derive(Default)]
struct Memory {
    last: Option<(Vec<f64>, Vec<f64>, LossValues)>,
    best: Option<(Vec<f64>, LossValues)>,
    evaluations: usize,
    iterations: usize,
}

/// The pixels of one image as the variables of an optimisation problem.
struct PixelProblem<'a> {
    loss: &'a PerceptualLoss,
    content_target: Tensor,
    shape: Shape,
    device: Device,
    memory: Rc<RefCell<Memory>>,
    interrupted: &'a AtomicBool,
}

impl PixelProblem<'_> {
    fn evaluate(&self, p: &[f64]) -> Result<(f64, Vec<f64>)> {
        if let Some((q, grad, values)) = &self.memory.borrow().last {
            if q == p {
                return Ok((values.total, grad.clone()));
            }
        }
        if self.interrupted.load(Ordering::SeqCst) {
            bail!(Interrupted);
        }
        let pixels: Vec<f32> = p.iter().map(|&v| v as f32).collect();
        let x = Var::from_tensor(&Tensor::from_vec(pixels, self.shape.clone(), &self.device)?)?;
        let terms = self
            .loss
            .compute_against(x.as_tensor(), &self.content_target)?;
        let values = LossValues::of(&terms)?;
        if !values.total.is_finite() {
            bail!("the loss became {} ({values})", values.total);
        }
        let grads = terms.total.backward()?;
        let grad = grads
            .get(x.as_tensor())
            .context("the loss has no gradient with respect to the image")?
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?;
        let mut memory = self.memory.borrow_mut();
        memory.evaluations += 1;
        if memory
            .best
            .as_ref()
            .is_none_or(|(_, best)| values.total < best.total)
        {
            memory.best = Some((p.to_vec(), values));
        }
        memory.last = Some((p.to_vec(), grad.clone(), values));
        Ok((values.total, grad))
    }
}

/// Raised inside the optimisation when Ctrl-C was pressed.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted")
    }
}

impl std::error::Error for Interrupted {}

impl CostFunction for PixelProblem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> Result<f64> {
        Ok(self.evaluate(p)?.0)
    }
}

impl Gradient for PixelProblem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Self::Param) -> Result<Vec<f64>> {
        Ok(self.evaluate(p)?.1)
    }
}

/// Calls back after every L-BFGS iteration with its number and the loss of its point.
struct IterationObserver<F: FnMut(usize, &LossValues)> {
    memory: Rc<RefCell<Memory>>,
    on_iteration: F,
}

impl<I: State, F: FnMut(usize, &LossValues)> Observe<I> for IterationObserver<F> {
    fn observe_iter(&mut self, state: &I, _kv: &KV) -> Result<()> {
        let mut memory = self.memory.borrow_mut();
        memory.iterations = state.get_iter() as usize + 1;
        if let Some((_, _, values)) = &memory.last {
            (self.on_iteration)(memory.iterations, values);
        }
        Ok(())
    }
}

/// Optimises the pixels of `photo` (`[1, 3, H, W]`, 0..255) for `iterations` L-BFGS iterations
/// against `loss`, starting from the photo (so the content is there from the start and the
/// style grows into it). `on_iteration` sees each iteration's loss; Ctrl-C (`interrupted`)
/// stops early with the best image so far, and so does a failure after the photo was scored
/// (`Outcome::failure` says why): the iterations done are never thrown away.
pub fn optimise(
    loss: &PerceptualLoss,
    photo: &Tensor,
    iterations: usize,
    on_iteration: impl FnMut(usize, &LossValues) + 'static,
    interrupted: &AtomicBool,
) -> Result<Outcome> {
    let started = Instant::now();
    let memory = Rc::new(RefCell::new(Memory::default()));
    let problem = PixelProblem {
        loss,
        content_target: loss.content_target(photo)?,
        shape: photo.shape().clone(),
        device: photo.device().clone(),
        memory: memory.clone(),
        interrupted,
    };
    let init = photo
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    problem.evaluate(&init)?;
    let start = memory
        .borrow()
        .last
        .as_ref()
        .map(|l| l.2)
        .context("the photo was not scored")?;
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), HISTORY)
        .with_tolerance_grad(0.0)?
        .with_tolerance_cost(0.0)?;
    let observer = IterationObserver {
        memory: memory.clone(),
        on_iteration,
    };
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(init).max_iters(iterations as u64))
        .add_observer(observer, ObserverMode::Always)
        .timer(false)
        .run();
    // The solver may end on its own once a line search is refused an evaluation, or pass the
    // refusal up as an error: either way the flag says why it stopped.
    let was_interrupted = interrupted.load(Ordering::SeqCst);
    let failure = match result {
        Err(e) if !was_interrupted => Some(fauve::report(anyhow!(e).as_ref())),
        _ => None,
    };
    let memory = memory.borrow();
    let (best, end) = memory
        .best
        .clone()
        .context("the optimisation evaluated nothing")?;
    let pixels: Vec<f32> = best.iter().map(|&v| v as f32).collect();
    let image = Tensor::from_vec(pixels, photo.shape().clone(), photo.device())?;
    Ok(Outcome {
        image,
        start,
        end,
        iterations: memory.iterations,
        evaluations: memory.evaluations,
        seconds: started.elapsed().as_secs_f64(),
        interrupted: was_interrupted,
        failure,
    })
}
