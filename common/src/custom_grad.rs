//! Attaching a hand-written backward to a value computed outside the autograd graph.
//!
//! Composite ops (instance norm, reflection padding) cost far more in candle's generic backward
//! than their closed-form gradients do. Here the forward runs untracked, and a custom op
//! re-links the value to its inputs with the given backward: on any device by passing a
//! tensor through (one copy), and on the CPU by handing over the computed buffer (no copy:
//! the copies of every activation cost 10% of a training step in page faults alone).

use std::sync::{Arc, Mutex};

use crate::profile::Phase;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Device, Layout, Result, Shape, Tensor};

/// Given the output gradient, the gradients of the two inputs (None where not needed).
pub type Backward = dyn Fn(&Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> + Send + Sync;

struct PassThrough {
    name: &'static str,
    backward: Arc<Backward>,
}

impl CustomOp3 for PassThrough {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        out: &CpuStorage,
        out_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if !out_layout.is_contiguous() || out_layout.start_offset() != 0 {
            candle_core::bail!("{}: precomputed output must be contiguous", self.name);
        }
        Ok((out.clone(), out_layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
        out: &candle_core::CudaStorage,
        out_layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        if !out_layout.is_contiguous() || out_layout.start_offset() != 0 {
            candle_core::bail!("{}: precomputed output must be contiguous", self.name);
        }
        Ok((out.try_clone(out_layout)?, out_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let _timing = crate::profile::scope(self.name, Phase::Backward, grad.device());
        let (a, b) = (self.backward)(grad)?;
        Ok((a, b, None))
    }
}

/// Returns `value` (computed without tracking) linked to inputs `a` and `b` so that backprop
/// calls `backward` for their gradients. When neither input is tracked, `value` is returned
/// as is and no graph is built.
pub fn with_backward(
    name: &'static str,
    a: &Tensor,
    b: &Tensor,
    value: Tensor,
    backward: Arc<Backward>,
) -> Result<Tensor> {
    if !a.track_op() && !b.track_op() {
        return Ok(value);
    }
    let value = value.contiguous()?;
    a.apply_op3(b, &value, PassThrough { name, backward })
}

/// Given the op's output and the output gradient, the gradients of the two inputs.
pub type BackwardWithOutput =
    dyn Fn(&Tensor, &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> + Send + Sync;

/// A CPU op whose output buffer was computed beforehand and is moved into the graph.
struct Precomputed {
    name: &'static str,
    values: Mutex<Option<Vec<f32>>>,
    shape: Shape,
    backward: Arc<BackwardWithOutput>,
}

impl CustomOp2 for Precomputed {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let values = self
            .values
            .lock()
            .map_err(|_| candle_core::Error::Msg(format!("{}: lock poisoned", self.name)))?
            .take()
            .ok_or_else(|| candle_core::Error::Msg(format!("{}: output taken twice", self.name)))?;
        Ok((CpuStorage::F32(values), self.shape.clone()))
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let _timing = crate::profile::scope(self.name, Phase::Backward, grad.device());
        (self.backward)(res, grad)
    }
}

/// The CPU f32 tensor `values` of shape `dims`, linked to inputs `a` and `b` so that backprop
/// calls `backward(output, output_gradient)` for their gradients; no graph when neither input
/// is tracked. The buffer becomes the tensor's storage without a copy.
pub fn cpu_with_backward(
    name: &'static str,
    a: &Tensor,
    b: &Tensor,
    values: Vec<f32>,
    dims: &[usize],
    backward: Arc<BackwardWithOutput>,
) -> Result<Tensor> {
    let shape = Shape::from(dims);
    if values.len() != shape.elem_count() {
        candle_core::bail!("{name}: {} values for shape {shape:?}", values.len());
    }
    if !a.track_op() && !b.track_op() {
        return Tensor::from_vec(values, shape, &Device::Cpu);
    }
    let op = Precomputed {
        name,
        values: Mutex::new(Some(values)),
        shape,
        backward,
    };
    a.apply_op2(b, op)
}
