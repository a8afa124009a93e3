//! `fauve-infer` end to end on generated images in a temporary folder: the files it writes,
//! what it prints, and its exit code.

use std::path::Path;
use std::process::{Command, Output};

use fauve::image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgba, RgbaImage};

use fauve_tests::{test_photo, text, write_generated_model};

/// The `fauve-infer` that cargo built for this test, with the same features.
const FAUVE_INFER: &str = env!("CARGO_BIN_EXE_fauve-infer");

fn infer(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(FAUVE_INFER)
        .args(args)
        .output()
        .expect("fauve-infer runs")
}

/// `fauve-infer --model MODEL --device cpu ARGS...`
fn infer_cpu(model: &Path, args: &[&Path]) -> Output {
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "--model".as_ref(),
        model.as_os_str(),
        "--device".as_ref(),
        "cpu".as_ref(),
    ];
    all.extend(args.iter().map(|a| a.as_os_str()));
    infer(&all)
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn stylizes_a_folder_tree_mirroring_it_and_skipping_what_fails() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(photos.join("trip/day1"))?;
    DynamicImage::ImageRgb8(test_photo(40, 28))
        .save_with_format(photos.join("a.jpg"), ImageFormat::Jpeg)?;
    GrayImage::from_fn(24, 20, |x, _| Luma([x as u8 * 10])).save(photos.join("trip/b-gray.png"))?;
    RgbaImage::from_fn(20, 30, |x, y| Rgba([x as u8 * 12, y as u8 * 8, 90, 128]))
        .save(photos.join("trip/day1/c-rgba.png"))?;
    std::fs::write(
        photos.join("d-corrupt.jpg"),
        b"\xFF\xD8\xFF\xE0 definitely not a jpeg",
    )?;
    std::fs::write(photos.join("trip/e-empty.png"), b"")?;
    std::fs::write(photos.join("notes.txt"), "not an image")?;
    std::fs::write(photos.join("trip/day1/README"), "not an image either")?;
    let out_dir = dir.path().join("out");
    let missing = dir.path().join("missing.jpg");

    let o = infer_cpu(&model, &[&missing, &photos, Path::new("-o"), &out_dir]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // Each failure on one line, naming the file once and the reason once.
    let errors: Vec<&str> = t.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 3, "{t}");
    assert!(
        errors[0].ends_with("missing.jpg: no such file or folder; skipped"),
        "{t}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("d-corrupt.jpg: cannot decode")),
        "{t}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.ends_with("e-empty.png: empty file (0 bytes); skipped")),
        "{t}"
    );
    for l in &errors {
        assert_eq!(
            l.matches(dir.path().to_str().unwrap()).count(),
            1,
            "path once: {l}"
        );
    }
    assert!(
        t.contains("stylized 3 image(s), median forward pass")
            && t.contains("; 3 failed; 2 file(s) in the folders are not images"),
        "{t}"
    );
    assert!(t.contains(" ms)"), "per-image time is printed: {t}");
    for (name, w, h) in [
        ("a-starry_night.jpg", 40, 28),
        ("trip/b-gray-starry_night.png", 24, 20),
        ("trip/day1/c-rgba-starry_night.png", 20, 30),
    ] {
        let img =
            fauve::load_image(&out_dir.join(name)).map_err(|e| anyhow::anyhow!("{e}\n{t}"))?;
        assert_eq!((img.width(), img.height()), (w, h), "{name}");
    }
    assert_eq!(
        files_under(&out_dir),
        [
            "a-starry_night.jpg",
            "trip/b-gray-starry_night.png",
            "trip/day1/c-rgba-starry_night.png"
        ],
        "no stray files: {t}"
    );

    // Outputs are readable by others like any new file (not a temporary file's 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain)?;
        let expected = std::fs::metadata(&plain)?.permissions().mode() & 0o777;
        let mode = std::fs::metadata(out_dir.join("a-starry_night.jpg"))?
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, expected, "{mode:o}");
    }

    // Run again with the output folder inside the input folder: the first results are not
    // taken as inputs.
    let inner = photos.join("stylized");
    let o = infer_cpu(&model, &[&photos, Path::new("-o"), &inner]);
    let t = text(&o);
    assert!(t.contains("stylized 3 image(s)"), "{t}");
    let o = infer_cpu(&model, &[&photos, Path::new("-o"), &inner]);
    assert!(text(&o).contains("stylized 3 image(s)"), "{}", text(&o));
    Ok(())
}

#[test]
fn a_named_output_file_takes_any_encoder_format() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let input = dir.path().join("x.jpg");
    DynamicImage::ImageRgb8(test_photo(24, 16)).save(&input)?;
    for name in ["out.webp", "out.bmp", "out.tiff"] {
        let out = dir.path().join(name);
        let o = infer_cpu(&model, &[&input, Path::new("-o"), &out]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(out.is_file(), "{name} is a file, not a folder");
        let img = fauve::load_image(&out)?;
        assert_eq!((img.width(), img.height()), (24, 16), "{name}");
    }
    let o = infer_cpu(
        &model,
        &[&input, Path::new("-o"), &dir.path().join("out.xyz")],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("out.xyz: cannot tell which image format"), "{t}");
    assert!(!dir.path().join("out.xyz").exists());

    // A folder input with more than one image cannot go to one file.
    let folder = dir.path().join("two");
    std::fs::create_dir(&folder)?;
    for n in ["a.png", "b.png"] {
        DynamicImage::ImageRgb8(test_photo(16, 16)).save(folder.join(n))?;
    }
    let o = infer_cpu(
        &model,
        &[&folder, Path::new("-o"), &dir.path().join("one.png")],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("names one file but the inputs hold 2 images"),
        "{t}"
    );
    Ok(())
}

#[test]
fn writes_next_to_the_input_with_resizing_and_never_overwrites_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let input = dir.path().join("wide.png");
    DynamicImage::ImageRgb8(test_photo(80, 40)).save(&input)?;
    let before = std::fs::read(&input)?;

    let o = infer_cpu(&model, &[&input, Path::new("--max-size"), Path::new("32")]);
    assert!(o.status.success(), "{}", text(&o));
    let out = fauve::load_image(&dir.path().join("wide-starry_night.png"))?;
    assert_eq!((out.width(), out.height()), (32, 16));

    let o = infer_cpu(
        &model,
        &[
            &input,
            Path::new("--scale"),
            Path::new("0.5"),
            Path::new("-o"),
            &input,
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("would overwrite an input"), "{t}");
    assert_eq!(std::fs::read(&input)?, before, "input untouched");

    // Two inputs of the same name from different folders into one output folder.
    let other = dir.path().join("other");
    std::fs::create_dir(&other)?;
    DynamicImage::ImageRgb8(test_photo(16, 16)).save(other.join("wide.png"))?;
    let out_dir = dir.path().join("out");
    let o = infer_cpu(
        &model,
        &[&input, &other.join("wide.png"), Path::new("-o"), &out_dir],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("would overwrite another result of this run"),
        "{t}"
    );
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
    assert_eq!(t.matches("broken.safetensors").count(), 1, "{t}");
    assert!(!t.contains("panicked"), "{t}");
    Ok(())
}

#[test]
fn usage_errors_exit_2_with_a_message_about_the_value() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let input = dir.path().join("x.png");
    DynamicImage::ImageRgb8(test_photo(16, 16)).save(&input)?;
    let cases: [(&[&str], &str); 11] = [
        (&["--device", "tpu"], "unknown device `tpu`"),
        (&["--scale", "-1"], "the scale must be above 0"),
        (&["--scale", "big"], "the scale must be a number"),
        (&["--max-size", "4"], "at least 8 pixels"),
        (&["--max-size", "-5"], "whole number of pixels"),
        (&["--tile", "7"], "the tile side must be 8 to 4096 pixels"),
        (
            &["--tile", "99999"],
            "the tile side must be 8 to 4096 pixels",
        ),
        (&["--tile-overlap", "99999"], "at most 512"),
        (&["--max-memory", "lots"], "a number with an optional unit"),
        (&["--max-memory", "1M"], "at least 16M"),
        (&["--frobnicate"], "--frobnicate"),
    ];
    for (extra, needle) in cases {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["--model".as_ref(), model.as_os_str(), input.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let o = infer(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {t}");
        assert!(t.contains(needle), "{extra:?}: expected `{needle}`: {t}");
        assert!(!t.contains("-- -1"), "no clap tip about `--`: {t}");
        if let Some(value) = extra.get(1) {
            assert_eq!(t.matches(value).count(), 1, "the value is quoted once: {t}");
        }
    }

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
        assert_eq!(o.status.code(), Some(2));
    }

    let o = infer(&["--help".as_ref()]);
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--model",
        "--output",
        "--max-size",
        "--scale",
        "--device",
        "--tile",
        "--max-memory",
        "Exit codes",
    ] {
        assert!(help.contains(flag), "{flag} in help:\n{help}");
    }
    Ok(())
}

#[test]
fn strength_and_preserved_colours_finish_the_stylized_image() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let photo = dir.path().join("photo.png");
    test_photo(40, 28).save(&photo)?;
    let run = |name: &str, extra: &[&str]| -> anyhow::Result<fauve::image::RgbImage> {
        let out = dir.path().join(name);
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--model".as_ref(),
            model.as_os_str(),
            "--device".as_ref(),
            "cpu".as_ref(),
            photo.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let o = infer(&args);
        assert!(o.status.success(), "{}", text(&o));
        Ok(fauve::load_image(&out)?.to_rgb8())
    };
    let full = run("full.png", &[])?;
    // Strength 0 gives the photo back exactly; 0.5 lies halfway; preserved colours keep the
    // photo's chroma under the stylized luminance (checked in detail in the library's tests).
    assert_eq!(run("none.png", &["--strength", "0"])?, test_photo(40, 28));
    let half = run("half.png", &["--strength", "0.5"])?;
    let want = fauve::blend(&test_photo(40, 28), &full, 0.5)?;
    assert_eq!(half, want);
    let kept = run("kept.png", &["--preserve-colors"])?;
    assert_eq!(kept, fauve::preserve_colors(&test_photo(40, 28), &full)?);
    assert_ne!(kept, full);

    let o = infer(&[
        "--model".as_ref(),
        model.as_os_str(),
        photo.as_os_str(),
        "--strength".as_ref(),
        "1.5".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("between 0 (the photo) and 1"),
        "{}",
        text(&o)
    );
    Ok(())
}

/// A memory budget too small for one pass makes fauve-infer stylize in tiles, say so, and give
/// what one pass gives within 2 levels on average.
#[test]
fn a_small_memory_budget_stylizes_in_tiles() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let photo = dir.path().join("photo.png");
    fauve_tests::textured_photo(300, 200).save(&photo)?;
    let (whole, tiled) = (dir.path().join("whole.png"), dir.path().join("tiled.png"));
    let o = infer_cpu(&model, &[&photo, "-o".as_ref(), &whole]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("tiles"), "{}", text(&o));
    let o = infer_cpu(
        &model,
        &[
            &photo,
            "-o".as_ref(),
            &tiled,
            "--max-memory".as_ref(),
            "16M".as_ref(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("300x200 in tiles of 64 px"),
        "{}",
        text(&o)
    );
    let (a, b) = (
        fauve::load_image(&whole)?.to_rgb8(),
        fauve::load_image(&tiled)?.to_rgb8(),
    );
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    let mean = sum as f64 / a.as_raw().len() as f64;
    assert!(mean <= 2.0, "mean absolute difference {mean}");
    Ok(())
}
