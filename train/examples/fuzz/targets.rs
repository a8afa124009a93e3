//! What is fuzzed: each public loader, with its seed inputs (valid files made here or taken
//! from the repository) and the part of the file most worth mutating.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Device;
use fauve::image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use fauve::{Architecture, Precision};
use fauve_train::adam::Adam;
use fauve_train::checkpoint::{self, TrainState};
use fauve_train::config;
use fauve_train::data::PhotoSet;
use fauve_train::resume_state;
use fauve_train::trainable::Trainable;

/// The most a fuzzed image may take decoded: generous for the seeds, far below the cap.
const IMAGE_BUDGET: u64 = 256 << 20;

/// One fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Model,
    Vgg,
    Image,
    Config,
    Shard,
    Checkpoint,
}

pub const ALL: [Target; 6] = [
    Target::Model,
    Target::Vgg,
    Target::Image,
    Target::Config,
    Target::Shard,
    Target::Checkpoint,
];

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Model => "model",
            Target::Vgg => "vgg",
            Target::Image => "image",
            Target::Config => "config",
            Target::Shard => "shard",
            Target::Checkpoint => "checkpoint",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|t| t.name() == name)
    }

    /// Valid inputs to mutate.
    pub fn seeds(self, repo: &Path, scratch: &Path) -> Result<Vec<Vec<u8>>> {
        let fixture = |name: &str| std::fs::read(repo.join("tests/fixtures").join(name));
        Ok(match self {
            Target::Model => vec![model_seed(scratch)?],
            Target::Vgg => vec![
                fixture("vgg16_tiny.safetensors")?,
                fixture("vgg19_tiny.safetensors")?,
            ],
            Target::Image => image_seeds()?,
            Target::Config => {
                let mut seeds = Vec::new();
                for entry in std::fs::read_dir(repo.join("configs"))? {
                    seeds.push(std::fs::read(entry?.path())?);
                }
                seeds
            }
            Target::Shard => vec![fixture("hub_shard.parquet")?],
            Target::Checkpoint => vec![checkpoint_seed(scratch)?],
        })
    }

    /// The bytes most worth mutating in `seed`: a safetensors header, a parquet footer, an
    /// image's first bytes; None for anywhere.
    pub fn focus(self, seed: &[u8]) -> Option<Range<usize>> {
        match self {
            Target::Model | Target::Vgg | Target::Checkpoint => {
                let n = u64::from_le_bytes(seed.get(..8)?.try_into().ok()?) as usize;
                Some(0..8 + n)
            }
            Target::Image => Some(0..256),
            Target::Shard => Some(seed.len().saturating_sub(4096)..seed.len()),
            Target::Config => None,
        }
    }

    /// Feeds `input` (already written to `file`) to the loader; Err is a rejection.
    pub fn run(self, input: &[u8], file: &Path) -> Result<()> {
        let cpu = &Device::Cpu;
        match self {
            Target::Model => {
                let model = fauve::ModelFile::load(file, cpu)?;
                // Every style of a multi-style model, and a mix of all of them.
                let n = model.metadata.n_styles();
                for i in 0..n {
                    model.network_for(&fauve::StyleChoice::Index(i), cpu, fauve::Precision::F32)?;
                }
                let all = model
                    .metadata
                    .style_names()
                    .into_iter()
                    .map(|s| (s, 1.0))
                    .collect();
                model.network_for(&fauve::StyleChoice::Mix(all), cpu, fauve::Precision::F32)?;
            }
            Target::Vgg => {
                fauve::Vgg::load(file, cpu, fauve::Precision::F32)?;
            }
            Target::Image => {
                let img = fauve::decode_image_within(input, file, IMAGE_BUDGET)?;
                fauve::to_rgb(&img);
            }
            Target::Config => {
                let text = std::str::from_utf8(input).context("not UTF-8")?;
                let table: toml::Table = text.parse()?;
                config::from_table(table, &toml::Table::new(), "fuzz.toml")?;
            }
            Target::Shard => run_shard(file)?,
            Target::Checkpoint => run_checkpoint(file)?,
        }
        Ok(())
    }
}

/// Where the loader reads `target`'s input: a file name it accepts, in `work`.
pub fn input_path(target: Target, work: &Path) -> PathBuf {
    match target {
        Target::Shard => work.join("shard").join("input.parquet"),
        Target::Checkpoint => work.join("checkpoints").join("step-00000001.safetensors"),
        Target::Image => work.join("input.img"),
        Target::Config => work.join("input.toml"),
        _ => work.join("input.safetensors"),
    }
}

fn run_shard(file: &Path) -> Result<()> {
    let dir = file.parent().context("no folder")?;
    let set = PhotoSet::from_folder(dir, None)?;
    for i in 0..set.sources() {
        if !set.is_row_group(i) {
            continue;
        }
        let rows = set.read_group(i).map_err(anyhow::Error::msg)?;
        for bytes in rows.iter().flatten() {
            // Bad rows are skipped in training: a rejection here is not the loader's.
            let _ = fauve::decode_image_within(bytes, file, IMAGE_BUDGET);
        }
    }
    Ok(())
}

fn run_checkpoint(file: &Path) -> Result<()> {
    let dir = file.parent().context("no folder")?;
    let Some(ckpt) = checkpoint::latest(dir)? else {
        bail!("no readable checkpoint");
    };
    let table: toml::Table = ckpt.state.config_toml.parse()?;
    config::from_saved_table(table, &toml::Table::new(), "checkpoint")?;
    // What a resume does with it: the weights and Adam's moments into a fresh network.
    let (net, mut adam) = checkpoint_network()?;
    let mut state = ckpt.state.clone();
    resume_state::restore(&ckpt, net.vars(), &mut adam, &mut state, &Device::Cpu)
}

/// The network a checkpoint target restores into (the slim one: the smallest real layout).
fn checkpoint_network() -> Result<(Trainable, Adam)> {
    let net = Trainable::fresh(Architecture::Slim, 1, Precision::F32, &Device::Cpu)?;
    let vars: Vec<_> = net
        .vars()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let adam = Adam::new(vars, 1e-3)?;
    Ok((net, adam))
}

/// A model file of the transform network with generated weights.
fn model_seed(scratch: &Path) -> Result<Vec<u8>> {
    let path = scratch.join("seed-model.safetensors");
    let meta = fauve::ModelMetadata::new(
        Some("seed".into()),
        Some(serde_json::json!({"config": {"steps": 3}, "steps": 3})),
    );
    fauve::save_model_file(&path, &fauve_tests::generated_transformer(), &meta)?;
    Ok(std::fs::read(path)?)
}

/// A checkpoint as the trainer writes it: a slim network's variables and Adam's moments under
/// their real keys, and a config.
fn checkpoint_seed(scratch: &Path) -> Result<Vec<u8>> {
    let dir = scratch.join("seed-checkpoint");
    let state = TrainState {
        step: 1,
        data: Default::default(),
        bad_files: [3, 5].into(),
        config_toml: "steps = 3\nimage_size = 64\narchitecture = \"slim\"\n".into(),
        data_fingerprint: Some("3:abc".into()),
        inputs: None,
    };
    let (net, adam) = checkpoint_network()?;
    let tensors = resume_state::checkpoint_tensors(net.vars(), &adam);
    let path = checkpoint::save(&dir, tensors, &state, 1)?;
    Ok(std::fs::read(path)?)
}
/// One small picture in every format this build reads, and a PNG whose header claims
/// 60000x60000 pixels.
fn image_seeds() -> Result<Vec<Vec<u8>>> {
    let img = RgbaImage::from_fn(23, 17, |x, y| {
        Rgba([(x * 11) as u8, (y * 15) as u8, ((x + y) * 7) as u8, 200])
    });
    let img = DynamicImage::ImageRgba8(img);
    let mut seeds = Vec::new();
    let variants = [
        (img.to_rgb8().into(), ImageFormat::Png),
        (img.clone(), ImageFormat::Png),
        (DynamicImage::ImageRgba16(img.to_rgba16()), ImageFormat::Png),
        (img.grayscale(), ImageFormat::Png),
        (img.to_rgb8().into(), ImageFormat::Jpeg),
        (img.clone(), ImageFormat::WebP),
        (img.to_rgb8().into(), ImageFormat::Bmp),
        (img.to_rgb8().into(), ImageFormat::Tiff),
        (img.clone(), ImageFormat::Gif),
    ];
    for (picture, format) in variants {
        let picture: DynamicImage = picture;
        let mut bytes = std::io::Cursor::new(Vec::new());
        picture
            .write_to(&mut bytes, format)
            .with_context(|| format!("encoding a {format:?} seed"))?;
        seeds.push(bytes.into_inner());
    }
    seeds.push(fauve_tests::hostile::png_claiming(60_000, 60_000));
    Ok(seeds)
}
