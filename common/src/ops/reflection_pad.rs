//! Reflection padding, which candle lacks: the transform network pads every conv this way so
//! that borders carry image content instead of zeros (no dark frames in the output).

use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::custom_grad::with_backward;
use crate::error::{Error, Result};

/// Source indices for reflecting `len` positions by `pad` on each side, as PyTorch's
/// `ReflectionPad2d` does (the edge pixel itself is not repeated).
fn reflected_indices(len: usize, pad: usize) -> Vec<u32> {
    let last = len - 1;
    (0..len + 2 * pad)
        .map(|i| {
            let j = i as isize - pad as isize;
            let k = if j < 0 {
                -j as usize
            } else if j as usize > last {
                2 * last - j as usize
            } else {
                j as usize
            };
            k as u32
        })
        .collect()
}

fn too_short(pad: usize, len: usize) -> Error {
    Error::Invalid(format!(
        "reflection padding of {pad} needs a side longer than {pad} pixels, got {len}"
    ))
}

fn pad_dim(xs: &Tensor, dim: usize, pad: usize, device: &Device) -> Result<Tensor> {
    let len = xs.dim(dim)?;
    if pad >= len {
        return Err(too_short(pad, len));
    }
    let idx = Tensor::new(reflected_indices(len, pad), device)?;
    Ok(xs.index_select(&idx, dim)?)
}

/// The gradient of reflection padding along `dim`: the centre, plus each mirrored border
/// flipped back onto the pixels it copied (1..=pad from each edge).
fn unpad_dim(grad: &Tensor, dim: usize, pad: usize) -> candle_core::Result<Tensor> {
    let len = grad.dim(dim)? - 2 * pad;
    let centre = grad.narrow(dim, pad, len)?;
    let head = grad.narrow(dim, 0, pad)?.contiguous()?.flip(&[dim])?;
    let tail = grad
        .narrow(dim, pad + len, pad)?
        .contiguous()?
        .flip(&[dim])?;
    let head = head.pad_with_zeros(dim, 1, len - 1 - pad)?;
    let tail = tail.pad_with_zeros(dim, len - 1 - pad, 1)?;
    (centre + head)? + tail
}

/// Pads the last two dimensions of a `[B, C, H, W]` tensor by `pad` on every side, mirroring
/// across the edges. Differentiable (with a closed-form backward: candle's own, through
/// `index_select`, scatters element by element); fails when a side is not longer than `pad`.
pub fn reflection_pad2d(xs: &Tensor, pad: usize) -> Result<Tensor> {
    let _timing = crate::profile::scope(
        "reflection_pad2d",
        crate::profile::Phase::Forward,
        xs.device(),
    );
    if pad == 0 {
        return Ok(xs.clone());
    }
    if crate::ops::cpu_kernels_apply(&[xs]) {
        let (_, _, h, w) = xs.dims4()?;
        for len in [h, w] {
            if pad >= len {
                return Err(too_short(pad, len));
            }
        }
        let (rows, cols) = (reflected_indices(h, pad), reflected_indices(w, pad));
        return Ok(crate::cpu::gather::gather_planes(xs, rows, cols)?);
    }
    composed(xs, pad)
}

/// Reflection padding from candle ops (any device and dtype), with the closed-form backward.
fn composed(xs: &Tensor, pad: usize) -> Result<Tensor> {
    let device = xs.device().clone();
    let padded = pad_dim(&xs.detach(), 3, pad, &device)?;
    let padded = pad_dim(&padded, 2, pad, &device)?;
    let backward = Arc::new(move |g: &Tensor| {
        let g = unpad_dim(&unpad_dim(g, 2, pad)?, 3, pad)?;
        Ok((Some(g), None))
    });
    Ok(with_backward(
        "fauve-reflection-pad",
        xs,
        xs,
        padded,
        backward,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_mirror_without_repeating_the_edge() {
        assert_eq!(reflected_indices(4, 2), vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }

    #[test]
    fn pads_a_small_tensor_like_pytorch() -> anyhow::Result<()> {
        // torch.nn.ReflectionPad2d(1)(torch.arange(6.).reshape(1, 1, 2, 3))
        let xs = Tensor::arange(0f32, 6., &Device::Cpu)?.reshape((1, 1, 2, 3))?;
        let ys = reflection_pad2d(&xs, 1)?.flatten_all()?.to_vec1::<f32>()?;
        let expected = [
            4., 3., 4., 5., 4., //
            1., 0., 1., 2., 1., //
            4., 3., 4., 5., 4., //
            1., 0., 1., 2., 1.,
        ];
        assert_eq!(ys, expected);
        Ok(())
    }

    #[test]
    fn closed_form_backward_matches_index_select_backward() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        let x = candle_core::Var::randn(0f32, 1., (2, 3, 9, 7), &dev)?;
        // The device's path (a plane gather on the CPU) and the candle-op path used elsewhere.
        for ours in [
            reflection_pad2d(x.as_tensor(), 4)?,
            composed(x.as_tensor(), 4)?,
        ] {
            let reference = pad_dim(&pad_dim(x.as_tensor(), 3, 4, &dev)?, 2, 4, &dev)?;
            let (a, b) = (
                ours.flatten_all()?.to_vec1::<f32>()?,
                reference.flatten_all()?.to_vec1::<f32>()?,
            );
            assert_eq!(a, b);
            let (g1, g2) = crate::test_util::projected_grads(&ours, &reference)?;
            let (g1, g2) = (
                g1.get(x.as_tensor()).unwrap(),
                g2.get(x.as_tensor()).unwrap(),
            );
            let diff = (g1 - g2)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-5, "max difference {diff}");
        }
        Ok(())
    }

    #[test]
    fn too_small_input_is_an_error_not_a_panic() {
        let xs = Tensor::zeros((1, 1, 3, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let err = reflection_pad2d(&xs, 4).unwrap_err().to_string();
        assert!(err.contains("longer than 4"), "{err}");
    }
}
