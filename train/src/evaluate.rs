//! Held-out evaluation: the mean training objective of a model's outputs on photos it never
//! saw, so that checkpoints and settings can be compared on something other than the photos
//! they were fitted to. Used by `fauve-train eval` and, every `eval_every` steps, by training
//! (a validation curve in TensorBoard).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use candle_core::{Device, Tensor};

use crate::data::{crop_photo, list_images};
use crate::perceptual::{LossMeans, LossValues, PerceptualLoss};

/// Evaluation photos, centre-cropped to the training size, with their content targets (the
/// photos never change, so their VGG features are computed once).
pub struct EvalSet {
    photos: Vec<(PathBuf, Tensor, Tensor)>,
    /// Files that could not be read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// The mean loss over the set, and each photo's.
pub struct EvalResult {
    pub mean: LossValues,
    pub per_photo: Vec<(PathBuf, LossValues)>,
}

impl EvalSet {
    /// Reads every image under `dir` as a `size` x `size` centre crop (as training crops
    /// photos). Unreadable files are skipped and listed; a folder without one readable photo
    /// is an error.
    pub fn load(dir: &Path, size: usize, loss: &PerceptualLoss, device: &Device) -> Result<Self> {
        let mut photos = Vec::new();
        let mut skipped = Vec::new();
        for path in list_images(dir)? {
            match fauve::load_image(&path) {
                Ok(img) => {
                    let x =
                        Tensor::from_vec(crop_photo(&img, size, None), (1, 3, size, size), device)?;
                    let target = loss.content_target(&x)?;
                    photos.push((path, x, target));
                }
                Err(e) => skipped.push((path, fauve::report(&e))),
            }
        }
        if photos.is_empty() {
            bail!(
                "no readable photo in {} ({} unreadable)",
                dir.display(),
                skipped.len()
            );
        }
        Ok(Self { photos, skipped })
    }

    pub fn len(&self) -> usize {
        self.photos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.photos.is_empty()
    }

    /// Scores `stylize` (a network: `[1, 3, H, W]` in 0..255 to the same) on every photo,
    /// against the loss's first painting.
    pub fn evaluate(
        &self,
        loss: &PerceptualLoss,
        stylize: impl FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<EvalResult> {
        self.evaluate_style(loss, 0, stylize)
    }

    /// [`Self::evaluate`] against the loss's painting `style`.
    pub fn evaluate_style(
        &self,
        loss: &PerceptualLoss,
        style: usize,
        mut stylize: impl FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<EvalResult> {
        let mut per_photo = Vec::with_capacity(self.photos.len());
        let mut means = LossMeans::default();
        for (path, x, target) in &self.photos {
            let y = stylize(x)?.detach();
            let v = LossValues::of(&loss.compute_against_style(&y, target, style)?)?;
            means.add(&v);
            per_photo.push((path.clone(), v));
        }
        Ok(EvalResult {
            mean: means.mean(),
            per_photo,
        })
    }
}
