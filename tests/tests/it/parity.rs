//! Fauve's numbers against PyTorch's (tests/fixtures, from scripts/make-fixtures.py): the
//! transform network, the VGG16 taps under both preprocessings, and the losses.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use fauve::loss::{content_loss, gram_matrix, style_loss, total_variation};
use fauve::{Stylizer, Vgg16};

use crate::support::{fixture, generated_transformer, load_fixture, rel_l2, write_safetensors};

const TOLERANCE: f64 = 1e-4;

/// A converted pytorch/examples checkpoint: no metadata, stray running statistics.
fn write_converted_checkpoint(dir: &std::path::Path) -> std::path::PathBuf {
    let mut tensors = generated_transformer();
    for name in ["in1", "in3", "res2.in1"] {
        let c = tensors[&format!("{name}.weight")].dims()[0];
        let stray = Tensor::ones(c, candle_core::DType::F32, &Device::Cpu).unwrap();
        tensors.insert(format!("{name}.running_mean"), stray.clone());
        tensors.insert(format!("{name}.running_var"), stray);
    }
    let path = dir.join("converted.safetensors");
    write_safetensors(&path, &tensors, None);
    path
}

#[test]
fn transformer_matches_pytorch_on_odd_sizes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stylizer = Stylizer::load(write_converted_checkpoint(dir.path()), &Device::Cpu)?;
    assert!(!stylizer.metadata().from_fauve);
    let fx = load_fixture("transformer_parity.safetensors");
    let out = stylizer.forward(&fx["input"])?;
    // PyTorch's output for 37x45 is 40x48; the raw network must agree.
    assert_eq!(out.dims(), &[1, 3, 40, 48]);
    let err = rel_l2(&out, &fx["output"]);
    assert!(err < TOLERANCE, "relative L2 error {err:e}");
    Ok(())
}

#[test]
fn stylizer_returns_the_input_size() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stylizer = Stylizer::load(write_converted_checkpoint(dir.path()), &Device::Cpu)?;
    let img = fauve::image::DynamicImage::new_rgb8(45, 37);
    let out = stylizer.stylize(&img)?;
    assert_eq!(out.dimensions(), (45, 37));
    // The smallest accepted size works; one pixel less is a clear error.
    let min = fauve::MIN_SIDE;
    assert!(stylizer
        .stylize(&fauve::image::DynamicImage::new_rgb8(min, min))
        .is_ok());
    let err = stylizer
        .stylize(&fauve::image::DynamicImage::new_rgb8(min - 1, 20))
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least"), "{err}");
    Ok(())
}

fn vgg_with_preprocess(kind: &str, dir: &std::path::Path) -> anyhow::Result<Vgg16> {
    if kind == "caffe_bgr" {
        return Ok(Vgg16::load(
            &fixture("vgg16_tiny.safetensors"),
            &Device::Cpu,
        )?);
    }
    let tensors = load_fixture("vgg16_tiny.safetensors");
    let path = dir.join("vgg_tv.safetensors");
    let meta = HashMap::from([("preprocess".to_string(), kind.to_string())]);
    write_safetensors(&path, &tensors, Some(meta));
    Ok(Vgg16::load(&path, &Device::Cpu)?)
}

#[test]
fn vgg_taps_and_losses_match_pytorch_under_both_preprocessings() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fx = load_fixture("vgg_reference.safetensors");
    for kind in ["caffe_bgr", "torchvision"] {
        let vgg = vgg_with_preprocess(kind, dir.path())?;
        assert_eq!(vgg.preprocess().as_str(), kind);
        let fa = vgg.features(&fx["image_a"])?;
        let fb = vgg.features(&fx["image_b"])?;
        let fs = vgg.features(&fx["style"])?;
        for (tap, name) in fa.taps.iter().zip(fauve::TAP_NAMES) {
            let err = rel_l2(tap, &fx[&format!("{kind}.{name}")]);
            assert!(err < TOLERANCE, "{kind} {name}: relative L2 error {err:e}");
        }
        let gram = gram_matrix(&fa.taps[2])?;
        let err = rel_l2(&gram, &fx[&format!("{kind}.gram_relu3_3")]);
        assert!(err < TOLERANCE, "{kind} gram: {err:e}");

        let content = content_loss(fa.relu2_2(), fb.relu2_2())?.reshape(1)?;
        let err = rel_l2(&content, &fx[&format!("{kind}.content_loss")]);
        assert!(err < TOLERANCE, "{kind} content loss: {err:e}");

        let grams_a = fa
            .taps
            .iter()
            .map(gram_matrix)
            .collect::<Result<Vec<_>, _>>()?;
        let grams_s = fs
            .taps
            .iter()
            .map(gram_matrix)
            .collect::<Result<Vec<_>, _>>()?;
        let style = style_loss(&grams_a, &grams_s)?.reshape(1)?;
        let err = rel_l2(&style, &fx[&format!("{kind}.style_loss")]);
        assert!(err < TOLERANCE, "{kind} style loss: {err:e}");
    }
    let tv = total_variation(&fx["image_a"])?.reshape(1)?;
    let err = rel_l2(&tv, &fx["tv_image_a"]);
    assert!(err < TOLERANCE, "total variation: {err:e}");
    Ok(())
}

#[test]
fn the_two_preprocessings_really_differ() -> anyhow::Result<()> {
    // Guards against a loader that ignores the metadata: the same weights must give different
    // features under the other preprocessing.
    let dir = tempfile::tempdir()?;
    let fx = load_fixture("vgg_reference.safetensors");
    let caffe = vgg_with_preprocess("caffe_bgr", dir.path())?.features(&fx["image_a"])?;
    let tv = vgg_with_preprocess("torchvision", dir.path())?.features(&fx["image_a"])?;
    assert!(rel_l2(&caffe.taps[0], &tv.taps[0]) > 0.1);
    Ok(())
}
