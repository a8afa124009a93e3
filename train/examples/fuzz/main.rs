//! A fuzzer on stable Rust for every public loader: model files, VGG files, images in every
//! format the build reads, training configs, parquet shards and checkpoints. Seed inputs are
//! mutated byte by byte (see `mutate.rs`), and model files also come generated from scratch
//! (random headers over the real tensor names). Each input must end in Ok or a typed error:
//! a panic is a finding (the input is kept in fuzz-findings/), and so is any allocation above
//! 1 GiB or more than 1 GiB live at once (the process stops, naming the target's input file in
//! fuzz-findings/work/).
//!
//! `scripts/fuzz.sh MINUTES` runs it; here:
//! `cargo run --release -p fauve-train --example fuzz -- --minutes 6 [--targets model,image]`.

mod alloc;
mod generate;
mod mutate;
mod targets;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use rand::Rng;

use targets::Target;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Fuzz Fauve's loaders with mutated and generated inputs.
#[derive(Debug, Parser)]
struct Args {
    /// Minutes in all, shared equally by the targets.
    #[arg(long, default_value_t = 1.0)]
    minutes: f64,

    /// Targets, comma separated (model, vgg, image, config, shard, checkpoint). Default: all.
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,

    /// Seed of the mutations (a run is repeatable on one machine, up to timing).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Where findings and the inputs in flight go.
    #[arg(long, default_value = "fuzz-findings")]
    out: PathBuf,

    /// Feed this one input to the (one) target given, with the panic message shown: to
    /// reproduce a finding.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

/// What one target's run saw.
#[derive(Default)]
struct Tally {
    inputs: usize,
    accepted: usize,
    rejected: usize,
    panics: usize,
    peak_live: usize,
    largest: usize,
    reasons: HashMap<String, usize>,
}

/// A rejection message without paths and numbers, so that alike ones count together.
fn reason_of(e: &anyhow::Error) -> String {
    let text = fauve::report(e.as_ref());
    let text = text.split("\n\nhint:").next().unwrap_or("").to_string();
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|w| !w.contains('/'))
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                "N".into()
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ").chars().take(90).collect()
}

fn fuzz(target: Target, args: &Args, repo: &Path, budget: Duration) -> Result<Tally> {
    let work = args.out.join("work").join(target.name());
    std::fs::create_dir_all(&work)?;
    let seeds = target.seeds(repo, &work)?;
    let file = targets::input_path(target, &work);
    std::fs::create_dir_all(file.parent().context("no folder")?)?;
    alloc::set_input_path(&file);
    let mut mutator = mutate::Mutator::new(args.seed);
    let mut tally = Tally::default();
    let start = Instant::now();
    while start.elapsed() < budget {
        let pick = mutator.rng().random_range(0..seeds.len());
        let other = &seeds[mutator.rng().random_range(0..seeds.len())];
        let input = if target == Target::Model && mutator.rng().random_bool(0.2) {
            generate::model_file(mutator.rng())
        } else {
            let focus = target.focus(&seeds[pick]);
            mutator.mutate(&seeds[pick], other, &focus)
        };
        std::fs::write(&file, &input)?;
        let baseline = alloc::reset();
        let outcome = std::panic::catch_unwind(|| target.run(&input, &file));
        let (peak, largest) = alloc::measured(baseline);
        tally.inputs += 1;
        tally.peak_live = tally.peak_live.max(peak);
        if largest > tally.largest {
            // The input behind the largest allocation so far, to see what drove it.
            tally.largest = largest;
            std::fs::write(
                args.out.join(format!("{}-largest.bin", target.name())),
                &input,
            )?;
        }
        match outcome {
            Ok(Ok(())) => tally.accepted += 1,
            Ok(Err(e)) => {
                tally.rejected += 1;
                *tally.reasons.entry(reason_of(&e)).or_default() += 1;
            }
            Err(_) => {
                tally.panics += 1;
                let kept = args
                    .out
                    .join(format!("{}-panic-{}.bin", target.name(), tally.panics));
                std::fs::write(&kept, &input)?;
                eprintln!(
                    "FINDING: {} panicked; input kept as {}",
                    target.name(),
                    kept.display()
                );
            }
        }
    }
    Ok(tally)
}

fn report(target: Target, t: &Tally, seconds: f64) {
    println!(
        "{:<10} {:>8} inputs ({:.0}/s): {} accepted, {} rejected, {} panics; peak live {:.1} MB, largest allocation {:.1} MB",
        target.name(),
        t.inputs,
        t.inputs as f64 / seconds,
        t.accepted,
        t.rejected,
        t.panics,
        t.peak_live as f64 / 1e6,
        t.largest as f64 / 1e6
    );
    let mut reasons: Vec<_> = t.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    for (reason, n) in reasons.iter().take(6) {
        println!("    {n:>7}  {reason}");
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let chosen: Vec<Target> = if args.targets.is_empty() {
        targets::ALL.to_vec()
    } else {
        args.targets
            .iter()
            .map(|n| Target::parse(n).with_context(|| format!("unknown target `{n}`")))
            .collect::<Result<_>>()?
    };
    std::fs::create_dir_all(&args.out)?;
    // Configs name models/vgg16.safetensors and models/vgg19.safetensors: small ones here.
    let home = args.out.join("work").join("home");
    std::fs::create_dir_all(home.join("models"))?;
    for net in ["vgg16", "vgg19"] {
        std::fs::copy(
            repo.join(format!("tests/fixtures/{net}_tiny.safetensors")),
            home.join(format!("models/{net}.safetensors")),
        )?;
    }
    let repo = repo.canonicalize()?;
    let out = args.out.canonicalize()?;
    std::env::set_current_dir(&home)?;
    let args = Args { out, ..args };
    if let Some(input) = &args.replay {
        let [target] = chosen.as_slice() else {
            anyhow::bail!("--replay takes one --targets");
        };
        let bytes = std::fs::read(input)?;
        let file = targets::input_path(*target, &args.out.join("work").join("replay"));
        std::fs::create_dir_all(file.parent().context("no folder")?)?;
        std::fs::write(&file, &bytes)?;
        let outcome = target.run(&bytes, &file);
        println!(
            "{}: {:?}",
            target.name(),
            outcome.map_err(|e| fauve::report(e.as_ref()))
        );
        return Ok(());
    }
    // Panics are counted and their inputs kept; their messages would only flood the log.
    std::panic::set_hook(Box::new(|_| {}));
    let budget = Duration::from_secs_f64(args.minutes * 60.0 / chosen.len() as f64);
    let mut panics = 0;
    for target in chosen {
        let start = Instant::now();
        let tally = fuzz(target, &args, &repo, budget)?;
        report(target, &tally, start.elapsed().as_secs_f64());
        panics += tally.panics;
    }
    if panics > 0 {
        anyhow::bail!("{panics} input(s) panicked; see {}", args.out.display());
    }
    Ok(())
}
