//! The training objective: content loss at one VGG16 layer, Gram style loss at several against
//! targets computed once from the painting, and optional total variation, each weighted.

use anyhow::Result;
use candle_core::Tensor;
use fauve::loss::{content_loss, gram_matrix, style_loss, total_variation};
use fauve::Vgg16;

/// Loss weights and layers, resolved from the config.
#[derive(Debug, Clone)]
pub struct LossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub content_index: usize,
    pub style_indices: Vec<usize>,
}

/// The weighted terms of one step (scalar tensors, part of the autograd graph).
pub struct LossTerms {
    pub content: Tensor,
    pub style: Tensor,
    pub tv: Option<Tensor>,
    pub total: Tensor,
}

/// Frozen VGG16 plus the painting's Gram targets.
pub struct PerceptualLoss {
    vgg: Vgg16,
    style_grams: Vec<Tensor>,
    weights: LossWeights,
}

impl PerceptualLoss {
    /// Computes the style targets once from `style` (`[1, 3, H, W]`, 0..255).
    pub fn new(vgg: Vgg16, style: &Tensor, weights: LossWeights) -> Result<Self> {
        let feats = vgg.features(style)?;
        let style_grams = weights
            .style_indices
            .iter()
            .map(|&i| gram_matrix(&feats.taps[i]).map(|g| g.detach()))
            .collect::<fauve::Result<Vec<_>>>()?;
        Ok(Self {
            vgg,
            style_grams,
            weights,
        })
    }

    /// Losses of stylized batch `y` against content batch `x`.
    pub fn compute(&self, y: &Tensor, x: &Tensor) -> Result<LossTerms> {
        let w = &self.weights;
        let deepest = w
            .style_indices
            .iter()
            .copied()
            .chain([w.content_index])
            .max()
            .unwrap_or(3);
        let fy = self.vgg.taps_up_to(y, deepest + 1)?;
        let fx = self.vgg.taps_up_to(x, w.content_index + 1)?;
        let content =
            (content_loss(&fy[w.content_index], &fx[w.content_index].detach())? * w.content)?;
        let grams = w
            .style_indices
            .iter()
            .map(|&i| gram_matrix(&fy[i]))
            .collect::<fauve::Result<Vec<_>>>()?;
        let style = (style_loss(&grams, &self.style_grams)? * w.style)?;
        let mut total = (&content + &style)?;
        let tv = if w.tv > 0.0 {
            let tv = (total_variation(y)? * w.tv)?;
            total = (total + &tv)?;
            Some(tv)
        } else {
            None
        };
        Ok(LossTerms {
            content,
            style,
            tv,
            total,
        })
    }
}
