//! The compute precision switch: `bf16` runs the convolutions (transform network and VGG16) in
//! bfloat16 while weights, instance norm, the losses and the optimizer stay in f32, as PyTorch's
//! autocast does. It halves the memory traffic of the convs and uses the GPU's bf16 tensor cores.

use candle_core::DType;

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
