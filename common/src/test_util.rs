//! Helpers shared by the unit tests.

use candle_core::Tensor;

/// Relative L2 error ‖a − b‖ / ‖b‖.
pub fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    let sq = |t: Tensor| -> f64 {
        let s = t
            .sqr()
            .and_then(|t| t.sum_all())
            .and_then(|t| t.to_scalar::<f32>());
        s.expect("same-shaped f32 tensors") as f64
    };
    let cpu = candle_core::Device::Cpu;
    let (a, b) = (
        a.to_device(&cpu).expect("copy"),
        b.to_device(&cpu).expect("copy"),
    );
    let diff = (&a - &b).expect("same shapes");
    (sq(diff) / sq(b)).sqrt()
}

/// The device the unit tests run on: the CPU, or CUDA when `FAUVE_TEST_DEVICE=cuda` (how
/// scripts/gpu-check.sh runs the custom-op checks on a GPU).
pub fn test_device() -> candle_core::Device {
    match std::env::var("FAUVE_TEST_DEVICE").as_deref() {
        Ok("cuda") => candle_core::Device::new_cuda(0)
            .expect("FAUVE_TEST_DEVICE=cuda needs a CUDA build (--features cuda) and a GPU"),
        Ok("cpu") | Err(_) => candle_core::Device::Cpu,
        Ok(other) => panic!("FAUVE_TEST_DEVICE must be cpu or cuda, not {other:?}"),
    }
}
