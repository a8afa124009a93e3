//! Times each 3x3 stride-1 conv of the transform network and VGG (forward, at the sizes given)
//! with the CPU kernels' Winograd path on and off, side by side in one run; prints
//! milliseconds (median of 5) and the ratio, which is how `winograd::applies` was chosen.
//!
//! Usage: cargo run --release -p fauve --example conv_methods [SIDE...]   (default: 512)

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
    let sides: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sides = if sides.is_empty() { vec![512] } else { sides };
    let dev = Device::Cpu;
    println!("layer\tinput\tdirect ms\twinograd ms\twinograd/direct");
    for side in sides {
        // (name, cin, cout, input side, upsample, reflection padding)
        let layers = [
            ("johnson res", 128, 128, side / 4, 1, true),
            ("johnson deconv1", 128, 64, side / 4, 2, true),
            ("johnson deconv2", 64, 32, side / 2, 2, true),
            ("slim res", 64, 64, side / 4, 1, true),
            ("slim deconv1", 64, 32, side / 4, 2, true),
            ("slim deconv2", 32, 16, side / 2, 2, true),
            ("vgg conv1_2", 64, 64, side / 2, 1, false),
            ("vgg conv2_2", 128, 128, side / 4, 1, false),
            ("vgg conv3_3", 256, 256, side / 8, 1, false),
            ("vgg conv4_3", 512, 512, side / 16, 1, false),
        ];
        for (name, cin, cout, s, up, reflect) in layers {
            let x = Tensor::randn(0f32, 1., (1, cin, s, s), &dev)?;
            let w = Tensor::randn(0f32, 0.05, (cout, cin, 3, 3), &dev)?;
            let b = Tensor::zeros(cout, candle_core::DType::F32, &dev)?;
            let run = || {
                if reflect {
                    fauve::conv::conv2d_reflect_bias(&x, &w, &b, 1, 1, up)
                } else {
                    fauve::conv::conv2d_bias(&x, &w, &b, 1, 1, false)
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
