//! `fauve-infer` with a multi-style model: `--list-styles`, `--style`, `--mix`, and the usage
//! errors that list the styles.

use std::path::Path;
use std::process::{Command, Output};

use fauve::image::DynamicImage;
use fauve_tests::{text, textured_photo, write_generated_model, write_generated_multi_style};

const FAUVE_INFER: &str = env!("CARGO_BIN_EXE_fauve-infer");

fn infer(model: &Path, args: &[&str]) -> Output {
    Command::new(FAUVE_INFER)
        .arg("--model")
        .arg(model)
        .args(["--device", "cpu"])
        .args(args)
        .output()
        .expect("fauve-infer runs")
}

fn rgb(path: &Path) -> fauve::image::RgbImage {
    fauve::image::open(path).expect("output readable").to_rgb8()
}

#[test]
fn styles_are_listed_chosen_and_mixed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_multi_style(dir.path(), &["wave", "stripes"]);
    let photo = dir.path().join("photo.png");
    DynamicImage::ImageRgb8(textured_photo(60, 48)).save(&photo)?;
    let p = photo.to_str().unwrap();
    let out = |name: &str| dir.path().join(name);
    let o_of = |name: &str| out(name).to_str().unwrap().to_string();

    let o = infer(&model, &["--list-styles"]);
    assert!(o.status.success(), "{}", text(&o));
    let listing = String::from_utf8_lossy(&o.stdout);
    assert_eq!(listing.lines().count(), 2, "{listing}");
    assert!(listing.starts_with("0\twave\twave.jpg"), "{listing}");
    assert!(listing.contains("1\tstripes\tstripes.jpg"), "{listing}");

    // Without a choice, or with a style the model lacks: a usage error naming the styles.
    for args in [
        vec![p],
        vec![p, "--style", "monet"],
        vec![p, "--mix", "wave"],
    ] {
        let o = infer(&model, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("0 wave, 1 stripes") || text(&o).contains("NAME=WEIGHT"));
    }
    let o = infer(&model, &[p]);
    assert!(text(&o).contains("--style NAME"), "{}", text(&o));

    for (args, file) in [
        (vec!["--style", "wave"], "wave.png"),
        (vec!["--style", "1"], "stripes.png"),
        (vec!["--mix", "wave=1,stripes=0"], "mix-wave.png"),
    ] {
        let mut all = vec![p, "-o"];
        let target = o_of(file);
        all.push(&target);
        all.extend(args);
        let o = infer(&model, &all);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (wave, stripes) = (rgb(&out("wave.png")), rgb(&out("stripes.png")));
    assert!(
        rgb(&out("mix-wave.png")) == wave,
        "a mix of one style is that style"
    );
    let differing = wave
        .as_raw()
        .iter()
        .zip(stripes.as_raw())
        .filter(|(a, b)| a.abs_diff(**b) > 16)
        .count();
    assert!(differing > wave.as_raw().len() / 4, "{differing}");

    // Into a folder: the file names say the style or the mix.
    let folder = o_of("out");
    let o = infer(&model, &[p, "-o", &folder, "--mix", "wave=3,stripes=1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out("out/photo-wave75-stripes25.png").exists(),
        "{}",
        text(&o)
    );
    Ok(())
}

#[test]
fn a_one_style_model_lists_itself_and_takes_its_own_name() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let o = infer(&model, &["--list-styles"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("0\tstarry night\t"));
    let photo = dir.path().join("photo.png");
    DynamicImage::ImageRgb8(textured_photo(40, 32)).save(&photo)?;
    let p = photo.to_str().unwrap();
    let plain = dir.path().join("plain.png");
    let named = dir.path().join("named.png");
    let o = infer(&model, &[p, "-o", plain.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = infer(&model, &[p, "-o", named.to_str().unwrap(), "--style", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&plain)?, std::fs::read(&named)?);
    Ok(())
}

/// A slim model stylizes at the photo's size, and the load line says which network it is.
#[test]
fn a_slim_model_says_so_and_stylizes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let arch = fauve::Architecture::Slim;
    let model = dir.path().join("slim.safetensors");
    let meta = fauve::ModelMetadata::new(Some("tiny".into()), None).with_architecture(arch);
    fauve::save_model_file(&model, &fauve_tests::generated_network(arch), &meta)?;
    let photo = dir.path().join("photo.png");
    DynamicImage::ImageRgb8(textured_photo(41, 30)).save(&photo)?;
    let out = dir.path().join("out.png");
    let o = infer(
        &model,
        &[photo.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(tiny, slim network)"), "{}", text(&o));
    assert_eq!(rgb(&out).dimensions(), (41, 30));
    Ok(())
}

/// `--video` stylizes every frame with the chosen mix, as the library's sequence stylizer does.
#[test]
fn video_frames_take_the_chosen_mix() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_multi_style(dir.path(), &["wave", "stripes"]);
    let clip = dir.path().join("clip");
    std::fs::create_dir_all(&clip)?;
    let frames = fauve_tests::panning_frames(&textured_photo(64, 44), 52, 3, 2, 3.0);
    for (i, f) in frames.iter().enumerate() {
        f.save(clip.join(format!("f{i}.png")))?;
    }
    let out = dir.path().join("styled");
    let mix = "wave=0.25,stripes=0.75";
    let o = infer(
        &model,
        &[
            "--video",
            clip.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--mix",
            mix,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let stylizer = fauve::Stylizer::load(&model, &fauve::candle_core::Device::Cpu)?;
    let options = fauve::StyleOptions {
        style: fauve::StyleChoice::parse_mix(mix)?,
        ..Default::default()
    };
    let mut seq = stylizer.sequence(options, fauve::VideoOptions::default())?;
    for (i, frame) in frames.iter().enumerate() {
        let want = seq.stylize(&DynamicImage::ImageRgb8(frame.clone()))?;
        assert!(rgb(&out.join(format!("f{i}.png"))) == want, "frame {i}");
    }
    Ok(())
}
