//! The project's CUDA kernels (feature `cuda`), beside [`crate::cpu`]: instance norm as four
//! fused passes, and (feature `cudnn`) convolutions called on cuDNN directly with cached plans.
//! The ops in [`crate::ops`] decide when they apply ([`kernels_apply`]).

pub(crate) mod instance_norm;
mod launch;

#[cfg(feature = "cudnn")]
pub(crate) mod cudnn_conv;

use candle_core::{DType, Tensor};

/// Whether the project's CUDA kernels compute an op on these operands: all of them f32 on a
/// CUDA device. Everything else takes candle ops.
pub(crate) fn kernels_apply(operands: &[&Tensor]) -> bool {
    operands
        .iter()
        .all(|t| t.device().is_cuda() && t.dtype() == DType::F32)
}
