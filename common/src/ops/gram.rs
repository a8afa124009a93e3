//! Gram matrix `φ·φᵀ / n` of feature maps with its closed-form backward,
//! `dφ = (dG + dGᵀ)·φ / n`: one batched product. f32 on the CPU runs [`crate::cpu::gram`].
//!
//! Through candle's autograd the same product costs two products backward (one per side of
//! `φ·φᵀ`), a transpose copy, and a zero-filled gradient buffer plus an addition over the
//! whole feature map for each of the four graph nodes between the product and the features
//! (reshape, transpose, both sides of the product).

use std::sync::Arc;

use candle_core::{Result, Tensor};

use crate::custom_grad::with_backward;

/// `φ·φᵀ / n` of `[B, C, N]` features, `[B, C, C]`, differentiable with respect to `φ`.
pub fn gram(flat: &Tensor, n: f64) -> Result<Tensor> {
    if crate::ops::cpu_kernels_apply(&[flat]) {
        return crate::cpu::gram::gram(flat, n);
    }
    let phi = flat.detach().contiguous()?;
    let value = (phi.matmul(&phi.t()?)? / n)?;
    if !flat.track_op() {
        return Ok(value);
    }
    let backward = Arc::new(move |dg: &Tensor| {
        let sym = ((dg + dg.t()?)? / n)?;
        Ok((Some(sym.matmul(&phi)?), None))
    });
    with_backward("fauve-gram", flat, flat, value, backward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::rel_l2;
    use candle_core::{DType, Device, Var};

    /// Value and gradient as candle's autograd computes them through `matmul` (f64, so that
    /// only the order of additions differs).
    #[test]
    fn matches_candle_autograd() -> anyhow::Result<()> {
        let dev = Device::Cpu;
        let x = Var::randn(0f64, 1., (2, 5, 37), &dev)?;
        let r = Tensor::randn(0f64, 1., (2, 5, 5), &dev)?;
        let ours = gram(x.as_tensor(), 185.0)?;
        let theirs = (x.as_tensor().matmul(&x.as_tensor().t()?)? / 185.0)?;
        assert!(rel_l2(&ours, &theirs) < 1e-14);
        let g_ours = (&ours * &r)?.sum_all()?.backward()?;
        let g_theirs = (&theirs * &r)?.sum_all()?.backward()?;
        let (a, b) = (g_ours.get(&x).unwrap(), g_theirs.get(&x).unwrap());
        assert!(rel_l2(a, b) < 1e-14, "{}", rel_l2(a, b));
        Ok(())
    }

    /// The CPU kernel (f32, blocks mirrored across the diagonal) against candle's autograd in
    /// f64, with more channels than one block.
    #[test]
    fn the_cpu_kernel_matches_candle_autograd() -> anyhow::Result<()> {
        let dev = Device::Cpu;
        let x64 = Var::randn(0f64, 1., (3, 70, 45), &dev)?;
        let x32 = Var::from_tensor(&x64.as_tensor().to_dtype(DType::F32)?)?;
        let r = Tensor::randn(0f64, 1., (3, 70, 70), &dev)?;
        let ours = gram(x32.as_tensor(), 3150.0)?;
        let theirs = (x64.as_tensor().matmul(&x64.as_tensor().t()?)? / 3150.0)?;
        assert!(rel_l2(&ours.to_dtype(DType::F64)?, &theirs) < 1e-6);
        assert_eq!(rel_l2(&ours, &ours.t()?), 0.0, "not symmetric");
        let g_ours = (ours * r.to_dtype(DType::F32)?)?.sum_all()?.backward()?;
        let g_theirs = (&theirs * &r)?.sum_all()?.backward()?;
        let (a, b) = (g_ours.get(&x32).unwrap(), g_theirs.get(&x64).unwrap());
        assert!(rel_l2(&a.to_dtype(DType::F64)?, b) < 1e-6);
        Ok(())
    }

    #[test]
    fn untracked_features_build_no_graph() -> anyhow::Result<()> {
        let x = Tensor::randn(0f32, 1., (1, 3, 8), &Device::Cpu)?;
        assert!(!gram(&x, 24.0)?.track_op());
        Ok(())
    }
}
