//! Adjustments of a stylized image toward its photo, as users of every style-transfer tool ask
//! for: keep the photo's colours (take only the stylized luminance), and dial the style's
//! strength down. Both work on the final 8-bit images, so they cost nothing next to the
//! forward pass and apply to any model.

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::model::transformer::MIN_SIDE;
use crate::style_choice::StyleChoice;

/// How to stylize an image and finish it. The default is one forward pass over the whole
/// image (tiles only when it would not fit in memory), nothing changed afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleOptions {
    /// Which of the model's styles, or which mix of them (a one-style model needs none).
    pub style: StyleChoice,
    /// 0 gives the photo, 1 the full style, values between a linear blend of the two.
    pub strength: f32,
    /// Keep the photo's colours: the result has the stylized image's luminance and the photo's
    /// chroma (YCbCr, as JPEG defines it).
    pub preserve_colors: bool,
    /// Stylize in tiles of this side (pixels) whatever the image's size; see [`crate::Tiling`].
    pub tile: Option<u32>,
    /// Context around each tile, in pixels.
    pub overlap: u32,
    /// Memory budget in bytes: an image whose single forward pass would need more is stylized
    /// in tiles that fit. Default: derived from the device (see
    /// [`crate::Stylizer::memory_budget`]).
    pub max_memory: Option<u64>,
    /// Brush strokes this many times the network's own size (1 to
    /// [`crate::MAX_STROKE_SCALE`]): the network runs on the photo shrunk by this factor and
    /// its result is enlarged back with the photo's edges (see [`crate::stroke_network_size`]).
    pub stroke_scale: f32,
}

impl Default for StyleOptions {
    fn default() -> Self {
        Self {
            style: StyleChoice::Only,
            strength: 1.0,
            preserve_colors: false,
            tile: None,
            overlap: crate::tiling::DEFAULT_OVERLAP,
            max_memory: None,
            stroke_scale: 1.0,
        }
    }
}

impl StyleOptions {
    /// Whether these options leave the stylized image as it is after the forward pass.
    pub fn is_identity(&self) -> bool {
        self.strength == 1.0 && !self.preserve_colors
    }

    /// Checks the strength (0 to 1), the tile side (at least 8 pixels), the tile overlap
    /// (at most [`crate::tiling::MAX_OVERLAP`]) and the stroke scale.
    pub fn validate(&self) -> Result<()> {
        crate::stroke_scale::validate(self.stroke_scale)?;
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::Invalid(format!(
                "the strength must be between 0 and 1, got {}",
                self.strength
            )));
        }
        if let Some(tile) = self.tile.filter(|&t| t < MIN_SIDE) {
            return Err(Error::Invalid(format!(
                "the tile side must be at least {} pixels, got {tile}",
                MIN_SIDE
            )));
        }
        if self.overlap > crate::tiling::MAX_OVERLAP {
            return Err(Error::Invalid(format!(
                "the tile overlap must be at most {} pixels, got {}",
                crate::tiling::MAX_OVERLAP,
                self.overlap
            )));
        }
        Ok(())
    }
}

/// Full-range YCbCr of an RGB pixel (ITU-R BT.601, as JPEG uses it).
fn ycbcr(p: Rgb<u8>) -> [f32; 3] {
    let [r, g, b] = p.0.map(f32::from);
    [
        0.299 * r + 0.587 * g + 0.114 * b,
        128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
        128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
    ]
}

/// The RGB pixel of full-range YCbCr values, rounded and clamped to 0..255.
fn rgb([y, cb, cr]: [f32; 3]) -> Rgb<u8> {
    let (cb, cr) = (cb - 128.0, cr - 128.0);
    let px = [
        y + 1.402 * cr,
        y - 0.344_136 * cb - 0.714_136 * cr,
        y + 1.772 * cb,
    ];
    Rgb(px.map(|v| v.round().clamp(0.0, 255.0) as u8))
}

fn same_size(photo: &RgbImage, stylized: &RgbImage) -> Result<()> {
    if photo.dimensions() != stylized.dimensions() {
        return Err(Error::Invalid(format!(
            "the photo is {:?} but the stylized image is {:?}",
            photo.dimensions(),
            stylized.dimensions()
        )));
    }
    Ok(())
}

/// The stylized image's luminance with the photo's colours (chroma).
pub fn preserve_colors(photo: &RgbImage, stylized: &RgbImage) -> Result<RgbImage> {
    same_size(photo, stylized)?;
    Ok(RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let [luma, _, _] = ycbcr(*stylized.get_pixel(x, y));
        let [_, cb, cr] = ycbcr(*photo.get_pixel(x, y));
        rgb([luma, cb, cr])
    }))
}

/// `strength` of the way from the photo to the stylized image, pixel by pixel.
pub fn blend(photo: &RgbImage, stylized: &RgbImage, strength: f32) -> Result<RgbImage> {
    same_size(photo, stylized)?;
    let mix =
        |a: u8, b: u8| (f32::from(a) + strength * (f32::from(b) - f32::from(a))).round() as u8;
    Ok(RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let (p, s) = (photo.get_pixel(x, y).0, stylized.get_pixel(x, y).0);
        Rgb([mix(p[0], s[0]), mix(p[1], s[1]), mix(p[2], s[2])])
    }))
}

/// Applies `options` to a stylized image of `photo` (colours first, then strength).
pub fn finish(photo: &RgbImage, stylized: RgbImage, options: &StyleOptions) -> Result<RgbImage> {
    options.validate()?;
    let mut out = stylized;
    if options.preserve_colors {
        out = preserve_colors(photo, &out)?;
    }
    if options.strength != 1.0 {
        out = blend(photo, &out, options.strength)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two different, busy images of the same size.
    fn pair() -> (RgbImage, RgbImage) {
        let photo = RgbImage::from_fn(37, 23, |x, y| {
            Rgb([(x * 7) as u8, (y * 11) as u8, ((x * y) % 251) as u8])
        });
        let stylized = RgbImage::from_fn(37, 23, |x, y| {
            Rgb([(200 - x * 3) as u8, ((x + y) * 5) as u8, (60 + y * 4) as u8])
        });
        (photo, stylized)
    }

    /// Luma and the two colour differences B-Y and R-Y, written from the BT.601 definition
    /// (not from the matrices above).
    fn luma_and_differences(p: Rgb<u8>) -> [f64; 3] {
        let [r, g, b] = p.0.map(f64::from);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        [y, b - y, r - y]
    }

    #[test]
    fn preserved_colours_have_the_photo_chroma_and_the_stylized_luminance() {
        let (photo, stylized) = pair();
        let out = preserve_colors(&photo, &stylized).unwrap();
        let mut checked = 0;
        for (x, y, px) in out.enumerate_pixels() {
            // A clamped channel cannot carry the exact colour: skip those pixels.
            if px.0.iter().any(|&c| c == 0 || c == 255) {
                continue;
            }
            checked += 1;
            let [lo, bo, ro] = luma_and_differences(*px);
            let [ls, _, _] = luma_and_differences(*stylized.get_pixel(x, y));
            let [_, bp, rp] = luma_and_differences(*photo.get_pixel(x, y));
            assert!(
                (lo - ls).abs() <= 1.0,
                "luma {lo} vs stylized {ls} at {x},{y}"
            );
            assert!((bo - bp).abs() <= 1.5, "B-Y {bo} vs photo {bp} at {x},{y}");
            assert!((ro - rp).abs() <= 1.5, "R-Y {ro} vs photo {rp} at {x},{y}");
        }
        assert!(checked > 37 * 23 * 3 / 4, "only {checked} pixels unclamped");
        // Colours kept from a grey photo leave a grey image of the stylized brightness.
        let grey = RgbImage::from_pixel(37, 23, Rgb([90, 90, 90]));
        let out = preserve_colors(&grey, &stylized).unwrap();
        for px in out.pixels() {
            assert!(
                px[0].abs_diff(px[1]) <= 1 && px[1].abs_diff(px[2]) <= 1,
                "{px:?}"
            );
        }
    }

    #[test]
    fn strength_zero_is_the_photo_one_the_style_and_between_a_blend() {
        let (photo, stylized) = pair();
        assert_eq!(blend(&photo, &stylized, 0.0).unwrap(), photo);
        assert_eq!(blend(&photo, &stylized, 1.0).unwrap(), stylized);
        for s in [0.25f64, 0.5, 0.8] {
            let out = blend(&photo, &stylized, s as f32).unwrap();
            for (x, y, px) in out.enumerate_pixels() {
                for c in 0..3 {
                    let p = f64::from(photo.get_pixel(x, y)[c]);
                    let t = f64::from(stylized.get_pixel(x, y)[c]);
                    let want = (1.0 - s) * p + s * t;
                    assert!(
                        (f64::from(px[c]) - want).abs() <= 0.5 + 1e-4,
                        "{s}: {px:?} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn options_are_checked_and_applied_in_order() {
        let (photo, stylized) = pair();
        let half = StyleOptions {
            strength: 0.5,
            preserve_colors: true,
            ..Default::default()
        };
        let want = blend(&photo, &preserve_colors(&photo, &stylized).unwrap(), 0.5).unwrap();
        assert_eq!(finish(&photo, stylized.clone(), &half).unwrap(), want);
        assert!(StyleOptions::default().is_identity());
        for bad in [-0.1, 1.5, f32::NAN] {
            let o = StyleOptions {
                strength: bad,
                ..Default::default()
            };
            let e = finish(&photo, stylized.clone(), &o)
                .unwrap_err()
                .to_string();
            assert!(e.contains("strength must be between 0 and 1"), "{e}");
        }
        let small = RgbImage::new(3, 3);
        assert!(blend(&photo, &small, 0.5).is_err());
    }
}
