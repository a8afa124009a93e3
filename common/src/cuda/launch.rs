//! What every kernel launch needs: the module's PTX, the kernel, and contiguous f32 views of
//! the operands' CUDA storage.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaFunction, CudaSlice, CudaView, LaunchConfig};
use candle_core::{CudaDevice, CudaStorage, Layout, Result};

/// The instance-norm kernels (common/kernels/instance_norm.cu), compiled to PTX by build.rs.
const INSTANCE_NORM_PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/instance_norm.ptx"));

/// Threads per block of the reduction kernels (`THREADS` in the .cu file).
pub(crate) const REDUCE_THREADS: u32 = 256;

/// Kernel `name` of the instance-norm module, loaded once per device.
pub(crate) fn instance_norm_func(dev: &CudaDevice, name: &str) -> Result<CudaFunction> {
    Ok(dev
        .get_or_load_custom_func(name, "fauve_instance_norm", INSTANCE_NORM_PTX)?
        .into_cuda_function())
}

/// The f32 elements of a contiguous operand.
pub(crate) fn f32_view<'a>(
    storage: &'a CudaStorage,
    layout: &Layout,
    what: &str,
) -> Result<CudaView<'a, f32>> {
    if !layout.is_contiguous() {
        candle_core::bail!("{what}: the CUDA kernel needs a contiguous tensor");
    }
    let start = layout.start_offset();
    let slice = storage.as_cuda_slice::<f32>()?;
    Ok(slice.slice(start..start + layout.shape().elem_count()))
}

/// A new, uninitialised f32 buffer of `len` elements on the operand's device.
pub(crate) fn alloc_f32(storage: &CudaStorage, len: usize) -> Result<CudaSlice<f32>> {
    // SAFETY: every caller's kernel writes each element before it is read.
    unsafe { storage.device().alloc::<f32>(len) }
}

/// A grid-stride launch over `total` elements: enough blocks to fill the GPU, at most one
/// per 256 elements.
pub(crate) fn elementwise_config(total: usize) -> LaunchConfig {
    let blocks = total.div_ceil(256).clamp(1, 65_535) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// How many blocks reduce one (batch, channel) plane of `hw` elements side by side: about one
/// per 4096 elements, at most 256, so that a few large planes still fill the GPU.
pub(crate) fn chunks_per_plane(hw: usize) -> usize {
    hw.div_ceil(4096).clamp(1, 256)
}

/// Wraps a kernel's output as candle storage on `storage`'s device.
pub(crate) fn wrap(storage: &CudaStorage, slice: CudaSlice<f32>) -> CudaStorage {
    CudaStorage::wrap_cuda_slice(slice, storage.device().clone())
}
