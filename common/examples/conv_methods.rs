//! Times each conv of the transform network (full and slim) and the 3x3 convs of VGG (forward,
//! at the sizes given) with the CPU kernels' Winograd path on and off, side by side in one run;
//! prints milliseconds (median of 5) and the ratio, which is how `winograd::applies` was
//! chosen. Convs it does not apply to (9x9, strided) time the same path twice.
//!
//! Usage: cargo run --release -p fauve --example conv_methods [SIDE...] [bBATCH]
//! [LAYER-NAME-PART]   (default: 512, batch 1, every layer)

use std::time::Instant;

use candle_core::{Device, Tensor};

fn median_ms(mut f: impl FnMut() -> candle_core::Result<Tensor>) -> candle_core::Result<f64> {
    f()?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
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
    let only = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('b'));
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
            let x = Tensor::randn(0f32, 1., (batch, cin, s, s), &dev)?;
            let w = Tensor::randn(0f32, 0.05, (cout, cin, k, k), &dev)?;
            let b = Tensor::zeros(cout, candle_core::DType::F32, &dev)?;
            let run = || {
                if reflect {
                    fauve::conv::conv2d_reflect_bias(&x, &w, &b, k / 2, stride, up)
                } else {
                    fauve::conv::conv2d_bias(&x, &w, &b, 1, stride, false)
                }
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
