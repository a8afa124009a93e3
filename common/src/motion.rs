//! The camera's motion between two video frames, as one whole-pixel translation: enough to
//! keep a pan's content on the network's sampling grid and to line up the previous stylized
//! frame with the next (see [`crate::sequence`]).

use image::{GrayImage, RgbImage};
use rayon::prelude::*;

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
    let pw = prev.width() as usize;
    let (x0, x1) = (0.max(-dx), w.min(prev.width() as i32 - dx));
    let (y0, y1) = (0.max(-dy), h.min(prev.height() as i32 - dy));
    if (x1 - x0) < w / 2 || (y1 - y0) < h / 2 {
        return None;
    }
    let (next_px, prev_px) = (next.as_raw(), prev.as_raw());
    let (mut sum, mut count) = (0u64, 0u64);
    for y in (y0..y1).step_by(step as usize) {
        let a = &next_px[y as usize * w as usize..][x0 as usize..x1 as usize];
        let b = &prev_px[(y + dy) as usize * pw..][(x0 + dx) as usize..(x1 + dx) as usize];
        let row: u32 = if step == 1 {
            a.iter()
                .zip(b)
                .map(|(p, q)| u32::from(p.abs_diff(*q)))
                .sum()
        } else {
            a.iter()
                .step_by(step as usize)
                .zip(b.iter().step_by(step as usize))
                .map(|(p, q)| u32::from(p.abs_diff(*q)))
                .sum()
        };
        sum += u64::from(row);
        count += a.len().div_ceil(step as usize) as u64;
    }
    Some(sum as f64 / count.max(1) as f64)
}

/// The best shift within `radius` of `center`, sampling every `step`-th pixel, and its
/// mismatch. The shifts are scored in parallel and picked in a fixed order, so the answer does
/// not depend on the thread count.
fn search(
    prev: &GrayImage,
    next: &GrayImage,
    center: (i32, i32),
    radius: i32,
    step: u32,
) -> ((i32, i32), f64) {
    let shifts: Vec<(i32, i32)> = (center.1 - radius..=center.1 + radius)
        .flat_map(|dy| (center.0 - radius..=center.0 + radius).map(move |dx| (dx, dy)))
        .collect();
    let scores: Vec<Option<f64>> = shifts
        .par_iter()
        .map(|&(dx, dy)| mismatch(prev, next, dx, dy, step))
        .collect();
    let mut best = (f64::INFINITY, center);
    for (&(dx, dy), m) in shifts.iter().zip(scores) {
        let Some(m) = m else { continue };
        // Ties go to the smaller motion (a still camera stays still).
        let better = m < best.0 - 1e-9
            || ((m - best.0).abs() <= 1e-9
                && dx.abs() + dy.abs() < best.1 .0.abs() + best.1 .1.abs());
        if better {
            best = (m, (dx, dy));
        }
    }
    (best.1, best.0)
}

/// Pixels the coarse search samples per shift, at most: enough for a textured scene, and
/// the search's cost stops growing with the frame's size.
const COARSE_SAMPLES: u32 = 1 << 14;

/// The translation `(dx, dy)` with `next(x, y) ≈ prev(x + dx, y + dy)`, within
/// [`MAX_SHIFT`] (a coarse search on every fourth pixel, or sparser in frames above 512x512
/// pixels, then a fine one around it on a grid four times denser), and the mean absolute luma
/// difference left after it: a few levels of noise for the same scene, tens after a cut.
pub fn estimate_shift(prev: &GrayImage, next: &GrayImage) -> ((i32, i32), f64) {
    let pixels = next.width() * next.height();
    let coarse_step = ((pixels / COARSE_SAMPLES) as f64).sqrt().ceil().max(4.0) as u32;
    let (coarse, _) = search(prev, next, (0, 0), MAX_SHIFT, coarse_step);
    search(prev, next, coarse, 3, (coarse_step / 4).max(1))
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

    /// Frames above 512x512 are searched on a sparser grid: the pan is still found exactly.
    #[test]
    fn finds_the_pan_in_large_frames_too() {
        let big = scene(1400, 800);
        let window = |x: u32, y: u32| image::imageops::crop_imm(&big, x, y, 1280, 720).to_image();
        let base = window(40, 40);
        for (dx, dy) in [(0, 0), (3, -1), (-17, 11), (31, -29)] {
            let next = window((40 + dx) as u32, (40 + dy) as u32);
            assert_eq!(estimate_shift(&base, &next), ((dx, dy), 0.0));
        }
    }
}
