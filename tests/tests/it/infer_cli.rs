//! `fauve-infer` end to end on generated images in a temporary folder: the files it writes,
//! what it prints, and its exit code.

use std::path::Path;
use std::process::{Command, Output};

use fauve::image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgba, RgbaImage};

use crate::image_io::test_photo;
use crate::support::{binary, generated_transformer};

fn write_model(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("starry.safetensors");
    let meta = fauve::ModelMetadata::new(Some("starry night".into()), None);
    fauve::save_model_file(&path, &generated_transformer(), &meta).unwrap();
    path
}

fn infer(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(binary("fauve-infer"))
        .args(args)
        .output()
        .expect("fauve-infer runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn stylizes_a_folder_skipping_a_corrupt_jpeg() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_model(dir.path());
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos)?;
    DynamicImage::ImageRgb8(test_photo(40, 28))
        .save_with_format(photos.join("a.jpg"), ImageFormat::Jpeg)?;
    GrayImage::from_fn(24, 20, |x, _| Luma([x as u8 * 10])).save(photos.join("b-gray.png"))?;
    RgbaImage::from_fn(20, 30, |x, y| Rgba([x as u8 * 12, y as u8 * 8, 90, 128]))
        .save(photos.join("c-rgba.png"))?;
    std::fs::write(
        photos.join("d-corrupt.jpg"),
        b"\xFF\xD8\xFF\xE0 definitely not a jpeg",
    )?;
    std::fs::write(photos.join("notes.txt"), "not an image, not picked up")?;
    let out_dir = dir.path().join("out");

    let o = infer(&[
        "--model".as_ref(),
        model.as_os_str(),
        photos.as_os_str(),
        "-o".as_ref(),
        out_dir.as_os_str(),
        "--device".as_ref(),
        "cpu".as_ref(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("d-corrupt.jpg") && t.contains("skipped"), "{t}");
    assert!(t.contains("1 of 4 image(s) failed"), "{t}");
    assert!(t.contains(" ms)"), "per-image time is printed: {t}");
    for (name, w, h) in [
        ("a-starry_night.jpg", 40, 28),
        ("b-gray-starry_night.png", 24, 20),
        ("c-rgba-starry_night.png", 20, 30),
    ] {
        let img =
            fauve::load_image(&out_dir.join(name)).map_err(|e| anyhow::anyhow!("{e}\n{t}"))?;
        assert_eq!((img.width(), img.height()), (w, h), "{name}");
    }
    assert!(!out_dir.join("d-corrupt-starry_night.jpg").exists());
    assert_eq!(
        std::fs::read_dir(&out_dir)?.count(),
        3,
        "no stray files: {t}"
    );
    Ok(())
}

#[test]
fn writes_next_to_the_input_with_resizing_and_never_overwrites_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_model(dir.path());
    let input = dir.path().join("wide.png");
    DynamicImage::ImageRgb8(test_photo(80, 40)).save(&input)?;
    let before = std::fs::read(&input)?;

    let o = infer(&[
        "-m".as_ref(),
        model.as_os_str(),
        input.as_os_str(),
        "--max-size".as_ref(),
        "32".as_ref(),
        "--device".as_ref(),
        "cpu".as_ref(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = fauve::load_image(&dir.path().join("wide-starry_night.png"))?;
    assert_eq!((out.width(), out.height()), (32, 16));

    let o = infer(&[
        "-m".as_ref(),
        model.as_os_str(),
        input.as_os_str(),
        "--scale".as_ref(),
        "0.5".as_ref(),
        "-o".as_ref(),
        input.as_os_str(),
        "--device".as_ref(),
        "cpu".as_ref(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("would overwrite an input"), "{t}");
    assert_eq!(std::fs::read(&input)?, before, "input untouched");
    Ok(())
}

#[test]
fn a_bad_model_file_is_reported_without_a_panic() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("broken.safetensors");
    std::fs::write(&model, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")?;
    let input = dir.path().join("x.png");
    DynamicImage::ImageRgb8(test_photo(16, 16)).save(&input)?;
    let o = infer(&["--model".as_ref(), model.as_os_str(), input.as_os_str()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("broken.safetensors") && t.contains("not a valid safetensors"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
    Ok(())
}

#[test]
fn usage_errors_are_clear() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_model(dir.path());
    let o = infer(&[
        "--model".as_ref(),
        model.as_os_str(),
        "missing.jpg".as_ref(),
    ]);
    assert!(
        text(&o).contains("missing.jpg: no such file"),
        "{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(1));

    let input = dir.path().join("x.png");
    DynamicImage::ImageRgb8(test_photo(16, 16)).save(&input)?;
    let o = infer(&[
        "--model".as_ref(),
        model.as_os_str(),
        input.as_os_str(),
        "--device".as_ref(),
        "tpu".as_ref(),
    ]);
    assert!(text(&o).contains("unknown device `tpu`"), "{}", text(&o));

    #[cfg(not(feature = "cuda"))]
    {
        let o = infer(&[
            "--model".as_ref(),
            model.as_os_str(),
            input.as_os_str(),
            "--device".as_ref(),
            "cuda".as_ref(),
        ]);
        assert!(text(&o).contains("--features cuda"), "{}", text(&o));
        assert_eq!(o.status.code(), Some(1));
    }

    let o = infer(&["--help".as_ref()]);
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in ["--model", "--output", "--max-size", "--scale", "--device"] {
        assert!(help.contains(flag), "{flag} in help:\n{help}");
    }
    Ok(())
}
