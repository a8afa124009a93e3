//! The camera's motion between two video frames, as one whole-pixel translation: enough to
//! keep a pan's content on the network's sampling grid and to line up the previous stylized
//! frame with the next (see [`crate::sequence`]).

use image::{GrayImage, RgbImage};

/// The largest motion looked for, in pixels per frame along each axis.
pub const MAX_SHIFT: i32 = 32;

/// Luma of an RGB image (BT.601), the plane motion is estimated on.
pub fn luma(img: &RgbImage) -> GrayImage {
    image::imageops::grayscale(img)
}

/// Mean absolute difference of `next(x, y)` and `prev(x + dx, y + dy)` over the pixels both
/// have, sampling every `step`-th row and column; None when they share too little.
fn mismatch(prev: &GrayImage, next: &GrayImage, dx: i32, dy: i32, step: u32) -> Option<f64> {
    let (w, h) = (next.width() as i32, next.height() as i32);
    let (x0, x1) = (0.max(-dx), w.min(prev.width() as i32 - dx));
    let (y0, y1) = (0.max(-dy), h.min(prev.height() as i32 - dy));
    if (x1 - x0) < w / 2 || (y1 - y0) < h / 2 {
        return None;
    }
    let (mut sum, mut count) = (0u64, 0u64);
    for y in (y0..y1).step_by(step as usize) {
        for x in (x0..x1).step_by(step as usize) {
            let a = next.get_pixel(x as u32, y as u32).0[0];
            let b = prev.get_pixel((x + dx) as u32, (y + dy) as u32).0[0];
            sum += u64::from(a.abs_diff(b));
            count += 1;
        }
    }
    Some(sum as f64 / count.max(1) as f64)
}

/// The best shift within `radius` of `center`, sampling every `step`-th pixel, and its
/// mismatch.
fn search(
    prev: &GrayImage,
    next: &GrayImage,
    center: (i32, i32),
    radius: i32,
    step: u32,
) -> ((i32, i32), f64) {
    let mut best = (f64::INFINITY, center);
    for dy in center.1 - radius..=center.1 + radius {
        for dx in center.0 - radius..=center.0 + radius {
            if let Some(m) = mismatch(prev, next, dx, dy, step) {
                // Ties go to the smaller motion (a still camera stays still).
                let better = m < best.0 - 1e-9
                    || ((m - best.0).abs() <= 1e-9
                        && dx.abs() + dy.abs() < best.1 .0.abs() + best.1 .1.abs());
                if better {
                    best = (m, (dx, dy));
                }
            }
        }
    }
    (best.1, best.0)
}

/// The translation `(dx, dy)` with `next(x, y) ≈ prev(x + dx, y + dy)`, within
/// [`MAX_SHIFT`] (a coarse search on every fourth pixel, then a fine one around it), and the
/// mean absolute luma difference left after it: a few levels of noise for the same scene, tens
/// after a cut.
pub fn estimate_shift(prev: &GrayImage, next: &GrayImage) -> ((i32, i32), f64) {
    let (coarse, _) = search(prev, next, (0, 0), MAX_SHIFT, 4);
    search(prev, next, coarse, 3, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let v = (x * 7 + y * 13 + (x * y) % 29 + (x / 9 + y / 5) % 4 * 40) % 256;
            image::Luma([v as u8])
        })
    }

    #[test]
    fn finds_a_pan_in_any_direction_and_a_still_camera() {
        let big = scene(200, 160);
        let window = |x: u32, y: u32| image::imageops::crop_imm(&big, x, y, 120, 90).to_image();
        let base = window(40, 30);
        for (dx, dy) in [(0, 0), (2, 0), (-2, 0), (5, -3), (-17, 11), (31, 0)] {
            let next = window((40 + dx) as u32, (30 + dy) as u32);
            let (shift, left) = estimate_shift(&base, &next);
            assert_eq!(shift, (dx, dy));
            assert_eq!(left, 0.0);
        }
    }
}
