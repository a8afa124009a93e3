//! Per-op timings, for finding where a forward pass or a training step spends its time
//! (`fauve-bench --profile`). While profiling is on, each of the library's ops, forward and
//! backward, synchronises its device before and after itself, so that its time is its own
//! (kernels included), not the time to enqueue it; the outermost op of a nest is charged.
//! Profiling is per thread (the thread that drives the model; candle runs backprop on it too);
//! off, the default, an op pays one thread-local read.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::Device;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    /// Open scopes on this thread: only the outermost one records.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static TABLE: RefCell<BTreeMap<(&'static str, Phase), OpTime>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// Which pass of an op a time belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The op itself.
    Forward,
    /// Its gradient, during backprop.
    Backward,
}

/// The calls and total seconds of one op and phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpTime {
    /// How many times it ran.
    pub calls: u64,
    /// Total wall time between device synchronisations.
    pub seconds: f64,
}

/// Turns profiling on or off for the calling thread. Profiling slows a GPU run down (every op
/// waits for the device), so time runs with it off and profile separately.
pub fn set_profiling(on: bool) {
    ENABLED.with(|e| e.set(on));
}

/// The times this thread recorded since the last call, by op and phase, and clears them.
pub fn take_profile() -> Vec<(&'static str, Phase, OpTime)> {
    TABLE.with(|t| {
        std::mem::take(&mut *t.borrow_mut())
            .into_iter()
            .map(|((name, phase), time)| (name, phase, time))
            .collect()
    })
}

/// Times one op until dropped; see [`scope`]. A scope opened inside another only counts the
/// depth (`timing` None): the outer one is charged.
pub(crate) struct Scope {
    timing: Option<(&'static str, Phase, Device, Instant)>,
}

/// Starts timing op `name` on `device` when profiling is on; None when it is off.
pub(crate) fn scope(name: &'static str, phase: Phase, device: &Device) -> Option<Scope> {
    if !ENABLED.with(Cell::get) {
        return None;
    }
    let outer = DEPTH.with(|d| {
        let depth = d.get();
        d.set(depth + 1);
        depth == 0
    });
    let timing = outer.then(|| {
        // Work queued before this op is not its own.
        let _ = device.synchronize();
        (name, phase, device.clone(), Instant::now())
    });
    Some(Scope { timing })
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        let Some((name, phase, device, start)) = &self.timing else {
            return;
        };
        let _ = device.synchronize();
        let seconds = start.elapsed().as_secs_f64();
        TABLE.with(|t| {
            let mut table = t.borrow_mut();
            let entry = table.entry((*name, *phase)).or_default();
            entry.calls += 1;
            entry.seconds += seconds;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real ops under profiling: the transform network's forward and backward on the CPU are
    /// charged to the conv, instance-norm and padding ops, forward and backward, and nested
    /// ops are not counted twice (the charged time is at most the step's).
    #[test]
    fn charges_the_library_ops_forward_and_backward() -> anyhow::Result<()> {
        use candle_core::{DType, Module, Tensor};
        use candle_nn::{VarBuilder, VarMap};
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let net = crate::TransformerNet::new(
            crate::Precision::F32,
            VarBuilder::from_varmap(&varmap, DType::F32, &dev),
        )?;
        let x = Tensor::rand(0f32, 255., (1, 3, 32, 32), &dev)?;
        let _ = take_profile();
        set_profiling(true);
        let start = Instant::now();
        let loss = net.forward(&x)?.sqr()?.mean_all()?;
        let _grads = loss.backward()?;
        let step = start.elapsed().as_secs_f64();
        set_profiling(false);
        let table = take_profile();
        let names: Vec<String> = table.iter().map(|(n, p, _)| format!("{n} {p:?}")).collect();
        for (name, phase) in [
            ("conv2d", Phase::Forward),
            ("instance_norm", Phase::Forward),
            ("fauve-cpu-conv2d", Phase::Backward),
        ] {
            assert!(
                table
                    .iter()
                    .any(|(n, p, t)| *n == name && *p == phase && t.calls > 0),
                "{name} {phase:?} missing from {names:?}"
            );
        }
        let charged: f64 = table.iter().map(|(_, _, t)| t.seconds).sum();
        assert!(
            charged <= step,
            "charged {charged} s of a {step} s step: {names:?}"
        );
        // Off again: nothing more is recorded.
        net.forward(&x)?;
        assert!(take_profile().is_empty());
        Ok(())
    }
}
