//! Decoding the images users have: every common format and pixel layout, EXIF-rotated phone
//! photos, and broken files that must fail cleanly.

use std::path::Path;

use candle_core::Device;
use fauve::image::{
    DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage,
};
use fauve::{image_to_tensor, load_image};
use fauve_tests::test_photo;

fn check_rgb(path: &Path, w: u32, h: u32) {
    let img = load_image(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!((img.width(), img.height()), (w, h), "{}", path.display());
    let t = image_to_tensor(&img, &Device::Cpu).unwrap();
    assert_eq!(t.dims(), &[1, 3, h as usize, w as usize]);
    let max = t.max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(
        (200.0..=255.0).contains(&max),
        "values in 0..255, max {max}"
    );
}

#[test]
fn decodes_every_common_format() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let img = DynamicImage::ImageRgb8(test_photo(30, 20));
    for (ext, format) in [
        ("jpg", ImageFormat::Jpeg),
        ("png", ImageFormat::Png),
        ("webp", ImageFormat::WebP),
        ("bmp", ImageFormat::Bmp),
        ("tiff", ImageFormat::Tiff),
    ] {
        let path = dir.path().join(format!("photo.{ext}"));
        img.save_with_format(&path, format)?;
        check_rgb(&path, 30, 20);
    }
    // Content decides the format, not the name.
    let misnamed = dir.path().join("really-a-png.jpg");
    img.save_with_format(&misnamed, ImageFormat::Png)?;
    check_rgb(&misnamed, 30, 20);
    Ok(())
}

#[test]
fn decodes_grayscale_rgba_and_16_bit() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let gray = GrayImage::from_fn(12, 9, |x, _| Luma([(x * 20) as u8 + 15]));
    let p = dir.path().join("gray.png");
    gray.save(&p)?;
    check_rgb(&p, 12, 9);
    let t = image_to_tensor(&load_image(&p)?, &Device::Cpu)?;
    // Gray becomes three equal channels.
    let px = t
        .get(0)?
        .narrow(2, 3, 1)?
        .narrow(1, 0, 1)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    assert_eq!(px, vec![75.0, 75.0, 75.0]);

    let rgba = RgbaImage::from_fn(12, 9, |x, _| Rgba([250, (x * 20) as u8, 0, 255]));
    let p = dir.path().join("rgba.png");
    rgba.save(&p)?;
    check_rgb(&p, 12, 9);

    let deep: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(12, 9, |x, y| {
        Rgb([65535, (x * 5000) as u16, (y * 7000) as u16])
    });
    let p = dir.path().join("deep.png");
    deep.save(&p)?;
    check_rgb(&p, 12, 9);
    Ok(())
}

/// A JPEG with an EXIF APP1 segment whose Orientation tag is `orientation`.
pub fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();
    // TIFF header (little endian), one IFD entry: tag 0x0112, type SHORT, count 1.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_makes_phone_photos_upright() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Left half black, right half white, stored 40x20; orientation 6 = rotate 90° clockwise.
    let stored = RgbImage::from_fn(
        40,
        20,
        |x, _| if x < 20 { Rgb([0; 3]) } else { Rgb([255; 3]) },
    );
    let p = dir.path().join("phone.jpg");
    std::fs::write(&p, jpeg_with_orientation(&stored, 6))?;
    let img = load_image(&p)?.to_rgb8();
    assert_eq!(img.dimensions(), (20, 40));
    // After a clockwise turn, the stored left (black) half is on top.
    assert!(img.get_pixel(10, 5).0[0] < 40, "top should be black");
    assert!(img.get_pixel(10, 35).0[0] > 215, "bottom should be white");
    Ok(())
}

#[test]
fn broken_files_fail_with_the_path_in_the_message() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut jpeg = Vec::new();
    DynamicImage::ImageRgb8(test_photo(64, 48))
        .write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)?;
    let cases: [(&str, &[u8]); 3] = [
        ("truncated.jpg", &jpeg[..jpeg.len() / 3]),
        ("empty.png", b""),
        ("text.jpg", b"hello, not an image"),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes)?;
        let err = match load_image(&p) {
            Ok(img) => panic!("{name} decoded as {}x{}", img.width(), img.height()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(name), "{err}");
    }
    let err = load_image(&dir.path().join("absent.jpg"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.jpg"), "{err}");
    Ok(())
}

/// The decoder may take half the available memory, not the image crate's 512 MiB: a header
/// claiming 14000x14000 RGB (588 MB, up to 1.8 GB while decoding) gets past the size check to
/// the (empty) pixel data on a machine with 3.6 GB available, and one claiming 200000x200000
/// (120 GB) is refused before anything is allocated, with a message saying why.
#[test]
fn the_decoder_limit_follows_the_available_memory() {
    let path = std::path::Path::new("claim.png");
    let err = fauve::decode_image(&fauve_tests::hostile::png_claiming(14_000, 14_000), path)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("claim.png: cannot decode image"), "{err}");
    assert!(
        !err.contains("allowed") && !err.to_lowercase().contains("limit"),
        "{err}"
    );
    let err = fauve::decode_image(&fauve_tests::hostile::png_claiming(200_000, 200_000), path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("200000x200000")
            && err.contains("120.0 GB decoded")
            && err.contains("allowed"),
        "{err}"
    );
}

/// A 137-byte WebP the fuzzer made (scripts/fuzz.sh, 2026-12-04): its header claims 6167x13063
/// pixels, 242 MB as RGB, inside a 256 MiB budget; but the WebP decoder also holds a 322 MB
/// ARGB buffer it does not count. The budget covers decoding's working memory too, so the file
/// is refused before the decoder allocates.
#[test]
fn a_webp_whose_working_buffer_exceeds_the_budget_is_refused_up_front() {
    let bytes = std::fs::read(fauve_tests::fixture("fuzz_webp_working_buffer.webp")).unwrap();
    let err = fauve::decode_image_within(&bytes, std::path::Path::new("f.webp"), 256 << 20)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("6167x13063") && err.contains("while decoding"),
        "{err}"
    );
}
