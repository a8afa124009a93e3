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
    let diff = (a - b).expect("same shapes");
    (sq(diff) / sq(b.clone())).sqrt()
}
