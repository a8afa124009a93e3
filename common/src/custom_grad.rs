//! Attaching a hand-written backward to a value computed outside the autograd graph.
//!
//! Composite ops (instance norm, reflection padding) cost far more in candle's generic backward
//! than their closed-form gradients do. Here the forward runs untracked, and a custom op that
//! passes the value through re-links it to its inputs with the given backward.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

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
