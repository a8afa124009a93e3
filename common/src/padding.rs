//! Reflection padding, which candle lacks: the transform network pads every conv this way so
//! that borders carry image content instead of zeros (no dark frames in the output).

use candle_core::{Device, Tensor};

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

fn pad_dim(xs: &Tensor, dim: usize, pad: usize, device: &Device) -> Result<Tensor> {
    let len = xs.dim(dim)?;
    if pad >= len {
        return Err(Error::Invalid(format!(
            "reflection padding of {pad} needs a side longer than {pad} pixels, got {len}"
        )));
    }
    let idx = Tensor::new(reflected_indices(len, pad), device)?;
    Ok(xs.index_select(&idx, dim)?)
}

/// Pads the last two dimensions of a `[B, C, H, W]` tensor by `pad` on every side, mirroring
/// across the edges. Differentiable; fails when a side is not longer than `pad`.
pub fn reflection_pad2d(xs: &Tensor, pad: usize) -> Result<Tensor> {
    if pad == 0 {
        return Ok(xs.clone());
    }
    let device = xs.device().clone();
    let xs = pad_dim(xs, 3, pad, &device)?;
    pad_dim(&xs, 2, pad, &device)
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
    fn too_small_input_is_an_error_not_a_panic() {
        let xs = Tensor::zeros((1, 1, 3, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let err = reflection_pad2d(&xs, 4).unwrap_err().to_string();
        assert!(err.contains("longer than 4"), "{err}");
    }
}
