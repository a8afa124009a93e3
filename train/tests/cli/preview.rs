//! `fauve-train preview`: the Gatys optimisation lowers the same loss training uses, returns the
//! image whose loss it reports, stops cleanly when interrupted, and the command writes one
//! image (or one grid) the size of the photo.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::Device;
use fauve::image::DynamicImage;
use fauve::{Precision, Vgg};
use fauve_tests::{fixture, test_photo};
use fauve_train::config::StyleBalance;
use fauve_train::perceptual::{LossWeights, PerceptualLoss};
use fauve_train::preview::{optimise, LossValues};

use super::{setup, text, FAUVE_TRAIN};

fn tiny_loss() -> PerceptualLoss {
    tiny_loss_with(vec![1.0; 4])
}

fn tiny_loss_with(style_layer_weights: Vec<f64>) -> PerceptualLoss {
    tiny_loss_balanced(style_layer_weights, StyleBalance::None)
}

fn tiny_vgg() -> Vgg {
    Vgg::load(
        &fixture("vgg16_tiny.safetensors"),
        &Device::Cpu,
        Precision::F32,
    )
    .unwrap()
}

fn painting() -> candle_core::Tensor {
    fauve::image_to_tensor(&DynamicImage::ImageRgb8(test_photo(30, 26)), &Device::Cpu)
        .unwrap()
        .flip(&[3])
        .unwrap()
}

fn tiny_loss_balanced(style_layer_weights: Vec<f64>, balance: StyleBalance) -> PerceptualLoss {
    let weights = LossWeights {
        content: 1.0,
        style: 1e3,
        tv: 0.0,
        // relu2_2; relu1_2, relu2_2, relu3_3, relu4_3 (conv positions in VGG16).
        content_layer: 3,
        style_layers: vec![1, 3, 6, 9],
        style_layer_weights,
        balance,
    };
    PerceptualLoss::new(tiny_vgg(), &painting(), weights).unwrap()
}

fn photo() -> candle_core::Tensor {
    fauve::image_to_tensor(&DynamicImage::ImageRgb8(test_photo(28, 24)), &Device::Cpu).unwrap()
}

fn values(loss: &PerceptualLoss, y: &candle_core::Tensor, x: &candle_core::Tensor) -> LossValues {
    LossValues::of(&loss.compute(y, x).unwrap()).unwrap()
}

#[test]
fn optimise_lowers_the_training_loss_and_returns_the_image_it_reports() {
    let (loss, x) = (tiny_loss(), photo());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let never = AtomicBool::new(false);
    let out = optimise(
        &loss,
        &x,
        15,
        move |i, v| log.lock().unwrap().push((i, v.total)),
        &never,
    )
    .unwrap();
    // The start is the photo itself, scored by the very loss training computes.
    let start = values(&loss, &x, &x);
    assert!((out.start.total - start.total).abs() <= 1e-6 * start.total);
    assert_eq!(out.start.content, 0.0);
    // The returned image is the one whose loss is reported, and it is much lower.
    let end = values(&loss, &out.image, &x);
    assert!(
        (end.total - out.end.total).abs() <= 1e-4 * out.end.total,
        "reported {} but the image scores {}",
        out.end.total,
        end.total
    );
    assert!(
        out.end.total < 0.2 * out.start.total,
        "15 L-BFGS iterations took the loss only from {} to {}",
        out.start.total,
        out.end.total
    );
    assert!(out.end.content > 0.0 && out.end.style < out.start.style);
    assert_eq!(out.iterations, 15);
    assert!(out.evaluations >= 15);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
    assert!(!out.interrupted);
    assert_eq!(out.image.dims(), x.dims());
}

#[test]
fn an_interrupt_stops_the_optimisation_with_the_best_image_so_far() {
    let (loss, x) = (tiny_loss(), photo());
    let flag = Arc::new(AtomicBool::new(false));
    let setter = flag.clone();
    let out = optimise(
        &loss,
        &x,
        50,
        move |i, _| {
            if i == 3 {
                setter.store(true, Ordering::SeqCst)
            }
        },
        &flag,
    )
    .unwrap();
    assert!(
        out.interrupted,
        "not interrupted after {} iterations",
        out.iterations
    );
    assert!(
        (3..=4).contains(&out.iterations),
        "{} iterations",
        out.iterations
    );
    let end = values(&loss, &out.image, &x);
    assert!((end.total - out.end.total).abs() <= 1e-4 * out.end.total);
    assert!(out.end.total < out.start.total);
}

/// `fauve-train preview PHOTO` with the tiny VGG16, the setup's painting and 3 iterations,
/// then `extra`.
fn preview_command(
    s: &super::Setup,
    photo: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let vgg = fixture("vgg16_tiny.safetensors");
    std::process::Command::new(FAUVE_TRAIN)
        .arg("preview")
        .arg(photo)
        .args(["--vgg", vgg.to_str().unwrap()])
        .args(["--style-image", s.style.to_str().unwrap()])
        .args(["--device", "cpu", "--iterations", "3"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn preview_writes_the_photo_size_and_a_grid_for_weight_lists() {
    let s = setup(1);
    let photo = s.dir.path().join("photo.png");
    test_photo(36, 30).save(&photo).unwrap();
    let run = |extra: &[&str]| preview_command(&s, &photo, extra);
    let one = s.dir.path().join("one.png");
    let o = run(&["-o", one.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("start: loss") && text(&o).contains("end:   loss"));
    let img = fauve::load_image(&one).unwrap();
    assert_eq!((img.width(), img.height()), (36, 30));

    let grid = s.dir.path().join("grid.jpg");
    let o = run(&[
        "-o",
        grid.to_str().unwrap(),
        "--style-weight",
        "10,1000",
        "--size",
        "24",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let img = fauve::load_image(&grid).unwrap();
    // The photo at 24x20, then one column per style weight, 4 px apart; one row.
    assert_eq!((img.width(), img.height()), (3 * 24 + 2 * 4, 20));
    assert!(text(&o).contains("columns of style weight 10, 1000"));

    for (args, message) in [
        (
            vec!["--iterations", "0"],
            "invalid value '0' for '--iterations <N>'",
        ),
        (vec!["--style-weight", "1,x"], "weights are numbers >= 0"),
        (
            vec!["--no-such-key", "1"],
            "unexpected argument '--no-such-key'",
        ),
    ] {
        let mut all = vec!["-o", one.to_str().unwrap()];
        all.extend(args);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(message), "{}", text(&o));
    }
}

#[test]
fn per_layer_style_weights_scale_each_layers_term() {
    let x = photo();
    let y = x.flip(&[2]).unwrap();
    let style = |w: Vec<f64>| values(&tiny_loss_with(w), &y, &x).style;
    let all = style(vec![1.0; 4]);
    let first = style(vec![1.0, 0.0, 0.0, 0.0]);
    let rest = style(vec![0.0, 1.0, 1.0, 1.0]);
    assert!(first > 0.0 && rest > 0.0, "{first} {rest}");
    assert!(
        (first + rest - all).abs() <= 1e-5 * all,
        "{first} + {rest} != {all}"
    );
    let tripled = style(vec![3.0, 1.0, 1.0, 1.0]);
    assert!((tripled - (all + 2.0 * first)).abs() <= 1e-5 * tripled);
}

#[test]
fn gram_balance_brings_every_style_layer_to_the_first_layers_scale() {
    // The painting's mean squared Gram entry per layer, computed here from its VGG features.
    let feats = tiny_vgg().features(&painting()).unwrap();
    let scale: Vec<f64> = feats
        .taps
        .iter()
        .map(|t| {
            let g = fauve::loss::gram_matrix(t).unwrap();
            let v: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / v.len() as f64
        })
        .collect();
    let expected: Vec<f64> = scale.iter().map(|s| scale[0] / s).collect();
    assert!(
        expected[1..].iter().any(|&f| (f - 1.0).abs() > 0.1),
        "the layers' scales differ: {expected:?}"
    );

    let balanced = tiny_loss_balanced(vec![1.0; 4], StyleBalance::Gram);
    for (got, want) in balanced.style_layer_factors().iter().zip(&expected) {
        assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
    }
    // Balanced terms are exactly the raw terms with those factors, and the user's per-layer
    // weights multiply on top.
    let x = photo();
    let y = x.flip(&[2]).unwrap();
    let with = |w: Vec<f64>, b| values(&tiny_loss_balanced(w, b), &y, &x).style;
    let got = with(vec![1.0; 4], StyleBalance::Gram);
    let want = with(expected.clone(), StyleBalance::None);
    assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
    let weighted = vec![2.0, 0.0, 1.0, 0.5];
    let got = with(weighted.clone(), StyleBalance::Gram);
    let product: Vec<f64> = expected.iter().zip(&weighted).map(|(e, w)| e * w).collect();
    let want = with(product, StyleBalance::None);
    assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
}

/// A grid cell whose loss overflows (style weight 1e36: the photo itself scores inf) fails
/// alone: the grid is still written with the finished cells, the failed one shows the photo,
/// and the exit code is 1. An output naming the photo (as given or through a hard link) or a
/// size past the bound is refused before any work.
#[test]
fn a_failing_cell_keeps_the_others_and_inputs_are_never_overwritten() {
    let s = setup(1);
    let photo = s.dir.path().join("photo.png");
    test_photo(36, 30).save(&photo).unwrap();
    let run = |extra: &[&str]| preview_command(&s, &photo, extra);
    let grid = s.dir.path().join("grid.png");
    let o = run(&["-o", grid.to_str().unwrap(), "--style-weight", "10,1e36"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("the loss became inf"), "{}", text(&o));
    assert!(
        text(&o).contains("1 of 2 previews stopped early"),
        "{}",
        text(&o)
    );
    let img = fauve::load_image(&grid).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (3 * 36 + 2 * 4, 30));
    // The failed cell (third column) is the photo; the finished one is not.
    let cell = |i: u32| fauve::image::imageops::crop_imm(&img, i * 40, 0, 36, 30).to_image();
    assert_eq!(cell(2), cell(0));
    assert_ne!(cell(1), cell(0));

    let before = std::fs::read(&photo).unwrap();
    let hard = s.dir.path().join("hard.png");
    std::fs::hard_link(&photo, &hard).unwrap();
    for out in [&photo, &hard] {
        let o = run(&["-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains("would overwrite the photo"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(std::fs::read(&photo).unwrap(), before);
    let o = run(&["-o", grid.to_str().unwrap(), "--size", "2048"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("2048"), "{}", text(&o));
}
