//! Helpers shared by Fauve's end-to-end tests (this crate's `tests/it`, and the command-line
//! tests of `fauve-train` and `fauve-infer`, which run their binaries through
//! `CARGO_BIN_EXE_*`): fixture paths, the deterministic weight generator that
//! scripts/make-fixtures.py also implements, generated photos, error measures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use candle_core::{Device, Tensor};
use fauve::image::{Rgb, RgbImage};

pub mod hostile;

#[path = "../../common/src/test_util.rs"]
mod test_util;
pub use test_util::{assert_grads_close, projected_grads, rel_l2, test_device};

/// Path of a committed fixture.
pub fn fixture(name: &str) -> PathBuf {
    let built_here = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    // From the repository root, for a test binary carried to another machine.
    if built_here.exists() {
        built_here
    } else {
        Path::new("tests/fixtures").join(name)
    }
}

/// Loads every tensor of a fixture file.
pub fn load_fixture(name: &str) -> HashMap<String, Tensor> {
    load_fixture_on(name, &Device::Cpu)
}

/// Loads every tensor of a fixture file onto `device`.
pub fn load_fixture_on(name: &str, device: &Device) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(name), device).expect("fixture loads")
}

/// Asserts `err` is under `tolerance`, and prints it: gpu-check.sh reports these lines.
pub fn check_parity(what: &str, err: f64, tolerance: f64) {
    eprintln!("parity: {what}: relative L2 error {err:.2e}");
    assert!(err < tolerance, "{what}: relative L2 error {err:e}");
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(x: u64) -> u64 {
    let z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The weight generator of scripts/make-fixtures.py (see its docstring), bit for bit.
pub fn generated(key: &str, n: usize, offset: f64, amplitude: f64) -> Vec<f32> {
    let seed = fnv1a64(key.as_bytes());
    (0..n as u64)
        .map(|i| {
            let u = (splitmix64(seed.wrapping_add(i)) >> 40) as f64 / (1u64 << 24) as f64;
            (offset + amplitude * (2.0 * u - 1.0)) as f32
        })
        .collect()
}

/// The full-size transform network's tensors as the fixture script generates them.
pub fn generated_transformer() -> HashMap<String, Tensor> {
    generated_network(fauve::Architecture::Johnson)
}

/// The tensors of a one-style network of `architecture`, made by the fixture script's
/// generator.
pub fn generated_network(architecture: fauve::Architecture) -> HashMap<String, Tensor> {
    let shapes = architecture.parameter_shapes(1);
    shapes
        .iter()
        .cloned()
        .map(|(key, shape)| {
            let n: usize = shape.iter().product();
            let (offset, amp) = if key.contains("conv2d") {
                let fan_in: usize = if shape.len() == 4 {
                    shape[1..].iter().product()
                } else {
                    // A bias: its conv's fan-in, from the matching weight's shape.
                    let w = key.replace(".bias", ".weight");
                    shapes
                        .iter()
                        .find(|(k, _)| *k == w)
                        .map(|(_, s)| s[1..].iter().product())
                        .expect("bias has a weight")
                };
                (0.0, 1.0 / (fan_in as f64).sqrt())
            } else if key.ends_with(".weight") {
                (1.0, 0.5)
            } else {
                (0.0, 0.5)
            };
            let data = generated(&key, n, offset, amp);
            let t = Tensor::from_vec(data, shape, &Device::Cpu).expect("shape matches");
            (key, t)
        })
        .collect()
}

/// Writes tensors as a safetensors file with optional metadata (no Fauve code involved).
pub fn write_safetensors(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    metadata: Option<HashMap<String, String>>,
) {
    let mut items: Vec<_> = tensors.iter().collect();
    items.sort_by_key(|(k, _)| k.as_str());
    let bytes = safetensors::serialize(items, metadata).expect("serializes");
    std::fs::write(path, bytes).expect("writes");
}

/// A non-square test photo with distinct corners.
pub fn test_photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 7 * 30) as u8,
        ])
    })
}

/// A finished process's exit status, stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The model the repository ships (styles/starry_night.safetensors): a trained network, whose
/// strokes and colours make tiling errors visible where a generated one would hide them.
pub fn shipped_model() -> PathBuf {
    shipped_style_file("starry_night.safetensors")
}

/// The shipped slim model (styles/starry_night_slim.safetensors): the same style, trained with
/// the slim network.
pub fn shipped_slim_model() -> PathBuf {
    shipped_style_file("starry_night_slim.safetensors")
}

fn shipped_style_file(name: &str) -> PathBuf {
    let built_here = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../styles")
        .join(name);
    // A test binary carried to another machine (scripts/gpu-check.sh) runs from the
    // repository root there.
    if built_here.exists() {
        built_here
    } else {
        Path::new("styles").join(name)
    }
}

/// [`test_photo`] with deterministic pixel noise and a few hard-edged shapes: texture and edges
/// everywhere, as a photo has.
pub fn textured_photo(w: u32, h: u32) -> RgbImage {
    let mut state = 0x2545_f491_u32;
    let mut img = test_photo(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 41) as i32 - 20;
        let shape = if (x / 23 + y / 17) % 3 == 0 { 60 } else { 0 };
        for (i, c) in p.0.iter_mut().enumerate() {
            let v = i32::from(*c) + noise + if i == 2 { shape } else { -shape / 2 };
            *c = v.clamp(0, 255) as u8;
        }
    }
    img
}

/// `n` frames of a camera panning across `photo`: frame `t` is the `width`-wide window that
/// starts `step·t` pixels from the left, with Gaussian sensor noise of `sigma` levels drawn
/// afresh for each frame (deterministic).
pub fn panning_frames(
    photo: &RgbImage,
    width: u32,
    n: u32,
    step: u32,
    sigma: f64,
) -> Vec<RgbImage> {
    assert!(
        width + step * (n - 1) <= photo.width(),
        "the photo is too narrow for the pan"
    );
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|t| {
            let mut frame =
                fauve::image::imageops::crop_imm(photo, step * t, 0, width, photo.height())
                    .to_image();
            for c in frame.iter_mut() {
                // Box-Muller.
                let (u1, u2) = (uniform().max(1e-12), uniform());
                let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                *c = (f64::from(*c) + sigma * g).round().clamp(0.0, 255.0) as u8;
            }
            frame
        })
        .collect()
}

/// Flicker of a stylized pan: the mean absolute difference (8-bit levels) between consecutive
/// frames after undoing the camera's `step` pixels of motion, over the part both frames show.
pub fn pan_flicker(frames: &[RgbImage], step: u32) -> f64 {
    let (mut sum, mut count) = (0u64, 0u64);
    for pair in frames.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        for y in 0..a.height() {
            for x in 0..a.width() - step {
                let (p, q) = (a.get_pixel(x + step, y), b.get_pixel(x, y));
                for c in 0..3 {
                    sum += u64::from(p.0[c].abs_diff(q.0[c]));
                    count += 1;
                }
            }
        }
    }
    sum as f64 / count as f64
}

/// A model file of the generated transform network (style name "starry night") written into
/// `dir`, for the binaries' tests.
pub fn write_generated_model(dir: &Path) -> PathBuf {
    let path = dir.join("starry.safetensors");
    let meta = fauve::ModelMetadata::new(Some("starry night".into()), None);
    fauve::save_model_file(&path, &generated_transformer(), &meta).expect("model written");
    path
}

/// A model file holding `names.len()` styles (two or more) written into `dir`: the shipped
/// model's convs, its own norm parameters as the first style, and for each further style
/// those parameters scaled and shifted by generated amounts (so the styles differ visibly).
pub fn write_generated_multi_style(dir: &Path, names: &[&str]) -> PathBuf {
    let shipped = fauve::ModelFile::load(&shipped_model(), &Device::Cpu).expect("shipped model");
    let mut tensors = shipped.tensors.clone();
    let n = names.len();
    for (name, c) in fauve::Architecture::Johnson.norm_channels() {
        for suffix in [".weight", ".bias"] {
            let key = format!("{name}{suffix}");
            let own = shipped.tensors[&key].to_vec1::<f32>().expect("a [C] norm");
            let rows: Vec<f32> = (0..n)
                .flat_map(|i| {
                    let scale = generated(&format!("{key}#{i}"), c, 1.0, 0.6);
                    let shift = generated(&format!("{key}+{i}"), c, 0.0, 0.6);
                    own.iter()
                        .zip(scale.into_iter().zip(shift))
                        .map(move |(v, (a, b))| if i == 0 { *v } else { v * a + b })
                        .collect::<Vec<f32>>()
                })
                .collect();
            let t = Tensor::from_vec(rows, (n, c), &Device::Cpu).expect("shape matches");
            tensors.insert(key, t);
        }
    }
    let styles = names
        .iter()
        .map(|s| fauve::StyleEntry {
            name: s.to_string(),
            style_image_sha256: None,
            source: Some(format!("{s}.jpg")),
        })
        .collect();
    let path = dir.join("collection.safetensors");
    let meta = fauve::ModelMetadata::multi(Some("collection".into()), styles, None);
    fauve::save_model_file(&path, &tensors, &meta).expect("model written");
    path
}
