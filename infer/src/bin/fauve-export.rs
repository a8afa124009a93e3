//! `fauve-export`: write a Fauve model as an ONNX file for other runtimes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

/// Export a Fauve style model to ONNX, to run it with onnxruntime, TensorRT, a browser or any
/// other ONNX runtime.
///
/// The graph (opset 13) is the transform network's forward pass with the model's weights: input
/// `input`, `[N, 3, H, W]` float RGB in 0..255 with any N, H and W; output `output`, RGB in
/// 0..255, not clamped, with H and W rounded up to a multiple of 4 (crop it to the input size
/// and clamp to 0..255 to get what fauve-infer writes).
///
/// Exit codes: 0 written, 1 the model could not be read or the file written, 2 a usage error.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Model file (.safetensors) written by fauve-train or scripts/convert-pytorch-checkpoint.py.
    #[arg(value_name = "MODEL")]
    model: PathBuf,

    /// Output file. Default: the model's path with the extension .onnx.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn run(args: &Args) -> Result<PathBuf> {
    let model = fauve::ModelFile::load(&args.model, &fauve::candle_core::Device::Cpu)
        .with_context(|| format!("cannot load the model {}", args.model.display()))?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.model.with_extension("onnx"));
    if fauve::same_file(&out, &args.model) {
        anyhow::bail!(
            "the output {} would overwrite the model; give another --output",
            out.display()
        );
    }
    fauve::save_onnx(&model, &out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(out) => {
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "wrote {} ({:.1} MB, ONNX opset {})",
                out.display(),
                size as f64 / 1e6,
                fauve::ONNX_OPSET
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", fauve::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
