//! What one activation of the loss network is scored against: the content image's features
//! (content loss) or a painting's Gram matrix (style loss), as in Johnson et al. (2016).

use candle_core::Tensor;

use crate::error::Result;
use crate::loss::{content_loss, gram_matrix, style_loss};

/// The target of one loss-network tap; see [`crate::Vgg::tap_losses`].
#[derive(Debug, Clone)]
pub enum TapTarget {
    /// Content: the mean squared difference from these features (`[B, C, H, W]`, the tap's
    /// shape; constants).
    Features(Tensor),
    /// Style: the mean squared difference of the tap's Gram matrix (`[B, C, C]`) from this one
    /// (`[1, C, C]`, broadcast over the batch, or `[B, C, C]`; a constant).
    Gram(Tensor),
}

impl TapTarget {
    /// The unweighted loss of activation `tap` against this target, a scalar, built from the
    /// differentiable ops of [`crate::loss`].
    pub fn loss(&self, tap: &Tensor) -> Result<Tensor> {
        match self {
            Self::Features(t) => content_loss(tap, t),
            Self::Gram(g) => style_loss(&[gram_matrix(tap)?], std::slice::from_ref(g)),
        }
    }
}
