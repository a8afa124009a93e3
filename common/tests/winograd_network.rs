//! Winograd F(2x2, 3x3) against im2col + GEMM where the CPU kernels pick Winograd: the
//! transform network's output at 260x260 (its residual convs see 65x65, the upsampling convs
//! 130x130 and 260x260), and each kind of 3x3 conv's input and kernel gradients (the input
//! gradient is the adjoint conv, itself run by Winograd; the kernel gradient has Winograd's own,
//! `dU[ξ] = Σ dM[ξ]·V[ξ]ᵀ`). Within 1e-5 relative. Its own test
//! binary, because the switch is process-wide.
//!
//! The network's own parameter gradients are not compared: with random weights they move by
//! 1e-3 relative when the input moves by 1e-6 (instance norm cancels nearly all of them), so
//! any change of rounding shows there at that size.

use std::sync::Mutex;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use fauve::{Architecture, Precision, TransformerNet};

/// The numerical-test helpers the unit tests and `fauve-tests` share.
#[path = "../src/test_util.rs"]
#[allow(dead_code)]
mod test_util;
use test_util::rel_l2;

/// Held while a test flips the process-wide switch, so that the tests of this binary, which run
/// on parallel threads, do not flip it under each other.
static SWITCH: Mutex<()> = Mutex::new(());

/// `f()` with Winograd on, then off; the relative L2 distance of each pair of results.
fn both_ways(f: impl Fn() -> anyhow::Result<Vec<Tensor>>) -> anyhow::Result<Vec<f64>> {
    let _held = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    fauve::conv::set_winograd(true);
    let winograd = f()?;
    fauve::conv::set_winograd(false);
    let im2col = f();
    fauve::conv::set_winograd(true);
    Ok(winograd
        .iter()
        .zip(&im2col?)
        .map(|(a, b)| rel_l2(a, b))
        .collect())
}

#[test]
fn the_network_gives_the_same_output_both_ways() -> anyhow::Result<()> {
    for arch in Architecture::ALL {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = TransformerNet::with_architecture(arch, Precision::F32, vb)?;
        let x = Tensor::rand(0f32, 255., (1, 3, 260, 260), &Device::Cpu)?;
        let err = both_ways(|| Ok(vec![net.forward(&x)?]))?[0];
        eprintln!("{arch} output: {err:.2e} relative L2");
        assert!(err < 1e-5 && err > 0.0, "{arch}: {err:e}");
    }
    Ok(())
}

#[test]
fn each_kind_of_3x3_conv_gives_the_same_gradients_both_ways() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    // (what, input channels, output channels, input side, upsampling, reflection padding)
    for (what, cin, cout, side, up, reflect) in [
        ("residual", 128, 128, 65, 1, true),
        ("upsampling", 64, 32, 66, 2, true),
        ("VGG", 64, 64, 70, 1, false),
    ] {
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (2, cin, side, side), &dev)?)?;
        let w = Var::from_tensor(&Tensor::randn(0f32, 0.05, (cout, cin, 3, 3), &dev)?)?;
        let b = Tensor::zeros(cout, DType::F32, &dev)?;
        let side_out = side * up;
        let r = Tensor::randn(0f32, 1., (2, cout, side_out, side_out), &dev)?;
        let errs = both_ways(|| {
            let y = if reflect {
                fauve::conv::conv2d_reflect_bias(x.as_tensor(), w.as_tensor(), &b, 1, 1, up)?
            } else {
                fauve::conv::conv2d_bias(x.as_tensor(), w.as_tensor(), &b, 1, 1, false)?
            };
            // A linear loss: its gradients are the adjoint and kernel-gradient products of r.
            let grads = (&y * &r)?.sum_all()?.backward()?;
            let dx = grads.get(x.as_tensor()).expect("input gradient").clone();
            let dw = grads.get(w.as_tensor()).expect("kernel gradient").clone();
            Ok(vec![y, dx, dw])
        })?;
        eprintln!("{what}: output, input gradient, kernel gradient: {errs:?}");
        for e in &errs {
            assert!(*e < 1e-5, "{what}: {errs:?}");
        }
        assert!(
            errs.iter().all(|e| *e > 0.0),
            "{what}: the same path both ways"
        );
    }
    Ok(())
}
