//! Times each conv of the transform network (full and slim) and the 3x3 convs of VGG (forward,
//! at the sizes given) with the CPU kernels' Winograd path on and off, side by side in one run;
//! prints milliseconds (median of 5) and the ratio, which is how `winograd::applies` was
//! chosen. Convs it does not apply to (9x9, strided) time the same path twice.
//!
//! With `dx` or `dw`, times the forward and backward of `Σ conv·r` instead, with only the input
//! or only the kernel tracked (the input or the kernel gradient; `r` is fixed noise).
//!
//! Usage: cargo run --release -p fauve --example conv_methods [SIDE...] [bBATCH] [dx|dw]
//! [LAYER-NAME-PART]   (default: 512, batch 1, forward, every layer)

use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};

/// Median of 5 runs (after one warm-up) of the milliseconds `f` reports.
fn median_ms(mut f: impl FnMut() -> candle_core::Result<f64>) -> candle_core::Result<f64> {
    f()?;
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(f()?);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[2])
}

fn main() -> candle_core::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sides: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let batch = args
        .iter()
        .find_map(|a| a.strip_prefix('b').and_then(|b| b.parse().ok()))
        .unwrap_or(1);
    let grad = args.iter().find(|a| *a == "dx" || *a == "dw");
    let only = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('b') && Some(*a) != grad);
    let sides = if sides.is_empty() { vec![512] } else { sides };
    let dev = Device::Cpu;
    println!("layer\tinput (batch {batch})\tdirect ms\twinograd ms\twinograd/direct");
    for side in sides {
        // (name, cin, cout, input side, kernel, stride, upsample, reflection padding)
        let mut layers = Vec::new();
        for (arch, [c1, c2, c3]) in [("johnson", [32, 64, 128]), ("slim", [16, 32, 64])] {
            layers.extend([
                (format!("{arch} conv1"), 3, c1, side, 9, 1, 1, true),
                (format!("{arch} conv2"), c1, c2, side, 3, 2, 1, true),
                (format!("{arch} conv3"), c2, c3, side / 2, 3, 2, 1, true),
                (format!("{arch} res"), c3, c3, side / 4, 3, 1, 1, true),
                (format!("{arch} deconv1"), c3, c2, side / 4, 3, 1, 2, true),
                (format!("{arch} deconv2"), c2, c1, side / 2, 3, 1, 2, true),
                (format!("{arch} deconv3"), c1, 3, side, 9, 1, 1, true),
            ]);
        }
        layers.push(("vgg conv1_1".into(), 3, 64, side / 2, 3, 1, 1, false));
        for (name, c, s) in [
            ("1_2", 64, 2),
            ("2_2", 128, 4),
            ("3_3", 256, 8),
            ("4_3", 512, 16),
        ] {
            layers.push((format!("vgg conv{name}"), c, c, side / s, 3, 1, 1, false));
        }
        for (name, cin, cout, s, k, stride, up, reflect) in layers {
            if only.is_some_and(|o| !name.contains(o.as_str())) {
                continue;
            }
            let x = Var::randn(0f32, 1., (batch, cin, s, s), &dev)?;
            let w = Var::randn(0f32, 0.05, (cout, cin, k, k), &dev)?;
            let (x, w) = match grad.map(String::as_str) {
                Some("dx") => (x.as_tensor().clone(), w.as_detached_tensor()),
                Some(_) => (x.as_detached_tensor(), w.as_tensor().clone()),
                None => (x.as_detached_tensor(), w.as_detached_tensor()),
            };
            let b = Tensor::zeros(cout, candle_core::DType::F32, &dev)?;
            // VGG's kernels are constants, kept transformed between calls as `Vgg` does.
            let frozen = Arc::new(fauve::conv::FrozenKernel::default());
            let forward = || {
                if reflect {
                    fauve::conv::conv2d_reflect_bias(&x, &w, &b, k / 2, stride, up)
                } else {
                    fauve::conv::conv2d_bias_frozen(&x, &w, &b, 1, stride, false, Some(&frozen))
                }
            };
            let r = forward()?.randn_like(0., 1.)?;
            // The forward's wall time, or the conv's own backward from the profiler (the
            // loss's candle ops excluded).
            let run = || {
                let start = Instant::now();
                let y = forward()?;
                if grad.is_none() {
                    return Ok(start.elapsed().as_secs_f64() * 1e3);
                }
                fauve::profile::set_profiling(true);
                (y * &r)?.sum_all()?.backward()?;
                fauve::profile::set_profiling(false);
                let backward = fauve::profile::take_profile()
                    .into_iter()
                    .filter(|(_, phase, _)| *phase == fauve::profile::Phase::Backward)
                    .map(|(_, _, t)| t.seconds)
                    .sum::<f64>();
                Ok(backward * 1e3)
            };
            fauve::conv::set_winograd(false);
            let direct = median_ms(run)?;
            fauve::conv::set_winograd(true);
            let wino = median_ms(run)?;
            println!(
                "{name}\t{cin}x{s}x{s}\t{direct:.2}\t{wino:.2}\t{:.2}",
                wino / direct
            );
        }
    }
    Ok(())
}
