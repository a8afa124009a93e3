//! The four instance-norm passes of [`crate::norm_passes`] as CUDA kernels
//! (common/kernels/instance_norm.cu), each one candle custom op without a gradient of its own:
//! the composition supplies the backward.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};

use crate::cuda::launch::{
    alloc_f32, chunks_per_plane, elementwise_config, f32_view, instance_norm_func, wrap,
    REDUCE_THREADS,
};
use crate::norm_passes::NormPasses;

/// The kernels, for [`crate::norm_passes::instance_norm_by_passes`].
pub(crate) struct CudaPasses;

impl NormPasses for CudaPasses {
    fn stats(&self, xs: &Tensor, eps: f64) -> Result<Tensor> {
        xs.apply_op1_no_bwd(&Stats { eps: eps as f32 })
    }

    fn normalize(&self, xs: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        xs.apply_op2_no_bwd(params, &Normalize { relu })
    }

    fn grad_sums(&self, xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        // [B, C, chunks, 2] partial sums, added up here (a few hundred values per plane).
        xs.apply_op3_no_bwd(dy, params, &GradSums { relu })?.sum(2)
    }

    fn grad_input(&self, xs: &Tensor, dy: &Tensor, params: &Tensor, relu: bool) -> Result<Tensor> {
        xs.apply_op3_no_bwd(dy, params, &GradInput { relu })
    }
}

/// `[B, C, H, W]` of a layout, as (planes, H·W).
fn planes(layout: &Layout) -> Result<(usize, usize)> {
    let (b, c, h, w) = layout.shape().dims4()?;
    Ok((b * c, h * w))
}

/// The input, output-gradient and parameter views of a gradient pass, the gradient checked to
/// have the input's shape.
fn gradient_operands<'a>(
    name: &str,
    (s, l): (&'a CudaStorage, &Layout),
    (gs, gl): (&'a CudaStorage, &Layout),
    (ps, pl): (&'a CudaStorage, &Layout),
) -> Result<[CudaView<'a, f32>; 3]> {
    if gl.shape() != l.shape() {
        candle_core::bail!(
            "{name}: gradient shape {:?} differs from {:?}",
            gl.shape(),
            l.shape()
        );
    }
    Ok([
        f32_view(s, l, name)?,
        f32_view(gs, gl, name)?,
        f32_view(ps, pl, name)?,
    ])
}

fn cpu_refused(name: &str) -> Result<(CpuStorage, Shape)> {
    candle_core::bail!("{name} is a CUDA kernel; the CPU has its own (crate::cpu)")
}

/// Per-plane mean and `1/σ`: moments per chunk, then merged per plane.
struct Stats {
    eps: f32,
}

impl CustomOp1 for Stats {
    fn name(&self) -> &'static str {
        "fauve-cuda-in-stats"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cpu_refused(self.name())
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (b, c, _, _) = l.shape().dims4()?;
        let (n_planes, hw) = planes(l)?;
        let chunks = chunks_per_plane(hw);
        let x = f32_view(s, l, self.name())?;
        let mut partial = alloc_f32(s, n_planes * chunks * 3)?;
        let mut stats = alloc_f32(s, n_planes * 2)?;
        let dev = s.device();
        let moments = instance_norm_func(dev, "fauve_in_moments")?;
        let (hw_arg, chunks_arg) = (hw as i64, chunks as i32);
        let stream = s.device().cuda_stream();
        let mut launch = stream.launch_builder(&moments);
        launch
            .arg(&x)
            .arg(&mut partial)
            .arg(&hw_arg)
            .arg(&chunks_arg);
        let cfg = LaunchConfig {
            grid_dim: (n_planes as u32, chunks as u32, 1),
            block_dim: (REDUCE_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the kernel reads `hw` elements per plane of `x` and writes 3 values per
        // (plane, chunk) of `partial`, both sized for that.
        unsafe { launch.launch(cfg) }.w()?;
        let merge = instance_norm_func(dev, "fauve_in_stats")?;
        let planes_arg = n_planes as i32;
        let stream = s.device().cuda_stream();
        let mut launch = stream.launch_builder(&merge);
        launch
            .arg(&partial)
            .arg(&mut stats)
            .arg(&planes_arg)
            .arg(&chunks_arg)
            .arg(&self.eps);
        let cfg = LaunchConfig {
            grid_dim: (n_planes.div_ceil(128) as u32, 1, 1),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: one thread per plane reads its chunks' moments and writes its 2 statistics.
        unsafe { launch.launch(cfg) }.w()?;
        Ok((wrap(s, stats), Shape::from((b, c, 2))))
    }
}

/// `γ·x̂ + β` (then ReLU) from `[B, C, 4]` parameters.
struct Normalize {
    relu: bool,
}

impl CustomOp2 for Normalize {
    fn name(&self) -> &'static str {
        "fauve-cuda-in-forward"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused(self.name())
    }

    fn cuda_fwd(
        &self,
        s: &CudaStorage,
        l: &Layout,
        ps: &CudaStorage,
        pl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (_, hw) = planes(l)?;
        let total = l.shape().elem_count();
        let x = f32_view(s, l, self.name())?;
        let p = f32_view(ps, pl, self.name())?;
        let mut y = alloc_f32(s, total)?;
        let func = instance_norm_func(s.device(), "fauve_in_forward")?;
        let (hw_arg, total_arg, relu) = (hw as i64, total as i64, i32::from(self.relu));
        let stream = s.device().cuda_stream();
        let mut launch = stream.launch_builder(&func);
        launch
            .arg(&x)
            .arg(&p)
            .arg(&mut y)
            .arg(&hw_arg)
            .arg(&total_arg)
            .arg(&relu);
        // SAFETY: elementwise over `total` elements of `x` and `y`; 4 parameters per plane.
        unsafe { launch.launch(elementwise_config(total)) }.w()?;
        Ok((wrap(s, y), l.shape().clone()))
    }
}

/// Per-chunk `Σ g` and `Σ g·x̂`, `[B, C, chunks, 2]`.
struct GradSums {
    relu: bool,
}

impl CustomOp3 for GradSums {
    fn name(&self) -> &'static str {
        "fauve-cuda-in-grad-sums"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused(self.name())
    }

    fn cuda_fwd(
        &self,
        s: &CudaStorage,
        l: &Layout,
        gs: &CudaStorage,
        gl: &Layout,
        ps: &CudaStorage,
        pl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (b, c, _, _) = l.shape().dims4()?;
        let (n_planes, hw) = planes(l)?;
        let chunks = chunks_per_plane(hw);
        let [x, dy, p] = gradient_operands(self.name(), (s, l), (gs, gl), (ps, pl))?;
        let mut partial = alloc_f32(s, n_planes * chunks * 2)?;
        let func = instance_norm_func(s.device(), "fauve_in_grad_sums")?;
        let (hw_arg, chunks_arg, relu) = (hw as i64, chunks as i32, i32::from(self.relu));
        let stream = s.device().cuda_stream();
        let mut launch = stream.launch_builder(&func);
        launch
            .arg(&x)
            .arg(&dy)
            .arg(&p)
            .arg(&mut partial)
            .arg(&hw_arg)
            .arg(&chunks_arg)
            .arg(&relu);
        let cfg = LaunchConfig {
            grid_dim: (n_planes as u32, chunks as u32, 1),
            block_dim: (REDUCE_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: reads `hw` elements per plane of `x` and `dy`, writes 2 values per chunk.
        unsafe { launch.launch(cfg) }.w()?;
        Ok((wrap(s, partial), Shape::from((b, c, chunks, 2))))
    }
}

/// The input gradient from `[B, C, 6]` parameters.
struct GradInput {
    relu: bool,
}

impl CustomOp3 for GradInput {
    fn name(&self) -> &'static str {
        "fauve-cuda-in-grad-input"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused(self.name())
    }

    fn cuda_fwd(
        &self,
        s: &CudaStorage,
        l: &Layout,
        gs: &CudaStorage,
        gl: &Layout,
        ps: &CudaStorage,
        pl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (_, hw) = planes(l)?;
        let total = l.shape().elem_count();
        let [x, dy, p] = gradient_operands(self.name(), (s, l), (gs, gl), (ps, pl))?;
        let mut dx = alloc_f32(s, total)?;
        let func = instance_norm_func(s.device(), "fauve_in_grad_input")?;
        let (hw_arg, total_arg, relu) = (hw as i64, total as i64, i32::from(self.relu));
        let stream = s.device().cuda_stream();
        let mut launch = stream.launch_builder(&func);
        launch
            .arg(&x)
            .arg(&dy)
            .arg(&p)
            .arg(&mut dx)
            .arg(&hw_arg)
            .arg(&total_arg)
            .arg(&relu);
        // SAFETY: elementwise over `total` elements; 6 parameters per plane.
        unsafe { launch.launch(elementwise_config(total)) }.w()?;
        Ok((wrap(s, dx), l.shape().clone()))
    }
}
