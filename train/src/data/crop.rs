//! The square crop each training photo is cut to.

use image::imageops::FilterType;
use image::DynamicImage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Resizes the shorter side to `size` and crops a `size`x`size` square (centred, or at an
/// offset drawn from `rng`), returning CHW RGB floats in 0..255.
pub fn crop_photo(img: &DynamicImage, size: usize, rng: Option<&mut ChaCha8Rng>) -> Vec<f32> {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let scale = size as f64 / w.min(h);
    let nw = ((w * scale).round() as u32).max(size as u32);
    let nh = ((h * scale).round() as u32).max(size as u32);
    let resized = img.resize_exact(nw, nh, FilterType::Triangle);
    let (max_x, max_y) = (nw - size as u32, nh - size as u32);
    let (x0, y0) = match rng {
        Some(rng) => (rng.random_range(0..=max_x), rng.random_range(0..=max_y)),
        None => (max_x / 2, max_y / 2),
    };
    let rgb = fauve::to_rgb(&resized.crop_imm(x0, y0, size as u32, size as u32));
    let plane = size * size;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in rgb.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px.0[c] as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn centre_crop_of_a_wide_image() {
        // 8x4 image whose x coordinate is its red value; shorter side 4 -> already size 4.
        let img = image::RgbImage::from_fn(8, 4, |x, _| image::Rgb([x as u8 * 10, 0, 0]));
        let out = crop_photo(&DynamicImage::ImageRgb8(img), 4, None);
        assert_eq!(out.len(), 3 * 16);
        // Centre crop starts at x = 2.
        assert_eq!(&out[0..4], &[20.0, 30.0, 40.0, 50.0]);
    }

    #[test]
    fn random_crops_are_seeded_and_stay_inside_the_image() {
        let img = image::RgbImage::from_fn(40, 8, |x, _| image::Rgb([x as u8 * 5, 0, 0]));
        let img = DynamicImage::ImageRgb8(img);
        let crop = |seed| crop_photo(&img, 8, Some(&mut ChaCha8Rng::seed_from_u64(seed)));
        assert_eq!(crop(1), crop(1));
        let offsets: std::collections::BTreeSet<u32> =
            (0..20).map(|s| crop(s)[0] as u32 / 5).collect();
        assert!(offsets.len() > 3, "crops vary: {offsets:?}");
        assert!(offsets.iter().all(|&x| x <= 32), "{offsets:?}");
    }
}
