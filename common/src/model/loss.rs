//! The perceptual losses of Johnson et al. (2016), each a plain function of tensors and each
//! unweighted: the trainer multiplies by the configured weights.

use candle_core::Tensor;

use crate::error::Result;

/// Gram matrix `φ·φᵀ / (C·H·W)` of `[B, C, H, W]` features, shape `[B, C, C]`: the channel
/// correlations that describe a style independently of where things are in the image.
pub fn gram_matrix(features: &Tensor) -> Result<Tensor> {
    let _timing = crate::profile::scope(
        "gram_matrix",
        crate::profile::Phase::Forward,
        features.device(),
    );
    let (b, c, h, w) = features.dims4()?;
    let flat = features.reshape((b, c, h * w))?;
    Ok(crate::ops::gram::gram(&flat, (c * h * w) as f64)?)
}

/// Content loss: mean squared difference between the features of the output and of the
/// content image (relu2_2 in Johnson et al.). A scalar.
pub fn content_loss(output_features: &Tensor, content_features: &Tensor) -> Result<Tensor> {
    Ok((output_features - content_features)?.sqr()?.mean_all()?)
}

/// Style loss: the sum over layers of the mean squared difference between the output's Gram
/// matrices `[B, C, C]` and the style targets (`[1, C, C]`, broadcast over the batch, or
/// `[B, C, C]`). A scalar.
pub fn style_loss(output_grams: &[Tensor], style_grams: &[Tensor]) -> Result<Tensor> {
    if output_grams.len() != style_grams.len() || output_grams.is_empty() {
        return Err(crate::Error::Invalid(format!(
            "style loss needs one target per layer: {} outputs, {} targets",
            output_grams.len(),
            style_grams.len()
        )));
    }
    let mut total: Option<Tensor> = None;
    for (gy, gs) in output_grams.iter().zip(style_grams) {
        let term = gy.broadcast_sub(gs)?.sqr()?.mean_all()?;
        total = Some(match total {
            Some(t) => (t + term)?,
            None => term,
        });
    }
    Ok(total.expect("checked non-empty above"))
}

/// Total variation: the sum of absolute differences between vertically and horizontally
/// adjacent pixels of a `[B, C, H, W]` image. Penalises high-frequency noise. A scalar.
pub fn total_variation(image: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = image.dims4()?;
    let dy = (image.narrow(2, 1, h - 1)? - image.narrow(2, 0, h - 1)?)?;
    let dx = (image.narrow(3, 1, w - 1)? - image.narrow(3, 0, w - 1)?)?;
    Ok((dy.abs()?.sum_all()? + dx.abs()?.sum_all()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn scalar(t: Tensor) -> f32 {
        t.to_scalar::<f32>().unwrap()
    }

    #[test]
    fn gram_of_a_hand_computed_example() -> anyhow::Result<()> {
        // One sample, C=2, H=1, W=2: φ = [[1, 2], [3, 4]].
        // φφᵀ = [[5, 11], [11, 25]], divided by C·H·W = 4.
        let f = Tensor::new(&[1f32, 2., 3., 4.], &Device::Cpu)?.reshape((1, 2, 1, 2))?;
        let g = gram_matrix(&f)?.flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(g, vec![1.25, 2.75, 2.75, 6.25]);
        Ok(())
    }

    #[test]
    fn content_loss_is_mean_squared_difference() -> anyhow::Result<()> {
        let a = Tensor::new(&[1f32, 2., 3., 4.], &Device::Cpu)?;
        let b = Tensor::new(&[1f32, 0., 3., 1.], &Device::Cpu)?;
        // (0 + 4 + 0 + 9) / 4
        assert_eq!(scalar(content_loss(&a, &b)?), 3.25);
        Ok(())
    }

    #[test]
    fn style_loss_sums_layers_and_broadcasts_the_target() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        // Layer 1: batch of 2 [1x1] grams [2], [4] against target [1]: ((1)² + (3)²) / 2 = 5.
        let gy1 = Tensor::new(&[2f32, 4.], &dev)?.reshape((2, 1, 1))?;
        let gs1 = Tensor::new(&[1f32], &dev)?.reshape((1, 1, 1))?;
        // Layer 2: [0], [0] against [2]: (4 + 4) / 2 = 4.
        let gy2 = Tensor::new(&[0f32, 0.], &dev)?.reshape((2, 1, 1))?;
        let gs2 = Tensor::new(&[2f32], &dev)?.reshape((1, 1, 1))?;
        assert_eq!(scalar(style_loss(&[gy1, gy2], &[gs1, gs2])?), 9.0);
        Ok(())
    }

    #[test]
    fn style_loss_refuses_mismatched_layer_counts() {
        let g = Tensor::zeros((1, 1, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(style_loss(&[g.clone(), g.clone()], &[g]).is_err());
    }

    #[test]
    fn total_variation_of_a_hand_computed_example() -> anyhow::Result<()> {
        // [[1, 4], [2, 8]]: vertical |2-1| + |8-4| = 5, horizontal |4-1| + |8-2| = 9.
        let img = Tensor::new(&[1f32, 4., 2., 8.], &Device::Cpu)?.reshape((1, 1, 2, 2))?;
        assert_eq!(scalar(total_variation(&img)?), 14.0);
        Ok(())
    }
}
