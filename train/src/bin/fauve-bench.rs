//! `fauve-bench`: times Fauve's forward pass and training step on tensors written by
//! scripts/bench_reference.py, which runs PyTorch on the same tensors beside it. Used by
//! scripts/bench.sh (CPU) and scripts/gpu-check.sh (CUDA); prints one JSON line per run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use clap::{Parser, Subcommand};
use fauve::{Precision, TransformerNet, Vgg};
use fauve_train::adam::Adam;
use fauve_train::config::{default_weights, StyleBalance};
use fauve_train::loss_network::default_layers;
use fauve_train::perceptual::{LossWeights, PerceptualLoss};

#[derive(Parser)]
#[command(
    version,
    about = "Time Fauve's forward pass and training step on tensors from scripts/bench_reference.py"
)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct Timing {
    /// cpu, cuda, cuda:N
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Untimed runs first (kernel compilation, allocator warm-up).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed runs; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Conv precision: f32, or bf16 (CUDA only).
    #[arg(long, default_value = "f32")]
    precision: String,
    /// Let f32 convolutions (cuDNN) and matrix products (cuBLAS) use TF32 tensor cores (CUDA;
    /// what PyTorch allows its cuDNN convolutions by default). See `fauve::allow_tf32`.
    #[arg(long)]
    tf32: bool,
    /// Run 3x3 stride-1 convs on the CPU as im2col + GEMM instead of Winograd F(2x2, 3x3)
    /// (see `fauve::conv::set_winograd`), to time both side by side.
    #[arg(long)]
    no_winograd: bool,
    /// After the timed runs, run as many again with per-op timing (each op of the library
    /// synchronises the device before and after itself) and add the table to the report
    /// (`profile`, milliseconds per run) and to stderr.
    #[arg(long)]
    profile: bool,
}

impl Timing {
    fn precision(&self) -> Result<Precision> {
        Precision::parse(&self.precision)
            .with_context(|| format!("--precision must be f32 or bf16, not {}", self.precision))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Forward pass of the transform network on `input` from a safetensors file.
    Infer {
        /// Transform network weights (pytorch/examples key names).
        #[arg(long)]
        weights: PathBuf,
        /// Safetensors file holding `input`, [1, 3, H, W] in 0..255.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the output (`output`) for comparison with PyTorch's.
        #[arg(long)]
        output: Option<PathBuf>,
        /// A multi-style model's style (name or index), as fauve-infer --style.
        #[arg(long, conflicts_with = "mix")]
        style: Option<String>,
        /// A mix of a multi-style model's styles, as fauve-infer --mix.
        #[arg(long)]
        mix: Option<String>,
        #[command(flatten)]
        timing: Timing,
    },
    /// One training step: transform forward, VGG on output and input, content and style
    /// loss, backward, Adam. The runs (warm-up included) are consecutive steps of one training
    /// run from the file's weights, so the losses of the first two steps can be compared with
    /// those of PyTorch's first two steps from the same weights.
    TrainStep {
        /// Transform network weights (pytorch/examples key names).
        #[arg(long)]
        weights: PathBuf,
        /// VGG16 or VGG19 file (as scripts/fetch-vgg16.sh or fetch-vgg19.sh writes it).
        #[arg(long)]
        vgg: PathBuf,
        /// Content layer (default: fauve-train's for the file's network).
        #[arg(long)]
        content_layer: Option<String>,
        /// Style layers, comma-separated (default: fauve-train's for the file's network).
        #[arg(long, value_delimiter = ',')]
        style_layers: Option<Vec<String>>,
        /// Safetensors file holding `content` [B, 3, S, S] and `style` [1, 3, H, W], 0..255.
        #[arg(long)]
        batch: PathBuf,
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Content weight (default: fauve-train's for the VGG file's preprocessing).
        #[arg(long)]
        content_weight: Option<f64>,
        /// Style weight (default: fauve-train's for the VGG file's preprocessing).
        #[arg(long)]
        style_weight: Option<f64>,
        #[command(flatten)]
        timing: Timing,
    },
}

fn main() {
    fauve::keep_freed_memory();
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let timing = match &args.cmd {
        Cmd::Infer { timing, .. } | Cmd::TrainStep { timing, .. } => timing,
    };
    fauve::allow_tf32(timing.tf32);
    fauve::conv::set_winograd(!timing.no_winograd);
    match args.cmd {
        Cmd::Infer {
            weights,
            input,
            output,
            style,
            mix,
            timing,
        } => {
            let choice = match (style, mix) {
                (Some(name), _) => Some(fauve::StyleChoice::Named(name)),
                (None, Some(mix)) => Some(fauve::StyleChoice::parse_mix(&mix)?),
                (None, None) => None,
            };
            infer(&weights, &input, output.as_deref(), choice, &timing)
        }
        Cmd::TrainStep {
            weights,
            vgg,
            batch,
            lr,
            content_layer,
            style_layers,
            content_weight,
            style_weight,
            timing,
        } => train_step(
            &weights,
            &batch,
            lr,
            LossChoice {
                vgg,
                content_layer,
                style_layers,
                weights: (content_weight, style_weight),
            },
            &timing,
        ),
    }
}

fn tensor_from(path: &Path, name: &str, device: &Device) -> Result<Tensor> {
    let mut all = candle_core::safetensors::load(path, device)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let t = all
        .remove(name)
        .with_context(|| format!("{} holds no tensor `{name}`", path.display()))?;
    Ok(t.to_dtype(DType::F32)?)
}

/// A transform network whose variables hold the file's weights.
fn network(
    weights: &Path,
    device: &Device,
    precision: Precision,
) -> Result<(VarMap, TransformerNet)> {
    let mut varmap = VarMap::new();
    let net = TransformerNet::new(
        precision,
        VarBuilder::from_varmap(&varmap, DType::F32, device),
    )?;
    varmap
        .load(weights)
        .with_context(|| format!("cannot load weights {}", weights.display()))?;
    Ok((varmap, net))
}

/// Runs `step` `warmup` times untimed, then `runs` times timed (synchronised), and returns the
/// times in milliseconds.
fn time_runs(
    device: &Device,
    timing: &Timing,
    mut step: impl FnMut() -> Result<()>,
) -> Result<Vec<f64>> {
    if timing.runs == 0 {
        bail!("--runs must be at least 1");
    }
    for _ in 0..timing.warmup {
        step()?;
    }
    device.synchronize()?;
    let mut times = Vec::with_capacity(timing.runs);
    for _ in 0..timing.runs {
        let start = Instant::now();
        step()?;
        device.synchronize()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

/// With `--profile`: `runs` more runs with per-op timing, as a JSON object (op and phase to
/// milliseconds per run and calls per run, the profiled run's time, and what no op of the
/// library accounts for: candle's own ops and launch gaps), also printed to stderr as a table.
fn profile_runs(
    device: &Device,
    timing: &Timing,
    mut step: impl FnMut() -> Result<()>,
) -> Result<Option<serde_json::Value>> {
    if !timing.profile {
        return Ok(None);
    }
    use fauve::profile::{set_profiling, take_profile};
    let _ = take_profile();
    device.synchronize()?;
    let start = Instant::now();
    set_profiling(true);
    let outcome = (0..timing.runs).try_for_each(|_| step());
    set_profiling(false);
    outcome?;
    device.synchronize()?;
    let runs = timing.runs as f64;
    let run_ms = start.elapsed().as_secs_f64() * 1e3 / runs;
    let mut rows = take_profile();
    rows.sort_by(|a, b| b.2.seconds.total_cmp(&a.2.seconds));
    let mut ops = serde_json::Map::new();
    let mut charged = 0.0;
    eprintln!(
        "{:<40} {:>10} {:>8} {:>7}",
        "op (phase)", "ms/run", "calls", "share"
    );
    for (name, phase, t) in &rows {
        let ms = t.seconds * 1e3 / runs;
        charged += ms;
        let label = format!("{name} ({phase:?})").to_lowercase();
        eprintln!(
            "{label:<40} {ms:>10.3} {:>8.1} {:>6.1}%",
            t.calls as f64 / runs,
            100.0 * ms / run_ms
        );
        ops.insert(
            label,
            serde_json::json!({"ms": ms, "calls": t.calls as f64 / runs}),
        );
    }
    let other = (run_ms - charged).max(0.0);
    eprintln!(
        "{:<40} {other:>10.3} {:>8} {:>6.1}%",
        "other (candle ops, gaps)",
        "",
        100.0 * other / run_ms
    );
    eprintln!("{:<40} {run_ms:>10.3}", "profiled run");
    Ok(Some(serde_json::json!({
        "ops": ops,
        "other_ms": other,
        "profiled_run_ms": run_ms,
    })))
}

fn median(times: &[f64]) -> f64 {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let n = t.len();
    if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2.0
    }
}

/// The process's peak resident memory in MiB (Linux), or None elsewhere.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The network to run: the file's tensors as they are, or a style or mix of a model file.
fn infer_network(
    weights: &Path,
    choice: Option<fauve::StyleChoice>,
    timing: &Timing,
    device: &Device,
) -> Result<TransformerNet> {
    if let Some(choice) = choice {
        let model = fauve::ModelFile::load(weights, device)?;
        return Ok(model.network_for(&choice, device, timing.precision()?)?);
    }
    // Constant weights, as fauve-infer loads them: with trainable variables every forward would
    // build an autograd graph and keep each activation alive until the output is dropped.
    let tensors = candle_core::safetensors::load(weights, device)
        .with_context(|| format!("cannot load weights {}", weights.display()))?;
    Ok(TransformerNet::from_tensors(
        tensors,
        timing.precision()?,
        device,
    )?)
}

fn infer(
    weights: &Path,
    input: &Path,
    output: Option<&Path>,
    choice: Option<fauve::StyleChoice>,
    timing: &Timing,
) -> Result<()> {
    let device = fauve::parse_device(&timing.device)?;
    let net = infer_network(weights, choice, timing, &device)?;
    let x = tensor_from(input, "input", &device)?;
    let mut y = None;
    let times = time_runs(&device, timing, || {
        y = Some(net.forward(&x)?);
        Ok(())
    })?;
    let profile = profile_runs(&device, timing, || {
        net.forward(&x)?;
        Ok(())
    })?;
    if let (Some(path), Some(y)) = (output, y) {
        let y = y.to_device(&Device::Cpu)?;
        candle_core::safetensors::save(&std::collections::HashMap::from([("output", y)]), path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let report = serde_json::json!({
        "bench": "infer",
        "device": timing.device,
        "precision": timing.precision,
        "tf32": timing.tf32,
        "winograd": !timing.no_winograd,
        "shape": x.dims(),
        "median_ms": median(&times),
        "times_ms": times,
        "peak_rss_mib": peak_rss_mib(),
        "profile": profile,
    });
    println!("{report}");
    Ok(())
}

/// The loss network and its settings for a train-step run.
struct LossChoice {
    vgg: PathBuf,
    content_layer: Option<String>,
    style_layers: Option<Vec<String>>,
    weights: (Option<f64>, Option<f64>),
}

/// fauve-train's loss on the batch file's `style` image, with the given layers and weights or
/// fauve-train's defaults for the VGG file's network.
fn perceptual_loss(
    choice: &LossChoice,
    batch: &Path,
    device: &Device,
    timing: &Timing,
) -> Result<PerceptualLoss> {
    let vgg = Vgg::load(&choice.vgg, device, timing.precision()?)?;
    let net = vgg.info().net;
    let (cw, sw) = default_weights(net, vgg.preprocess(), StyleBalance::None);
    let (content, style) = default_layers(net);
    let content = vgg.layer(choice.content_layer.as_deref().unwrap_or(content))?;
    let names = choice
        .style_layers
        .clone()
        .unwrap_or_else(|| style.iter().map(|l| l.to_string()).collect());
    let style_layers = names
        .iter()
        .map(|l| vgg.layer(l))
        .collect::<Result<Vec<_>, _>>()?;
    let image = tensor_from(batch, "style", device)?;
    PerceptualLoss::new(
        vgg,
        &image,
        LossWeights {
            content: choice.weights.0.unwrap_or(cw),
            style: choice.weights.1.unwrap_or(sw),
            tv: 0.0,
            content_layer: content,
            style_layer_weights: vec![1.0; style_layers.len()],
            style_layers,
            // Raw terms, as the PyTorch reference sums them.
            balance: StyleBalance::None,
        },
    )
}

/// The JSON line of a train-step run: median time, throughput, the first losses and where the
/// time went.
fn train_step_report(
    timing: &Timing,
    dims: &[usize],
    times: &[f64],
    losses: &[[f64; 3]],
    phases: &[Vec<f64>; 4],
) -> serde_json::Value {
    let ms = median(times);
    serde_json::json!({
        "bench": "train_step",
        "device": timing.device,
        "precision": timing.precision,
        "tf32": timing.tf32,
        "winograd": !timing.no_winograd,
        "shape": dims,
        "median_ms": ms,
        "images_per_s": dims[0] as f64 / (ms / 1e3),
        "times_ms": times,
        "losses_content_style_total": losses,
        "phases_median_ms": {
            "transform_forward": median(&phases[0]),
            "vgg_and_loss_forward": median(&phases[1]),
            "backward": median(&phases[2]),
            "adam": median(&phases[3]),
        },
        "peak_rss_mib": peak_rss_mib(),
    })
}

fn train_step(
    weights: &Path,
    batch: &Path,
    lr: f64,
    choice: LossChoice,
    timing: &Timing,
) -> Result<()> {
    let device = fauve::parse_device(&timing.device)?;
    let x = tensor_from(batch, "content", &device)?;
    let loss = perceptual_loss(&choice, batch, &device, timing)?;
    let (varmap, net) = network(weights, &device, timing.precision()?)?;
    let vars: Vec<_> = varmap
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("variable map poisoned"))?
        .clone()
        .into_iter()
        .collect();
    let mut adam = Adam::new(vars, lr)?;
    let mut losses: Vec<[f64; 3]> = Vec::new();
    // Milliseconds of each phase per step (warm-up included; medians reported), to see where a
    // step's time goes without a profiler. On CUDA each phase is synchronised first.
    let mut phases: [Vec<f64>; 4] = Default::default();
    let times = time_runs(&device, timing, || {
        let mut clock = Instant::now();
        let mut lap = |i: usize| -> Result<()> {
            device.synchronize()?;
            phases[i].push(clock.elapsed().as_secs_f64() * 1e3);
            clock = Instant::now();
            Ok(())
        };
        let y = net.forward(&x)?;
        lap(0)?;
        let terms = loss.compute(&y, &x)?;
        lap(1)?;
        let grads = terms.total.backward()?;
        lap(2)?;
        adam.step(&grads)?;
        lap(3)?;
        if losses.len() < 2 {
            let v = |t: &Tensor| -> Result<f64> { Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?) };
            losses.push([v(&terms.content)?, v(&terms.style)?, v(&terms.total)?]);
        }
        Ok(())
    })?;
    let profile = profile_runs(&device, timing, || {
        let terms = loss.compute(&net.forward(&x)?, &x)?;
        adam.step(&terms.total.backward()?)?;
        Ok(())
    })?;
    let mut report = train_step_report(timing, x.dims(), &times, &losses, &phases);
    report["profile"] = serde_json::json!(profile);
    println!("{report}");
    Ok(())
}
