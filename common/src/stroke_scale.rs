//! Bigger brush strokes at inference time: a network paints strokes of a fixed size in pixels
//! (set by the painting's size in training), so on a large photo they shrink to a fine texture.
//! With a stroke scale `S`, the network runs on the photo shrunk by `S` and its result is
//! enlarged back, so the strokes come out `S` times as large; the photo's own luminance detail
//! that the shrinking lost is added back, so edges stay as sharp as the photo's.

use image::imageops::{self, FilterType};
use image::RgbImage;

use crate::error::{Error, Result};
use crate::model::transformer::MIN_SIDE;

/// The largest stroke scale: beyond it a photo would have to be tens of thousands of pixels
/// wide for the network to see more than a thumbnail.
pub const MAX_STROKE_SCALE: f32 = 16.0;

/// Checks a stroke scale: a finite number from 1 (the network's own stroke size) up to
/// [`MAX_STROKE_SCALE`].
pub(crate) fn validate(scale: f32) -> Result<()> {
    if !(1.0..=MAX_STROKE_SCALE).contains(&scale) {
        return Err(Error::Invalid(format!(
            "the stroke scale must be between 1 and {MAX_STROKE_SCALE}, got {scale}"
        )));
    }
    Ok(())
}

/// The size the network sees a `width` x `height` photo at under `scale`: each side divided by
/// it, rounded, and at least [`MIN_SIDE`].
pub fn network_size(width: u32, height: u32, scale: f32) -> (u32, u32) {
    let side = |v: u32| ((v as f32 / scale).round() as u32).max(MIN_SIDE).min(v);
    if scale == 1.0 {
        (width, height)
    } else {
        (side(width), side(height))
    }
}

/// The photo as the network sees it under `scale` (the photo itself at scale 1).
pub(crate) fn shrink(photo: &RgbImage, scale: f32) -> RgbImage {
    let (w, h) = network_size(photo.width(), photo.height(), scale);
    if (w, h) == photo.dimensions() {
        return photo.clone();
    }
    imageops::resize(photo, w, h, FilterType::CatmullRom)
}

/// The network's result on `small` (the photo shrunk by [`shrink`]) brought to the photo's
/// size: enlarged (Catmull-Rom), plus the photo's luminance minus that of `small` enlarged the
/// same way, which is the detail the shrinking removed (the same for all three channels, so
/// it sharpens edges without tinting them).
pub(crate) fn enlarge(stylized: &RgbImage, small: &RgbImage, photo: &RgbImage) -> RgbImage {
    let (w, h) = photo.dimensions();
    if stylized.dimensions() == (w, h) {
        return stylized.clone();
    }
    let mut out = imageops::resize(stylized, w, h, FilterType::CatmullRom);
    let blurred = imageops::resize(small, w, h, FilterType::CatmullRom);
    let luma = |p: &image::Rgb<u8>| {
        let [r, g, b] = p.0.map(f32::from);
        0.299 * r + 0.587 * g + 0.114 * b
    };
    for ((o, sharp), soft) in out.pixels_mut().zip(photo.pixels()).zip(blurred.pixels()) {
        let detail = luma(sharp) - luma(soft);
        for c in o.0.iter_mut() {
            *c = (f32::from(*c) + detail).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_sees_the_photo_shrunk_but_never_below_its_smallest_side() {
        assert_eq!(network_size(2048, 1536, 1.0), (2048, 1536));
        assert_eq!(network_size(2048, 1536, 2.0), (1024, 768));
        assert_eq!(network_size(1001, 999, 3.0), (334, 333));
        assert_eq!(network_size(40, 20, 4.0), (10, MIN_SIDE));
        assert_eq!(network_size(6, 6, 4.0), (6, 6));
        assert!(validate(0.5).is_err() && validate(f32::NAN).is_err() && validate(17.0).is_err());
        assert!(validate(1.0).is_ok() && validate(MAX_STROKE_SCALE).is_ok());
    }

    /// Enlarging adds back exactly what shrinking took: a "network" that returns its input
    /// gives the photo back, hard edge and all, where plain enlarging blurs the edge.
    #[test]
    fn enlarging_restores_the_photos_edges() {
        let photo = RgbImage::from_fn(64, 48, |x, y| {
            let v: u32 = if x < 31 { 40 } else { 200 };
            image::Rgb([v as u8, ((v + y) / 2) as u8, (255 - v) as u8])
        });
        let small = shrink(&photo, 4.0);
        assert_eq!(small.dimensions(), (16, 12));
        let out = enlarge(&small, &small, &photo);
        let gray = |p: &image::Rgb<u8>| {
            let [r, g, b] = p.0.map(f32::from);
            0.299 * r + 0.587 * g + 0.114 * b
        };
        for (a, b) in out.pixels().zip(photo.pixels()) {
            // The luminance comes back exact within rounding (and clamping at the extremes,
            // which this photo stays clear of).
            assert!((gray(a) - gray(b)).abs() <= 1.0, "{a:?} vs {b:?}");
        }
        let plain = imageops::resize(&small, 64, 48, FilterType::CatmullRom);
        let edge = |img: &RgbImage| gray(img.get_pixel(31, 20)) - gray(img.get_pixel(30, 20));
        assert!(
            edge(&plain) < 0.75 * edge(&photo),
            "{} vs {}",
            edge(&plain),
            edge(&photo)
        );
    }
}
