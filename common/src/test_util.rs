//! Helpers shared by the unit tests.

use candle_core::backprop::GradStore;
use candle_core::Tensor;

/// Relative L2 error ‖a − b‖ / ‖b‖, computed in f64 whatever the tensors' dtype.
pub fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    let sq = |t: Tensor| -> f64 {
        let s = t
            .sqr()
            .and_then(|t| t.sum_all())
            .and_then(|t| t.to_scalar::<f64>());
        s.expect("same-shaped tensors")
    };
    let cpu = candle_core::Device::Cpu;
    let f64_cpu = |t: &Tensor| {
        t.to_device(&cpu)
            .and_then(|t| t.to_dtype(candle_core::DType::F64))
            .expect("copy")
    };
    let (a, b) = (f64_cpu(a), f64_cpu(b));
    let diff = (&a - &b).expect("same shapes");
    (sq(diff) / sq(b)).sqrt()
}

/// The device the unit tests run on: `FAUVE_TEST_DEVICE` (any name [`crate::parse_device`]
/// takes; scripts/gpu-check.sh sets `cuda` to run the custom-op checks on a GPU), else the CPU.
pub fn test_device() -> candle_core::Device {
    let name = std::env::var("FAUVE_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    crate::parse_device(&name).expect("FAUVE_TEST_DEVICE names a device this build can open")
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
