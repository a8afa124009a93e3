//! The training objective: content loss at one VGG layer, Gram style loss at several against
//! targets computed once from the painting, and optional total variation, each weighted.

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use fauve::loss::{gram_matrix, total_variation};
use fauve::{Preprocess, TapTarget, Vgg};
use image::DynamicImage;

use crate::config::{default_weights, StyleBalance, TrainConfig};

/// Loss weights and layers, resolved from the config.
#[derive(Debug, Clone)]
pub struct LossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// The content layer's conv position in the loss network ([`Vgg::layer`]).
    pub content_layer: usize,
    /// The style layers' conv positions.
    pub style_layers: Vec<usize>,
    /// One factor per style layer (in `style_layers` order), multiplying that layer's term
    /// inside the style weight; all 1 by default.
    pub style_layer_weights: Vec<f64>,
    /// How the layers' terms are balanced before those factors apply.
    pub balance: StyleBalance,
}

/// The weighted terms of one step (scalar tensors, part of the autograd graph).
pub struct LossTerms {
    pub content: Tensor,
    pub style: Tensor,
    pub tv: Option<Tensor>,
    pub total: Tensor,
}

/// The weighted loss terms of one computation, as numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossValues {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

impl LossValues {
    /// Reads the terms of a loss computation.
    pub fn of(terms: &LossTerms) -> Result<Self> {
        let v = |t: &Tensor| -> Result<f64> { Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?) };
        Ok(Self {
            content: v(&terms.content)?,
            style: v(&terms.style)?,
            tv: terms.tv.as_ref().map(v).transpose()?.unwrap_or(0.0),
            total: v(&terms.total)?,
        })
    }
}

/// The running mean of loss values (over a log interval, or over evaluation photos).
#[derive(Debug, Default, Clone, Copy)]
pub struct LossMeans {
    sum: LossValues,
    n: usize,
}

impl LossMeans {
    pub fn add(&mut self, v: &LossValues) {
        self.sum.content += v.content;
        self.sum.style += v.style;
        self.sum.tv += v.tv;
        self.sum.total += v.total;
        self.n += 1;
    }

    /// How many values were added.
    pub fn count(&self) -> usize {
        self.n
    }

    /// The mean of what was added (zeros when nothing was).
    pub fn mean(&self) -> LossValues {
        let n = self.n.max(1) as f64;
        LossValues {
            content: self.sum.content / n,
            style: self.sum.style / n,
            tv: self.sum.tv / n,
            total: self.sum.total / n,
        }
    }
}

impl std::fmt::Display for LossValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loss {:.4e} (content {:.4e}, style {:.4e}",
            self.total, self.content, self.style
        )?;
        if self.tv > 0.0 {
            write!(f, ", tv {:.4e}", self.tv)?;
        }
        write!(f, ")")
    }
}

/// The frozen VGG plus each painting's Gram targets.
pub struct PerceptualLoss {
    vgg: Vgg,
    /// One per painting, in style order.
    targets: Vec<StyleTarget>,
    weights: LossWeights,
}

/// One painting's Gram targets and layer factors (its own Gram balance).
struct StyleTarget {
    grams: Vec<Tensor>,
    /// What multiplies each style layer's term: the balance times `style_layer_weights`.
    layer_factors: Vec<f64>,
}

impl LossWeights {
    /// The weights and layers a config asks for in `vgg`, defaults filled in for its network
    /// and preprocessing. A layer `vgg` lacks is an error that lists those it has.
    pub fn from_config(cfg: &TrainConfig, vgg: &Vgg) -> Result<Self> {
        let balance = cfg.style_balance();
        let (cw, sw) = default_weights(vgg.info().net, vgg.preprocess(), balance);
        let style_layers = cfg
            .style_layers()
            .iter()
            .map(|l| vgg.layer(l))
            .collect::<fauve::Result<Vec<_>>>()
            .context("`style_layers`")?;
        Ok(Self {
            content: cfg.content_weight.unwrap_or(cw),
            style: cfg.style_weight.unwrap_or(sw),
            tv: cfg.tv_weight,
            content_layer: vgg.layer(&cfg.content_layer()).context("`content_layer`")?,
            style_layer_weights: cfg
                .style_layer_weights
                .clone()
                .unwrap_or_else(|| vec![1.0; style_layers.len()]),
            style_layers,
            balance,
        })
    }
}

/// The painting at `path` as the config says: `style_trim` pixels cut from each side, then
/// resized to `style_size`, as a `[1, 3, H, W]` tensor in 0..255.
pub fn load_style(path: &std::path::Path, cfg: &TrainConfig, device: &Device) -> Result<Tensor> {
    let img = fauve::load_image(path).with_context(|| {
        format!(
            "cannot load the style image\n\nhint: set --style-image to a painting (scripts/fetch-photos.sh gets {})",
            TrainConfig::default().style_image.display()
        )
    })?;
    let img = trim(img, cfg.style_trim)
        .with_context(|| format!("cannot trim the style image {}", path.display()))?;
    let img = fauve::resize_for_stylizing(&img, None, cfg.style_size.map(|s| s as u32));
    Ok(fauve::image_to_tensor(&img, device)?)
}

/// `img` without `by` pixels on each side; an error when less than 16 x 16 would be left.
fn trim(img: DynamicImage, by: usize) -> Result<DynamicImage> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if by == 0 {
        return Ok(img);
    }
    if w < 2 * by + 16 || h < 2 * by + 16 {
        anyhow::bail!("`style_trim` {by} leaves less than 16x16 pixels of a {w}x{h} painting");
    }
    let by32 = by as u32;
    Ok(img.crop_imm(by32, by32, (w - 2 * by) as u32, (h - 2 * by) as u32))
}

impl PerceptualLoss {
    /// Exactly the objective a config trains against: its VGG file, painting, style size,
    /// layers and weights. Training, `preview` and `eval` all build it here.
    pub fn from_config(cfg: &TrainConfig, device: &Device) -> Result<Self> {
        let vgg = Vgg::load(&cfg.vgg_path(), device, cfg.precision()?).with_context(|| {
            "cannot load the VGG weights\n\nhint: run scripts/fetch-vgg19.sh (or fetch-vgg16.sh), or set --vgg"
                .to_string()
        })?;
        let styles = cfg
            .style_paths()
            .iter()
            .map(|p| load_style(p, cfg, device))
            .collect::<Result<Vec<_>>>()?;
        let weights = LossWeights::from_config(cfg, &vgg)?;
        Self::with_styles(vgg, &styles, weights)
    }

    /// How many paintings the loss has targets for.
    pub fn n_styles(&self) -> usize {
        self.targets.len()
    }

    /// Changes the content and style weights (the style targets stay: they are unweighted).
    pub fn set_weights(&mut self, content: f64, style: f64) {
        self.weights.content = content;
        self.weights.style = style;
    }

    /// The weights and layers in use.
    pub fn weights(&self) -> &LossWeights {
        &self.weights
    }

    /// The factor on each style layer's term (balance times `style_layer_weights`), in
    /// `style_layers` order, for the first painting.
    pub fn style_layer_factors(&self) -> &[f64] {
        self.style_layer_factors_of(0)
    }

    /// [`Self::style_layer_factors`] of painting `style` (each has its own Gram balance).
    pub fn style_layer_factors_of(&self, style: usize) -> &[f64] {
        self.targets.get(style).map_or(&[], |t| &t.layer_factors)
    }

    /// Preprocessing of the VGG file (it decides the default weights).
    pub fn preprocess(&self) -> Preprocess {
        self.vgg.preprocess()
    }

    /// The loss network.
    pub fn vgg(&self) -> &Vgg {
        &self.vgg
    }

    /// The network and layers in words, e.g. `VGG19, content relu4_2, style relu1_1 relu2_1`.
    pub fn describe(&self) -> String {
        let net = self.vgg.info().net;
        let style: Vec<String> = self
            .weights
            .style_layers
            .iter()
            .map(|&p| net.layer_name(p))
            .collect();
        format!(
            "{}, content {}, style {}",
            net.as_str().to_uppercase(),
            net.layer_name(self.weights.content_layer),
            style.join(" ")
        )
    }

    /// The content features of photo batch `x`, computed once where the same photos are
    /// scored many times (preview, evaluation).
    pub fn content_target(&self, x: &Tensor) -> Result<Tensor> {
        let taps = self.vgg.taps(x, &[self.weights.content_layer])?;
        let tap = taps.into_iter().next().context("no content tap")?;
        Ok(tap.detach())
    }

    /// Computes the style targets once from `style` (`[1, 3, H, W]`, 0..255).
    pub fn new(vgg: Vgg, style: &Tensor, weights: LossWeights) -> Result<Self> {
        Self::with_styles(vgg, std::slice::from_ref(style), weights)
    }

    /// Computes each painting's style targets once (`[1, 3, H, W]` each, 0..255).
    pub fn with_styles(vgg: Vgg, styles: &[Tensor], weights: LossWeights) -> Result<Self> {
        let targets = styles
            .iter()
            .map(|s| StyleTarget::of(&vgg, s, &weights))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vgg,
            targets,
            weights,
        })
    }

    /// Losses of stylized batch `y` against content batch `x`, styled as the first painting.
    pub fn compute(&self, y: &Tensor, x: &Tensor) -> Result<LossTerms> {
        self.compute_style(y, x, 0)
    }

    /// Losses of stylized batch `y` against content batch `x` and painting `style`.
    pub fn compute_style(&self, y: &Tensor, x: &Tensor, style: usize) -> Result<LossTerms> {
        self.compute_against_style(y, &self.content_target(x)?, style)
    }

    /// Losses of stylized batch `y` against content features from [`Self::content_target`],
    /// styled as the first painting.
    pub fn compute_against(&self, y: &Tensor, content_target: &Tensor) -> Result<LossTerms> {
        self.compute_against_style(y, content_target, 0)
    }

    /// [`Self::compute_against`] for painting `style`.
    pub fn compute_against_style(
        &self,
        y: &Tensor,
        content_target: &Tensor,
        style: usize,
    ) -> Result<LossTerms> {
        let target = self
            .targets
            .get(style)
            .with_context(|| format!("no painting {style}: the loss has {}", self.targets.len()))?;
        let w = &self.weights;
        let positions: Vec<usize> = [w.content_layer]
            .into_iter()
            .chain(w.style_layers.iter().copied())
            .collect();
        let tap_targets: Vec<TapTarget> =
            std::iter::once(TapTarget::Features(content_target.clone()))
                .chain(target.grams.iter().cloned().map(TapTarget::Gram))
                .collect();
        let losses = self.vgg.tap_losses(y, &positions, &tap_targets)?;
        let content = (losses.get(0)? * w.content)?;
        let mut style: Option<Tensor> = None;
        for (k, &layer_weight) in target.layer_factors.iter().enumerate() {
            let term = (losses.get(k + 1)? * layer_weight)?;
            style = Some(match style {
                Some(s) => (s + term)?,
                None => term,
            });
        }
        let style = (style.context("no style layers")? * w.style)?;
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

impl StyleTarget {
    /// The Gram targets of painting `style` at the loss's style layers, and its factors.
    fn of(vgg: &Vgg, style: &Tensor, weights: &LossWeights) -> Result<Self> {
        let grams = vgg
            .taps(style, &weights.style_layers)?
            .iter()
            .map(|f| gram_matrix(f).map(|g| g.detach()))
            .collect::<fauve::Result<Vec<_>>>()?;
        let balance = match weights.balance {
            StyleBalance::None => vec![1.0; grams.len()],
            StyleBalance::Gram => gram_balance(&grams)?,
        };
        let layer_factors = balance
            .iter()
            .enumerate()
            .map(|(k, b)| b * weights.style_layer_weights.get(k).copied().unwrap_or(1.0))
            .collect();
        Ok(Self {
            grams,
            layer_factors,
        })
    }
}

/// The Gram balance of the style layers: the first layer's mean squared Gram entry over each
/// layer's (1 for the first). A layer whose Gram is all zeros (a black painting) keeps 1.
fn gram_balance(style_grams: &[Tensor]) -> Result<Vec<f64>> {
    let scales = style_grams
        .iter()
        .map(|g| {
            Ok(g.sqr()?
                .mean_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?)
        })
        .collect::<Result<Vec<f64>>>()?;
    let first = scales.first().copied().unwrap_or(1.0);
    Ok(scales
        .iter()
        .map(|&s| {
            let f = first / s;
            if s > 0.0 && f.is_finite() && f > 0.0 {
                f
            } else {
                1.0
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A framed painting loses its frame: nothing of the black border is left and each side
    /// shrinks by twice the trim; a trim that leaves too little is named.
    #[test]
    fn trimming_cuts_the_frame_off_each_side() {
        let framed = image::RgbImage::from_fn(60, 40, |x, y| {
            if x < 5 || y < 5 || x >= 55 || y >= 35 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([200, 150, 90])
            }
        });
        let out = trim(DynamicImage::ImageRgb8(framed), 5).unwrap().to_rgb8();
        assert_eq!(out.dimensions(), (50, 30));
        assert!(out.pixels().all(|p| p.0 == [200, 150, 90]));
        let err = trim(DynamicImage::new_rgb8(40, 30), 8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("leaves less than 16x16"), "{err}");
    }
}
