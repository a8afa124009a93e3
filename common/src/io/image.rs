//! Images in and out: decoding anything the `image` crate reads (with EXIF orientation, so phone
//! photos come out upright), conversion to and from `[1, 3, H, W]` RGB tensors in 0..255, and
//! encoding PNG or JPEG by file extension.

use std::io::Cursor;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::error::{Error, Result};
use crate::io::atomic_write::atomic_write;

/// JPEG quality used when writing `.jpg` outputs.
pub const JPEG_QUALITY: u8 = 95;

/// File extensions taken to be images when a folder is searched for photos.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif", "jfif",
];

/// Whether `path` has one of [`IMAGE_EXTENSIONS`] (any case). Decoding still goes by content.
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn image_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Image {
        path: path.to_path_buf(),
        message: format!("cannot decode image: {e}"),
    }
}

/// Whether JPEG data ends its last scan with an end-of-image marker. The decoder fills a
/// truncated JPEG with grey and reports success; such a file is corrupt for our purposes.
/// Entropy-coded data never contains `FF D9` or `FF DA` (0xFF bytes are stuffed), and embedded
/// EXIF thumbnails come before the main image's scans, so the check is exact.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_marker = |m: u8| bytes.windows(2).rposition(|w| w == [0xFF, m]);
    match (last_marker(0xDA), last_marker(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

/// Decodes the image at `path` (format guessed from its content, not its name) and applies its
/// EXIF orientation. A truncated JPEG is an error, not a grey-filled image.
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_image(&bytes, path)
}

/// [`load_image`] allowing the decoder at most `max_alloc` bytes (see
/// [`decode_image_within`]).
pub fn load_image_within(path: &Path, max_alloc: u64) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_image_within(&bytes, path, max_alloc)
}

/// Decodes an encoded image held in memory (a row of a parquet shard, a download), with the
/// same checks and EXIF orientation as [`load_image`]; `path` names it in errors. The decoder
/// may allocate up to half the available memory.
pub fn decode_image(bytes: &[u8], path: &Path) -> Result<DynamicImage> {
    decode_image_within(bytes, path, crate::memory::default_cpu_budget())
}

/// [`decode_image`] allowing the decoder at most `max_alloc` bytes (a caller's memory
/// budget): an image whose header claims more (a decompression bomb, or a photo too large for
/// this machine) is an error before anything is allocated.
pub fn decode_image_within(bytes: &[u8], path: &Path, max_alloc: u64) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(Error::Image {
            path: path.to_path_buf(),
            message: "empty file (0 bytes)".into(),
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    // The size check below comes first, with a message saying what the image needs; the
    // decoder's own limit then bounds what it allocates inside.
    reader.no_limits();
    if reader.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(image_error(
            path,
            "truncated JPEG (no end-of-image marker after the last scan)",
        ));
    }
    let mut decoder = reader.into_decoder().map_err(|e| image_error(path, e))?;
    let needed = decoder.total_bytes();
    let peak = needed.saturating_mul(DECODE_HEADROOM);
    if peak > max_alloc {
        let (w, h) = decoder.dimensions();
        return Err(image_error(
            path,
            format!(
                "it is {w}x{h}: {} decoded, up to {} while decoding, more than the {} allowed (the memory budget: half the available memory unless given)",
                human_bytes(needed),
                human_bytes(peak),
                human_bytes(max_alloc)
            ),
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_alloc);
    decoder
        .set_limits(limits)
        .map_err(|e| image_error(path, e))?;
    let orientation = decoder.orientation().map_err(|e| image_error(path, e))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| image_error(path, e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// How much more than its pixels a decoder may hold at once: the WebP decoder keeps a 4-byte
/// ARGB buffer beside the RGB result (7 bytes a pixel for 3; found by fuzzing), and does not
/// count it against the image crate's limit.
const DECODE_HEADROOM: u64 = 3;

/// `bytes` as MB below a GB, else as GB, one decimal.
fn human_bytes(bytes: u64) -> String {
    if bytes < 1_000_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} GB", bytes as f64 / 1e9)
    }
}

/// Converts any image (grayscale, RGBA, 16-bit, ...) to 8-bit RGB. Transparent pixels are
/// composited over white, since their colour values are often meaningless.
pub fn to_rgb(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = a as f32 / 255.0;
        let over_white = |c: u8| (c as f32 * a + 255.0 * (1.0 - a)).round() as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

/// An image as a `[1, 3, H, W]` f32 tensor of RGB values in 0..255 on `device`.
pub fn image_to_tensor(img: &DynamicImage, device: &Device) -> Result<Tensor> {
    rgb_to_tensor(to_rgb(img), device)
}

/// [`image_to_tensor`] of an 8-bit RGB image already made (its buffer becomes the tensor's
/// without another copy).
pub(crate) fn rgb_to_tensor(rgb: RgbImage, device: &Device) -> Result<Tensor> {
    let (w, h) = rgb.dimensions();
    let hwc = Tensor::from_vec(rgb.into_raw(), (h as usize, w as usize, 3), device)?;
    Ok(hwc.permute((2, 0, 1))?.to_dtype(DType::F32)?.unsqueeze(0)?)
}

/// A `[3, H, W]` or `[1, 3, H, W]` tensor of RGB values as an 8-bit image; values are rounded and
/// clamped to 0..255.
pub fn tensor_to_image(xs: &Tensor) -> Result<RgbImage> {
    let xs = match xs.rank() {
        4 => xs.squeeze(0)?,
        _ => xs.clone(),
    };
    let (c, h, w) = xs.dims3()?;
    if c != 3 {
        return Err(Error::Invalid(format!(
            "expected 3 channels to make an RGB image, got {c}"
        )));
    }
    let bytes = xs
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F32)?
        .clamp(0f32, 255f32)?
        .round()?
        .to_dtype(DType::U8)?
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1::<u8>()?;
    RgbImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| Error::Invalid("image buffer size mismatch".into()))
}

/// The output format for a file name, by its extension (any case): every format this build of
/// the `image` crate can encode (PNG, JPEG, WebP (lossless), BMP, TIFF, GIF).
pub fn output_format(path: &Path) -> Result<ImageFormat> {
    ImageFormat::from_path(path)
        .ok()
        .filter(ImageFormat::writing_enabled)
        .ok_or_else(|| {
            let mut names: Vec<&str> = ImageFormat::all()
                .filter(ImageFormat::writing_enabled)
                .filter_map(|f| f.extensions_str().first().copied())
                .collect();
            names.sort_unstable();
            Error::Invalid(format!(
                "{}: cannot tell which image format to write; end the name in .{}",
                path.display(),
                names.join(", .")
            ))
        })
}

/// Encodes `img` in the format of `path`'s extension ([`output_format`]; JPEG at
/// [`JPEG_QUALITY`]) and writes it atomically.
pub fn save_image(img: &RgbImage, path: &Path) -> Result<()> {
    let format = output_format(path)?;
    let mut bytes = Vec::new();
    let encoded = match format {
        ImageFormat::Jpeg => {
            img.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY))
        }
        _ => img.write_to(&mut Cursor::new(&mut bytes), format),
    };
    encoded.map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: format!("cannot encode image: {e}"),
    })?;
    atomic_write(path, &bytes)
}

/// Shrinks or enlarges an image before stylization: first by `scale`, then, if its longest
/// side still exceeds `max_side`, down to that. Sides never drop below one pixel.
pub fn resize_for_stylizing(
    img: &DynamicImage,
    scale: Option<f32>,
    max_side: Option<u32>,
) -> DynamicImage {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let mut factor = scale.map(f64::from).unwrap_or(1.0);
    if let Some(max) = max_side {
        let longest = w.max(h) * factor;
        if longest > max as f64 {
            factor *= max as f64 / longest;
        }
    }
    if (factor - 1.0).abs() < 1e-9 {
        return img.clone();
    }
    let nw = ((w * factor).round() as u32).max(1);
    let nh = ((h * factor).round() as u32).max(1);
    img.resize_exact(nw, nh, FilterType::Lanczos3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_round_trip_keeps_pixels_and_orientation() -> anyhow::Result<()> {
        // Non-square so that a swapped width and height would show.
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let t = image_to_tensor(&DynamicImage::ImageRgb8(img.clone()), &Device::Cpu)?;
        assert_eq!(t.dims(), &[1, 3, 3, 5]);
        // Channel 0 at (y=1, x=4) is 160.
        let v = t.get(0)?.get(0)?.get(1)?.get(4)?.to_scalar::<f32>()?;
        assert_eq!(v, 160.0);
        assert_eq!(tensor_to_image(&t)?, img);
        Ok(())
    }

    #[test]
    fn out_of_range_values_are_clamped() -> anyhow::Result<()> {
        let t = Tensor::new(&[-20f32, 300., 127.6], &Device::Cpu)?.reshape((3, 1, 1))?;
        assert_eq!(tensor_to_image(&t)?.get_pixel(0, 0).0, [0, 255, 128]);
        Ok(())
    }

    #[test]
    fn transparent_pixels_become_white() {
        let rgba = image::RgbaImage::from_pixel(1, 1, image::Rgba([0, 0, 0, 0]));
        let rgb = to_rgb(&DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn resize_applies_scale_then_max_side() {
        let img = DynamicImage::new_rgb8(400, 200);
        let out = resize_for_stylizing(&img, Some(0.5), None);
        assert_eq!((out.width(), out.height()), (200, 100));
        let out = resize_for_stylizing(&img, Some(2.0), Some(100));
        assert_eq!((out.width(), out.height()), (100, 50));
        let out = resize_for_stylizing(&img, None, Some(1000));
        assert_eq!((out.width(), out.height()), (400, 200));
    }

    #[test]
    fn jpeg_completeness_looks_after_the_last_scan() {
        assert!(jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0xD9
        ]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 3]));
        // An EXIF thumbnail's EOI before the main scan does not count.
        assert!(!jpeg_is_complete(&[0xFF, 0xD9, 0xFF, 0xDA, 1, 0xFF, 0x00]));
    }

    #[test]
    fn output_formats_follow_the_extension() {
        assert_eq!(
            output_format(Path::new("x.JPEG")).unwrap(),
            ImageFormat::Jpeg
        );
        assert_eq!(
            output_format(Path::new("a/x.webp")).unwrap(),
            ImageFormat::WebP
        );
        let err = output_format(Path::new("x.xyz")).unwrap_err().to_string();
        assert!(err.contains("x.xyz") && err.contains(".png"), "{err}");
        assert!(output_format(Path::new("noext")).is_err());
    }

    #[test]
    fn every_writable_format_round_trips_an_rgb_image() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let img = RgbImage::from_fn(9, 5, |x, y| image::Rgb([x as u8 * 20, y as u8 * 40, 90]));
        for ext in ["png", "jpg", "webp", "bmp", "tiff", "gif"] {
            let path = dir.path().join(format!("out.{ext}"));
            save_image(&img, &path)?;
            let back = load_image(&path)?;
            assert_eq!((back.width(), back.height()), (9, 5), "{ext}");
        }
        Ok(())
    }

    #[test]
    fn an_empty_file_is_called_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jpg");
        std::fs::write(&path, b"").unwrap();
        let err = load_image(&path).unwrap_err().to_string();
        assert!(err.ends_with("e.jpg: empty file (0 bytes)"), "{err}");
    }
}
