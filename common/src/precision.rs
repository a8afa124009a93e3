//! The compute precision switch: `bf16` runs the convolutions (transform network and VGG) in
//! bfloat16 while weights, instance norm, the losses and the optimizer stay in f32, as PyTorch's
//! autocast does. It halves the memory traffic of the convs and uses the GPU's bf16 tensor cores.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::DType;

static TF32: AtomicBool = AtomicBool::new(false);

/// Lets f32 convolutions and matrix products on CUDA use TF32 tensor cores (10-bit mantissa
/// products, f32 sums), as PyTorch allows its cuDNN convolutions by default: faster on Ampere
/// and later GPUs, about 1e-3 relative error per op. Off by default, so that f32 runs match
/// PyTorch's strict f32 and resume bit-identically; process-wide.
pub fn allow_tf32(allowed: bool) {
    TF32.store(allowed, Ordering::Relaxed);
    candle_core::cuda::set_gemm_reduced_precision_f32(allowed);
}

/// Whether [`allow_tf32`] is on.
pub fn tf32_allowed() -> bool {
    TF32.load(Ordering::Relaxed)
}

/// The dtype the convolutions compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Everything in f32 (the default).
    #[default]
    F32,
    /// Convolutions in bf16; master weights, normalisation and losses in f32.
    Bf16,
}

impl Precision {
    /// Parses `f32` or `bf16`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(Self::F32),
            "bf16" => Some(Self::Bf16),
            _ => None,
        }
    }

    /// The name used in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        }
    }

    /// The dtype convolutions run in.
    pub fn conv_dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::Bf16 => DType::BF16,
        }
    }
}
