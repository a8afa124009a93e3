//! Multi-style models through the library: the file format, choosing a style or a mix, and a
//! one-style model unchanged by the choice.

use fauve::image::DynamicImage;
use fauve::{StyleChoice, StyleOptions, Stylizer, Tiling};
use fauve_tests::{test_photo, textured_photo, write_generated_model, write_generated_multi_style};

fn photo() -> DynamicImage {
    DynamicImage::ImageRgb8(textured_photo(52, 44))
}

fn with(style: StyleChoice) -> StyleOptions {
    StyleOptions {
        style,
        ..StyleOptions::default()
    }
}

/// Mean absolute difference of two images, in levels of 255.
fn mean_diff(a: &fauve::image::RgbImage, b: &fauve::image::RgbImage) -> f64 {
    let sum: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .sum();
    sum / a.as_raw().len() as f64
}

#[test]
fn a_one_style_model_is_unchanged_by_any_choice_of_its_style() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = write_generated_model(dir.path());
    // Still written as format 1, with [C] norm parameters.
    let header = fauve::SafetensorsFile::open(&path)?.metadata()?;
    assert_eq!(header["format_version"], "1");
    assert!(!header.contains_key("styles"));
    let s = Stylizer::load(&path, &fauve::candle_core::Device::Cpu)?;
    assert_eq!(s.styles(), ["starry night"]);
    let img = photo();
    let plain = s.stylize(&img)?;
    for choice in [
        StyleChoice::Only,
        StyleChoice::Index(0),
        StyleChoice::Named("starry night".into()),
        StyleChoice::Mix(vec![("starry night".into(), 0.3)]),
    ] {
        assert!(
            s.stylize_with(&img, &with(choice.clone()))? == plain,
            "{choice:?}"
        );
    }
    assert!(s.stylize_with(&img, &with(StyleChoice::Index(1))).is_err());
    Ok(())
}

#[test]
fn styles_differ_and_a_mix_of_one_is_that_style() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = write_generated_multi_style(dir.path(), &["wave", "stripes", "dots"]);
    let header = fauve::SafetensorsFile::open(&path)?.metadata()?;
    assert_eq!(header["format_version"], "2");
    let s = Stylizer::load(&path, &fauve::candle_core::Device::Cpu)?;
    assert_eq!(s.styles(), ["wave", "stripes", "dots"]);
    let img = photo();
    // No choice: an error that lists the styles.
    let err = s.stylize(&img).unwrap_err().to_string();
    assert!(
        err.contains("3 styles (0 wave, 1 stripes, 2 dots)"),
        "{err}"
    );
    assert!(s.stylize_with(&img, &StyleOptions::default()).is_err());

    let wave = s.stylize_with(&img, &with(StyleChoice::Named("wave".into())))?;
    let stripes = s.stylize_with(&img, &with(StyleChoice::Index(1)))?;
    assert!(
        mean_diff(&wave, &stripes) > 5.0,
        "{}",
        mean_diff(&wave, &stripes)
    );
    let mix = StyleChoice::parse_mix("wave=1,stripes=0")?;
    assert!(s.stylize_with(&img, &with(mix))? == wave);
    // A half-and-half mix is another picture, nearer each style than they are to each other.
    let half = s.stylize_with(&img, &with(StyleChoice::parse_mix("wave=1,stripes=1")?))?;
    let apart = mean_diff(&wave, &stripes);
    assert!(mean_diff(&half, &wave) < apart && mean_diff(&half, &stripes) < apart);
    assert_eq!(
        s.style_weights(&StyleChoice::parse_mix("dots=3,0=1")?)?,
        [0.25, 0.0, 0.75]
    );
    // One style out of the model: a one-style stylizer named after it.
    let one = s.with_style(&StyleChoice::Named("stripes".into()))?;
    assert!(one.stylize(&img)? == stripes);
    assert_eq!(one.styles(), ["stripes"]);
    Ok(())
}

#[test]
fn tiles_video_and_adjustments_follow_the_chosen_style() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = write_generated_multi_style(dir.path(), &["a", "b"]);
    let s = Stylizer::load(&path, &fauve::candle_core::Device::Cpu)?;
    let img = DynamicImage::ImageRgb8(test_photo(96, 80));
    let mix = StyleChoice::parse_mix("a=0.4,b=0.6")?;
    let whole = s.stylize_with(&img, &with(mix.clone()))?;
    let tiled = s.stylize_with(
        &img,
        &StyleOptions {
            tile: Some(32),
            ..with(mix.clone())
        },
    )?;
    assert!(
        mean_diff(&whole, &tiled) < 0.05,
        "{}",
        mean_diff(&whole, &tiled)
    );
    let b = s.stylize_with(&img, &with(StyleChoice::Named("b".into())))?;
    let mut video = s.sequence(with(StyleChoice::Named("b".into())), Default::default())?;
    let first = video.stylize(&img)?;
    assert!(mean_diff(&first, &b) < 0.05, "{}", mean_diff(&first, &b));
    let none = StyleOptions {
        strength: 0.0,
        ..with(mix)
    };
    let photo = s.stylize_with(&img, &none)?;
    assert!(photo == *img.as_rgb8().unwrap());
    let _ = Tiling::new(32, 8)?;
    Ok(())
}
