//! Borrowing the f32 data of a CPU tensor, for the project's own CPU kernels.

use candle_core::{CpuStorage, Result, Storage, Tensor};

/// Runs `f` on the contiguous f32 values of `t` (made contiguous first if needed); fails for
/// other dtypes and devices.
pub fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(CpuStorage::F32(values)) = &*storage else {
        candle_core::bail!("expected an f32 tensor on the CPU, got {:?}", t.dtype());
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("tensor is not contiguous after contiguous()");
    };
    Ok(f(&values[start..end]))
}
