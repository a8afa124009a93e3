//! 2x2 max pooling with stride 2 whose backward sends each gradient to the pixel that won.
//!
//! candle 0.11's own max-pool backward multiplies the output gradient by the *fraction* of
//! winners in the window (a quarter for one winner) instead of dividing by their number, so
//! every gradient through VGG16's pools came out 4x too small per pool (found by the PyTorch
//! gradient parity test). Here: on the CPU in f32 a kernel ([`crate::cpu::max_pool`]) that
//! records the winner (the first of equal maxima, as PyTorch does); elsewhere candle's forward
//! with a corrected backward that shares the gradient among tied maxima.

use std::sync::Arc;

use candle_core::{Result, Tensor};

use crate::custom_grad::with_backward;

/// 2x2 max pooling with stride 2 of `[B, C, H, W]` (odd last rows and columns dropped),
/// differentiable with PyTorch's gradient.
pub fn max_pool2x2(xs: &Tensor) -> Result<Tensor> {
    let _timing = crate::profile::scope("max_pool2x2", crate::profile::Phase::Forward, xs.device());
    let (_, _, h, w) = xs.dims4()?;
    crate::cpu::max_pool::check_poolable(h, w)?;
    if crate::ops::cpu_kernels_apply(&[xs]) {
        crate::cpu::max_pool::max_pool2x2(xs)
    } else {
        composed(xs)
    }
}

/// candle's forward; backward: the gradient divided among each window's maxima.
fn composed(xs: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = xs.dims4()?;
    let (x, y) = (xs.detach(), xs.detach().max_pool2d(2)?);
    if !xs.track_op() {
        return Ok(y);
    }
    let out = y.clone();
    let backward = Arc::new(move |g: &Tensor| {
        let (h2, w2) = (h / 2 * 2, w / 2 * 2);
        let x = x.narrow(2, 0, h2)?.narrow(3, 0, w2)?;
        let mask = x.eq(&y.upsample_nearest2d(h2, w2)?)?.to_dtype(x.dtype())?;
        let winners = (mask.avg_pool2d(2)? * 4.0)?;
        let dx = (g / winners)?.upsample_nearest2d(h2, w2)?.mul(&mask)?;
        let dx = dx
            .pad_with_zeros(2, 0, h - h2)?
            .pad_with_zeros(3, 0, w - w2)?;
        Ok((Some(dx), None))
    });
    with_backward("fauve-max-pool", xs, xs, out, backward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::rel_l2;
    use candle_core::{DType, Device, Var};

    /// Forward as candle's; backward, without ties, the output gradient on each window's
    /// maximum and zero elsewhere (candle's own backward gives a quarter of that).
    #[test]
    fn gradient_lands_on_each_maximum() -> anyhow::Result<()> {
        let x = Var::randn(0f32, 1., (2, 3, 10, 8), &Device::Cpu)?;
        let y = max_pool2x2(x.as_tensor())?;
        assert_eq!(rel_l2(&y, &x.as_tensor().max_pool2d(2)?), 0.0);
        let r = Tensor::randn(0f32, 1., (2, 3, 5, 4), &Device::Cpu)?;
        let g = (&y * &r)?.sum_all()?.backward()?;
        let winners = x
            .as_tensor()
            .eq(&y.upsample_nearest2d(10, 8)?)?
            .to_dtype(DType::F32)?;
        let expected = (r.upsample_nearest2d(10, 8)? * winners)?;
        assert_eq!(rel_l2(g.get(x.as_tensor()).unwrap(), &expected), 0.0);
        Ok(())
    }

    /// An odd last row and column are dropped forward and get no gradient backward.
    #[test]
    fn odd_sizes_pool_like_their_even_crop() -> anyhow::Result<()> {
        let x = Var::randn(0f32, 1., (1, 2, 7, 9), &Device::Cpu)?;
        let crop = x
            .as_tensor()
            .narrow(2, 0, 6)?
            .narrow(3, 0, 8)?
            .contiguous()?;
        let ours = max_pool2x2(x.as_tensor())?;
        assert_eq!(rel_l2(&ours, &max_pool2x2(&crop)?), 0.0);
        let g = ours.sum_all()?.backward()?;
        let g = g.get(x.as_tensor()).unwrap();
        let ones = g
            .narrow(2, 0, 6)?
            .narrow(3, 0, 8)?
            .sum_all()?
            .to_scalar::<f32>()?;
        assert_eq!(ones, 2. * 3. * 4.); // one winner per window
        assert_eq!(g.sum_all()?.to_scalar::<f32>()?, ones);
        Ok(())
    }

    /// The device-generic path against the CPU kernel (no ties in random data), on an odd size.
    #[test]
    fn composed_path_matches_the_kernel() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        let x = Var::randn(0f32, 1., (2, 3, 9, 7), &dev)?;
        let r = Tensor::randn(0f32, 1., (2, 3, 4, 3), &dev)?;
        let cpu_x = Var::from_tensor(&x.as_tensor().to_device(&Device::Cpu)?)?;
        let ours = composed(x.as_tensor())?;
        let kernel = crate::cpu::max_pool::max_pool2x2(cpu_x.as_tensor())?;
        assert_eq!(rel_l2(&ours, &kernel), 0.0);
        let g1 = (ours * &r)?.sum_all()?.backward()?;
        let g2 = (kernel * r.to_device(&Device::Cpu)?)?
            .sum_all()?
            .backward()?;
        let err = rel_l2(
            g1.get(x.as_tensor()).unwrap(),
            g2.get(cpu_x.as_tensor()).unwrap(),
        );
        assert!(err < 1e-6, "{err:e}");
        Ok(())
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_maximum() -> anyhow::Result<()> {
        let x = Var::new(&[[[[0f32, 0.], [0., 0.]]]], &Device::Cpu)?;
        let grads = max_pool2x2(x.as_tensor())?.sum_all()?.backward()?;
        let g = grads
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()?
            .to_vec1::<f32>()?;
        assert_eq!(g, [1., 0., 0., 0.]);
        Ok(())
    }
}
