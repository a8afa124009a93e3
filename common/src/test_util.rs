//! Helpers for numerical tests, written once: the library's unit tests use this module, and
//! the `fauve-tests` crate compiles the same file (`#[path]`) for the end-to-end tests.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor};

/// Relative L2 error ‖a − b‖ / ‖b‖ of two same-shaped tensors, in f64 whatever their dtype and
/// device; 0 when both are zero.
pub fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let values = |t: &Tensor| {
        t.flatten_all()
            .and_then(|t| t.to_dtype(DType::F64))
            .and_then(|t| t.to_vec1::<f64>())
            .expect("tensor values")
    };
    let (a, b) = (values(a), values(b));
    let (mut num, mut den) = (0f64, 0f64);
    for (x, y) in a.iter().zip(&b) {
        num += (x - y).powi(2);
        den += y.powi(2);
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

/// The device the tests run on: `FAUVE_TEST_DEVICE` (any name `fauve::parse_device` takes;
/// scripts/gpu-check.sh sets `cuda`), else the CPU.
pub fn test_device() -> Device {
    let name = std::env::var("FAUVE_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    fauve::parse_device(&name).expect("FAUVE_TEST_DEVICE names a device this build can open")
}

/// The gradients of `ours` and of `reference` (same shape, dtype and device) under one random
/// projection of the output as the loss, so that every output element's gradient differs.
pub fn projected_grads(
    ours: &Tensor,
    reference: &Tensor,
) -> candle_core::Result<(GradStore, GradStore)> {
    let r = Tensor::randn(0f32, 1., reference.dims(), reference.device())?
        .to_dtype(reference.dtype())?;
    Ok((
        (ours * &r)?.sum_all()?.backward()?,
        (reference * &r)?.sum_all()?.backward()?,
    ))
}

/// Asserts that each named variable has a gradient in both stores or in neither, and that the
/// two agree within `tolerance` (relative L2); `what` names the case in the message.
pub fn assert_grads_close(
    ours: &GradStore,
    reference: &GradStore,
    vars: &[(&str, &Tensor)],
    tolerance: f64,
    what: &str,
) {
    for (name, var) in vars {
        match (ours.get(var), reference.get(var)) {
            (Some(a), Some(e)) => {
                assert_eq!(a.dims(), e.dims(), "{what}: {name} gradient shape");
                let err = rel_l2(a, e);
                assert!(err < tolerance, "{what}: {name} gradient: {err:e}");
            }
            (None, None) => {}
            (a, _) => panic!(
                "{what}: {name} gradient {} in ours only",
                if a.is_some() { "present" } else { "absent" }
            ),
        }
    }
}
