//! Differentiable ops with closed-form backwards, one file per op: its forward, its backward
//! for devices without a kernel of ours (candle ops, any dtype), and the one rule that sends a
//! call to the project's CPU kernels ([`cpu_kernels_apply`]) or CUDA kernels
//! (`crate::cuda::kernels_apply`).

pub mod conv;
pub(crate) mod gram;
pub(crate) mod instance_norm;
// The four-pass composition the CUDA kernels plug into (tested on the CPU with candle ops).
pub(crate) mod max_pool;
pub(crate) mod reflection_pad;

use candle_core::{DType, Tensor};

/// Whether the project's CPU kernels ([`crate::cpu`]) compute an op on these operands: all of
/// them f32 on the CPU. Everything else takes candle ops with our backward.
pub(crate) fn cpu_kernels_apply(operands: &[&Tensor]) -> bool {
    operands
        .iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}
