//! Hostile files through `fauve-infer`: a PNG whose header claims 60000x60000 pixels, model
//! files whose headers lie, tensors of the wrong shape, NaN weights. Each is a clear error
//! naming the file, exit 1, under 1 GB of memory, and no output file.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

use fauve::image::DynamicImage;
use fauve_tests::hostile::{
    png_claiming, run_measured, safetensors_claiming_header, safetensors_past_its_end,
};
use fauve_tests::{
    generated_transformer, test_photo, text, write_generated_model, write_safetensors,
};

const FAUVE_INFER: &str = env!("CARGO_BIN_EXE_fauve-infer");
const GB: u64 = 1 << 30;

/// Runs fauve-infer on `photo` with `model` into `out` and checks the failure: exit 1, the
/// message naming `culprit`, no output file, and the peak memory under 1 GB.
fn refused(model: &Path, photo: &Path, out: &Path, culprit: &str, reason: &str) {
    let (o, peak) = run_measured(
        Command::new(FAUVE_INFER)
            .args(["--device", "cpu", "--model"])
            .arg(model)
            .arg(photo)
            .arg("-o")
            .arg(out),
    );
    let t = text(&o);
    eprintln!("{culprit}: peak {:.0} MB", peak as f64 / 1e6);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains(culprit), "the message names {culprit}: {t}");
    assert!(t.contains(reason), "expected `{reason}`: {t}");
    assert!(!t.contains("panicked"), "{t}");
    assert!(!out.exists(), "an output was written");
    assert!(peak < GB, "peak memory {peak} bytes");
}

#[test]
fn a_png_claiming_60000_by_60000_pixels_is_refused_in_little_memory() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, png_claiming(60_000, 60_000))?;
    refused(
        &model,
        &bomb,
        &dir.path().join("out.png"),
        "bomb.png",
        "cannot decode image",
    );
    Ok(())
}

#[test]
fn model_files_that_lie_or_hold_nan_are_refused_in_little_memory() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let photo = dir.path().join("photo.png");
    DynamicImage::ImageRgb8(test_photo(32, 24)).save(&photo)?;
    let out = dir.path().join("out.png");

    let huge = dir.path().join("huge-header.safetensors");
    std::fs::write(&huge, safetensors_claiming_header(1 << 62))?;
    refused(
        &huge,
        &photo,
        &out,
        "huge-header.safetensors",
        "not a valid safetensors file",
    );

    let past = dir.path().join("past-end.safetensors");
    std::fs::write(&past, safetensors_past_its_end())?;
    refused(
        &past,
        &photo,
        &out,
        "past-end.safetensors",
        "not a valid safetensors file",
    );

    let mut tensors = generated_transformer();
    let key = "res1.conv1.conv2d.weight".to_string();
    let wrong = candle_core::Tensor::zeros(
        (128, 128, 3, 2),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )?;
    tensors.insert(key.clone(), wrong);
    let shaped = dir.path().join("wrong-shape.safetensors");
    write_safetensors(&shaped, &tensors, None);
    refused(
        &shaped,
        &photo,
        &out,
        "wrong-shape.safetensors",
        "has shape [128, 128, 3, 2]",
    );

    for (name, bad) in [
        ("nan.safetensors", f32::NAN),
        ("inf.safetensors", f32::INFINITY),
    ] {
        let mut tensors = generated_transformer();
        let t = &tensors[&key];
        let mut values = t.flatten_all()?.to_vec1::<f32>()?;
        values[7] = bad;
        tensors.insert(
            key.clone(),
            candle_core::Tensor::from_vec(values, t.dims(), &candle_core::Device::Cpu)?,
        );
        let path = dir.path().join(name);
        write_safetensors(&path, &tensors, None);
        refused(&path, &photo, &out, name, "1 NaN or infinite value(s)");
    }
    Ok(())
}

/// `--max-memory` bounds decoding too: a photo that would take more than the budget while
/// decoding is refused with what it would take, before anything is allocated.
#[test]
fn the_memory_budget_bounds_decoding() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let big = dir.path().join("big.png");
    std::fs::write(&big, png_claiming(4000, 3000))?;
    let out = dir.path().join("out.png");
    let o = Command::new(FAUVE_INFER)
        .args(["--device", "cpu", "--max-memory", "16M", "--model"])
        .arg(&model)
        .arg(&big)
        .arg("-o")
        .arg(&out)
        .output()?;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("big.png")
            && t.contains(
                "36.0 MB decoded, up to 108.0 MB while decoding, more than the 16.8 MB allowed"
            ),
        "{t}"
    );
    assert!(!out.exists());
    Ok(())
}
