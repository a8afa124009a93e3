//! What the CPU conv derives from a kernel that never changes (a frozen loss network's), kept
//! from one call to the next: the adjoint conv's flipped kernel and the Winograd-transformed
//! kernels. Transforming a 512 x 512-channel kernel took 7.5 ms a call, about as long as the
//! conv's own Winograd GEMMs at batch 4 and 16x16 pixels.

use std::sync::OnceLock;

use candle_core::Tensor;

/// The derived forms of one constant conv kernel, each computed on first use. Use one only
/// with the kernel it was first used with, whose values must never change (a loss network's
/// weights, never trained); a tracked (trainable) kernel ignores it.
#[derive(Debug, Default)]
pub struct FrozenKernel {
    /// The dual kernel: flipped in space, inputs and outputs swapped.
    pub(crate) dual: OnceLock<Tensor>,
    /// Winograd's `U = G·k·Gᵀ` of the kernel.
    pub(crate) winograd: OnceLock<Vec<f32>>,
    /// Winograd's `U` of the dual kernel (the input gradient's conv).
    pub(crate) dual_winograd: OnceLock<Vec<f32>>,
}
