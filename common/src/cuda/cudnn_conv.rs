//! 2-D convolutions on cuDNN, called directly (feature `cudnn`).
//!
//! candle's cuDNN path runs cuDNN's heuristic and allocates a zero-filled workspace on every
//! call, leaves the math type unset, and falls back to a one-thread-per-output kernel for
//! non-contiguous kernels, which is every kernel gradient. Here each of forward, backward-data
//! and backward-filter is called only when needed, and for each shape the algorithm is chosen
//! once by timing (`cudnnFind*`), among deterministic algorithms only, so that a resumed run
//! stays bit-identical; one grow-only workspace per device serves every call.
//!
//! f32 convolutions use plain FMA arithmetic unless [`crate::allow_tf32`] lets them use TF32
//! tensor cores; bf16 ones use tensor cores and accumulate in f32.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::profile::Phase;
use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::cudnn::{result as cudnn, sys, CudnnError};
use candle_core::cuda_backend::cudarc::driver::{
    CudaSlice, CudaStream, DevicePtr, DevicePtrMut, SyncOnDrop,
};
use candle_core::cuda_backend::{DeviceId, WrapErr};
use candle_core::{
    CpuStorage, CudaDevice, CudaStorage, CustomOp2, DType, Layout, Result, Shape, Tensor,
};

/// Whether cuDNN computes a conv with these operands: both on a CUDA device, f32 or bf16 (f64
/// takes candle's path, which the CPU tests also check).
pub(crate) fn applies(input: &Tensor, kernel: &Tensor) -> bool {
    input.device().is_cuda()
        && input.dtype() == kernel.dtype()
        && matches!(input.dtype(), DType::F32 | DType::BF16)
}

/// `conv2d(input, kernel)` with zero padding and stride, differentiable in whichever of
/// `input` and `kernel` are tracked (nothing is computed for the others).
pub(crate) fn conv2d(
    input: &Tensor,
    kernel: &Tensor,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let tf32 = crate::precision::tf32_allowed();
    conv2d_math(input, kernel, padding, stride, tf32)
}

/// [`conv2d`] with TF32 allowed or not for this call and its backward, whatever the
/// process-wide switch says.
fn conv2d_math(
    input: &Tensor,
    kernel: &Tensor,
    padding: usize,
    stride: usize,
    tf32: bool,
) -> Result<Tensor> {
    let op = Forward {
        geometry: Geometry {
            padding,
            stride,
            tf32,
        },
        need_input: input.track_op(),
        need_kernel: kernel.track_op(),
    };
    let (x, w) = (input.contiguous()?, kernel.contiguous()?);
    if op.need_input || op.need_kernel {
        x.apply_op2(&w, op)
    } else {
        x.apply_op2_no_bwd(&w, &op)
    }
}

/// Padding and stride of one conv (no dilation, one group), and whether f32 may use TF32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Geometry {
    padding: usize,
    stride: usize,
    tf32: bool,
}

impl Geometry {
    /// Output `[B, Cout, Ho, Wo]` of input `[B, Cin, H, W]` and kernel `[Cout, Cin, k, k]`.
    fn output_dims(&self, x: [usize; 4], w: [usize; 4]) -> Result<[usize; 4]> {
        let (p, s) = (self.padding, self.stride);
        if x[2] + 2 * p < w[2] || x[3] + 2 * p < w[3] || x[1] != w[1] {
            candle_core::bail!("cudnn conv: input {x:?} does not fit kernel {w:?} (padding {p})");
        }
        Ok([
            x[0],
            w[0],
            (x[2] + 2 * p - w[2]) / s + 1,
            (x[3] + 2 * p - w[3]) / s + 1,
        ])
    }
}

fn dims4(layout: &Layout) -> Result<[usize; 4]> {
    let (a, b, c, d) = layout.shape().dims4()?;
    Ok([a, b, c, d])
}

fn cpu_refused(name: &str) -> Result<(CpuStorage, Shape)> {
    candle_core::bail!("{name} runs on cuDNN only")
}

/// The forward conv, whose backward calls the other two passes.
struct Forward {
    geometry: Geometry,
    need_input: bool,
    need_kernel: bool,
}

impl CustomOp2 for Forward {
    fn name(&self) -> &'static str {
        "fauve-cudnn-conv2d"
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
        xs: &CudaStorage,
        xl: &Layout,
        ws: &CudaStorage,
        wl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (x, w) = (dims4(xl)?, dims4(wl)?);
        let y = self.geometry.output_dims(x, w)?;
        let shapes = Shapes { x, w, y };
        let out = run(
            Pass::Forward,
            self.geometry,
            shapes,
            xs.device(),
            (xs, xl),
            (ws, wl),
        )?;
        Ok((out, Shape::from(y.to_vec())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let _timing = crate::profile::scope(self.name(), Phase::Backward, grad.device());
        let grad = grad.contiguous()?;
        let (x, w) = (x.detach(), w.detach());
        let dx = if self.need_input {
            let op = BackwardData {
                geometry: self.geometry,
                input: dims_of(&x)?,
            };
            Some(grad.apply_op2_no_bwd(&w, &op)?)
        } else {
            None
        };
        let dw = if self.need_kernel {
            let op = BackwardFilter {
                geometry: self.geometry,
                kernel: dims_of(&w)?,
            };
            Some(x.apply_op2_no_bwd(&grad, &op)?)
        } else {
            None
        };
        Ok((dx, dw))
    }
}

fn dims_of(t: &Tensor) -> Result<[usize; 4]> {
    let (a, b, c, d) = t.dims4()?;
    Ok([a, b, c, d])
}

/// The input gradient from the output gradient and the kernel.
struct BackwardData {
    geometry: Geometry,
    input: [usize; 4],
}

impl CustomOp2 for BackwardData {
    fn name(&self) -> &'static str {
        "fauve-cudnn-conv2d-backward-data"
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
        gs: &CudaStorage,
        gl: &Layout,
        ws: &CudaStorage,
        wl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (x, w) = (self.input, dims4(wl)?);
        let y = self.geometry.output_dims(x, w)?;
        if dims4(gl)? != y {
            candle_core::bail!("{}: gradient {:?}, expected {y:?}", self.name(), gl.dims());
        }
        let shapes = Shapes { x, w, y };
        let out = run(
            Pass::BackwardData,
            self.geometry,
            shapes,
            gs.device(),
            (gs, gl),
            (ws, wl),
        )?;
        Ok((out, Shape::from(x.to_vec())))
    }
}

/// The kernel gradient from the input and the output gradient.
struct BackwardFilter {
    geometry: Geometry,
    kernel: [usize; 4],
}

impl CustomOp2 for BackwardFilter {
    fn name(&self) -> &'static str {
        "fauve-cudnn-conv2d-backward-filter"
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
        xs: &CudaStorage,
        xl: &Layout,
        gs: &CudaStorage,
        gl: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (x, w) = (dims4(xl)?, self.kernel);
        let y = self.geometry.output_dims(x, w)?;
        if dims4(gl)? != y {
            candle_core::bail!("{}: gradient {:?}, expected {y:?}", self.name(), gl.dims());
        }
        let shapes = Shapes { x, w, y };
        let out = run(
            Pass::BackwardFilter,
            self.geometry,
            shapes,
            xs.device(),
            (xs, xl),
            (gs, gl),
        )?;
        Ok((out, Shape::from(w.to_vec())))
    }
}

/// Which of cuDNN's three convolution calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pass {
    /// `y = conv(x, w)`; operands (x, w).
    Forward,
    /// `dx` from (dy, w).
    BackwardData,
    /// `dw` from (x, dy).
    BackwardFilter,
}

/// Input, kernel and output dims of one conv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Shapes {
    x: [usize; 4],
    w: [usize; 4],
    y: [usize; 4],
}

/// Everything an algorithm choice depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PlanKey {
    device: DeviceId,
    pass: Pass,
    geometry: Geometry,
    shapes: Shapes,
    bf16: bool,
}

/// The algorithm chosen for a key, the math type it was timed with, and its workspace.
#[derive(Debug, Clone, Copy)]
struct Plan {
    algo: Algo,
    math: sys::cudnnMathType_t,
    workspace: usize,
}

#[derive(Debug, Clone, Copy)]
enum Algo {
    Forward(sys::cudnnConvolutionFwdAlgo_t),
    Data(sys::cudnnConvolutionBwdDataAlgo_t),
    Filter(sys::cudnnConvolutionBwdFilterAlgo_t),
}

/// A cuDNN handle bound to candle's stream of one device.
struct Handle(sys::cudnnHandle_t);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by `create_handle` and dropped once.
        let _ = unsafe { cudnn::destroy_handle(self.0) };
    }
}

// cuDNN handles must not be shared between threads; training drives the GPU from one thread,
// so per-thread handles, plans and workspaces cost nothing.
thread_local! {
    static HANDLES: RefCell<HashMap<DeviceId, Handle>> = RefCell::new(HashMap::new());
    static PLANS: RefCell<HashMap<PlanKey, Plan>> = RefCell::new(HashMap::new());
    static WORKSPACES: RefCell<HashMap<DeviceId, CudaSlice<u8>>> = RefCell::new(HashMap::new());
}

fn wrap_cudnn(e: CudnnError) -> candle_core::Error {
    candle_core::Error::Msg(format!("cuDNN: {e:?}"))
}

fn handle(dev: &CudaDevice, stream: &CudaStream) -> Result<sys::cudnnHandle_t> {
    HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        if let Some(h) = handles.get(&dev.id()) {
            return Ok(h.0);
        }
        stream.context().bind_to_thread().w()?;
        let h = Handle(cudnn::create_handle().map_err(wrap_cudnn)?);
        // SAFETY: a live handle and candle's live stream of the same device.
        unsafe { cudnn::set_stream(h.0, stream.cu_stream() as *mut _) }.map_err(wrap_cudnn)?;
        let raw = h.0;
        handles.insert(dev.id(), h);
        Ok(raw)
    })
}

/// The descriptors of one conv; destroyed on drop.
struct Descriptors {
    x: sys::cudnnTensorDescriptor_t,
    w: sys::cudnnFilterDescriptor_t,
    conv: sys::cudnnConvolutionDescriptor_t,
    y: sys::cudnnTensorDescriptor_t,
}

impl Drop for Descriptors {
    fn drop(&mut self) {
        // SAFETY: each was created once by `Descriptors::new` and is destroyed once.
        unsafe {
            let _ = cudnn::destroy_tensor_descriptor(self.x);
            let _ = cudnn::destroy_filter_descriptor(self.w);
            let _ = cudnn::destroy_convolution_descriptor(self.conv);
            let _ = cudnn::destroy_tensor_descriptor(self.y);
        }
    }
}

fn c_dims(d: [usize; 4]) -> [i32; 4] {
    d.map(|v| v as i32)
}

impl Descriptors {
    fn new(
        geometry: Geometry,
        shapes: Shapes,
        bf16: bool,
        math: sys::cudnnMathType_t,
    ) -> Result<Self> {
        use sys::cudnnDataType_t::{CUDNN_DATA_BFLOAT16, CUDNN_DATA_FLOAT};
        use sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW;
        let data = if bf16 {
            CUDNN_DATA_BFLOAT16
        } else {
            CUDNN_DATA_FLOAT
        };
        let d = Descriptors {
            x: cudnn::create_tensor_descriptor().map_err(wrap_cudnn)?,
            w: cudnn::create_filter_descriptor().map_err(wrap_cudnn)?,
            conv: cudnn::create_convolution_descriptor().map_err(wrap_cudnn)?,
            y: cudnn::create_tensor_descriptor().map_err(wrap_cudnn)?,
        };
        let (p, s) = (geometry.padding as i32, geometry.stride as i32);
        // SAFETY: fresh descriptors, set once each.
        unsafe {
            cudnn::set_tensor4d_descriptor(d.x, CUDNN_TENSOR_NCHW, data, c_dims(shapes.x))
                .map_err(wrap_cudnn)?;
            cudnn::set_filter4d_descriptor(d.w, data, CUDNN_TENSOR_NCHW, c_dims(shapes.w))
                .map_err(wrap_cudnn)?;
            cudnn::set_tensor4d_descriptor(d.y, CUDNN_TENSOR_NCHW, data, c_dims(shapes.y))
                .map_err(wrap_cudnn)?;
            // Accumulation in f32 for both f32 and bf16 data.
            cudnn::set_convolution2d_descriptor(
                d.conv,
                p,
                p,
                s,
                s,
                1,
                1,
                sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                CUDNN_DATA_FLOAT,
            )
            .map_err(wrap_cudnn)?;
            cudnn::set_convolution_math_type(d.conv, math).map_err(wrap_cudnn)?;
        }
        Ok(d)
    }
}

/// The math type the algorithm search may use: FMA only for strict f32, tensor cores for bf16
/// and for f32 when TF32 is allowed.
fn search_math(bf16: bool, tf32: bool) -> sys::cudnnMathType_t {
    use sys::cudnnMathType_t::*;
    match (bf16, tf32) {
        (true, _) => CUDNN_TENSOR_OP_MATH,
        (false, true) => CUDNN_DEFAULT_MATH,
        (false, false) => CUDNN_FMA_MATH,
    }
}

const MAX_ALGOS: usize = 16;

/// Times every algorithm for the conv (cuDNN allocates what it needs) and keeps the fastest
/// deterministic one whose math type is allowed.
fn find_plan(h: sys::cudnnHandle_t, pass: Pass, d: &Descriptors, strict: bool) -> Result<Plan> {
    use sys::cudnnDeterminism_t::CUDNN_DETERMINISTIC;
    use sys::cudnnMathType_t::CUDNN_FMA_MATH;
    use sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS;
    let mut n = 0i32;
    let allowed = |math: sys::cudnnMathType_t| !strict || math == CUDNN_FMA_MATH;
    // The fastest (cuDNN sorts by time) of the results that ran, are deterministic and use an
    // allowed math type.
    macro_rules! fastest {
        ($perf:expr, $algo:path) => {
            $perf[..n.max(0) as usize]
                .iter()
                .find(|p| {
                    p.status == CUDNN_STATUS_SUCCESS
                        && p.determinism == CUDNN_DETERMINISTIC
                        && allowed(p.mathType)
                })
                .map(|p| Plan {
                    algo: $algo(p.algo),
                    math: p.mathType,
                    workspace: p.memory,
                })
        };
    }
    let count = MAX_ALGOS as i32;
    // SAFETY: live handle and descriptors; the result arrays hold MAX_ALGOS entries and cuDNN
    // writes at most that many.
    let chosen = unsafe {
        match pass {
            Pass::Forward => {
                let mut perf: [sys::cudnnConvolutionFwdAlgoPerf_t; MAX_ALGOS] = std::mem::zeroed();
                let p = perf.as_mut_ptr();
                sys::cudnnFindConvolutionForwardAlgorithm(
                    h, d.x, d.w, d.conv, d.y, count, &mut n, p,
                )
                .result()
                .map_err(wrap_cudnn)?;
                fastest!(perf, Algo::Forward)
            }
            Pass::BackwardData => {
                let mut perf: [sys::cudnnConvolutionBwdDataAlgoPerf_t; MAX_ALGOS] =
                    std::mem::zeroed();
                let p = perf.as_mut_ptr();
                sys::cudnnFindConvolutionBackwardDataAlgorithm(
                    h, d.w, d.y, d.conv, d.x, count, &mut n, p,
                )
                .result()
                .map_err(wrap_cudnn)?;
                fastest!(perf, Algo::Data)
            }
            Pass::BackwardFilter => {
                let mut perf: [sys::cudnnConvolutionBwdFilterAlgoPerf_t; MAX_ALGOS] =
                    std::mem::zeroed();
                let p = perf.as_mut_ptr();
                sys::cudnnFindConvolutionBackwardFilterAlgorithm(
                    h, d.x, d.y, d.conv, d.w, count, &mut n, p,
                )
                .result()
                .map_err(wrap_cudnn)?;
                fastest!(perf, Algo::Filter)
            }
        }
    };
    chosen.ok_or_else(|| {
        candle_core::Error::Msg(format!(
            "cuDNN has no deterministic {pass:?} algorithm for this conv (of {n} tried)"
        ))
    })
}

/// A device pointer to an operand's first element, and the guard that orders the stream after
/// its last write.
fn read_ptr<'a>(
    s: &'a CudaStorage,
    l: &Layout,
    stream: &'a CudaStream,
) -> Result<(u64, SyncOnDrop<'a>)> {
    if !l.is_contiguous() {
        candle_core::bail!("cudnn conv: operands must be contiguous");
    }
    let offset = (l.start_offset() * s.dtype().size_in_bytes()) as u64;
    let (ptr, guard) = match s.dtype() {
        DType::F32 => s.as_cuda_slice::<f32>()?.device_ptr(stream),
        DType::BF16 => s.as_cuda_slice::<half::bf16>()?.device_ptr(stream),
        other => candle_core::bail!("cudnn conv: unsupported dtype {other:?}"),
    };
    Ok((ptr + offset, guard))
}

/// A new output of `len` elements of `dtype` (every element is written by cuDNN, beta = 0).
fn alloc_out(dev: &CudaDevice, dtype: DType, len: usize) -> Result<CudaStorage> {
    // SAFETY: cuDNN writes the whole output before anything reads it.
    Ok(match dtype {
        DType::F32 => CudaStorage::wrap_cuda_slice(unsafe { dev.alloc::<f32>(len)? }, dev.clone()),
        DType::BF16 => {
            CudaStorage::wrap_cuda_slice(unsafe { dev.alloc::<half::bf16>(len)? }, dev.clone())
        }
        other => candle_core::bail!("cudnn conv: unsupported dtype {other:?}"),
    })
}

fn write_ptr<'a>(s: &'a mut CudaStorage, stream: &'a CudaStream) -> Result<(u64, SyncOnDrop<'a>)> {
    Ok(match s.dtype() {
        DType::F32 => s.as_cuda_slice_mut::<f32>()?.device_ptr_mut(stream),
        DType::BF16 => s.as_cuda_slice_mut::<half::bf16>()?.device_ptr_mut(stream),
        other => candle_core::bail!("cudnn conv: unsupported dtype {other:?}"),
    })
}

/// Runs one pass on operands `a` and `b` (see [`Pass`]) and returns its result.
fn run(
    pass: Pass,
    geometry: Geometry,
    shapes: Shapes,
    dev: &CudaDevice,
    a: (&CudaStorage, &Layout),
    b: (&CudaStorage, &Layout),
) -> Result<CudaStorage> {
    let dtype = a.0.dtype();
    if b.0.dtype() != dtype {
        candle_core::bail!(
            "cudnn conv: operands of dtypes {dtype:?} and {:?}",
            b.0.dtype()
        );
    }
    let stream: Arc<CudaStream> = dev.cuda_stream();
    let h = handle(dev, &stream)?;
    let bf16 = dtype == DType::BF16;
    let tf32 = geometry.tf32;
    let key = PlanKey {
        device: dev.id(),
        pass,
        geometry,
        shapes,
        bf16,
    };
    let plan = match PLANS.with(|p| p.borrow().get(&key).copied()) {
        Some(plan) => plan,
        None => {
            let d = Descriptors::new(geometry, shapes, bf16, search_math(bf16, tf32))?;
            let plan = find_plan(h, pass, &d, !bf16 && !tf32)?;
            PLANS.with(|p| p.borrow_mut().insert(key, plan));
            plan
        }
    };
    let d = Descriptors::new(geometry, shapes, bf16, plan.math)?;
    let out_len: usize = match pass {
        Pass::Forward => shapes.y,
        Pass::BackwardData => shapes.x,
        Pass::BackwardFilter => shapes.w,
    }
    .iter()
    .product();
    let mut out = alloc_out(dev, dtype, out_len)?;
    WORKSPACES.with(|workspaces| -> Result<()> {
        let mut workspaces = workspaces.borrow_mut();
        let grow = workspaces
            .get(&dev.id())
            .is_none_or(|w| w.len() < plan.workspace);
        if grow {
            // Grow-only, with headroom so that slightly larger shapes do not reallocate.
            let bytes = plan.workspace.max(1) + plan.workspace / 4;
            workspaces.insert(dev.id(), dev.alloc_zeros::<u8>(bytes)?);
        }
        let ws = workspaces
            .get_mut(&dev.id())
            .expect("workspace inserted above");
        let ws_bytes = ws.len();
        let (ws_ptr, _ws_guard) = ws.device_ptr_mut(&stream);
        let (a_ptr, _a_guard) = read_ptr(a.0, a.1, &stream)?;
        let (b_ptr, _b_guard) = read_ptr(b.0, b.1, &stream)?;
        let (out_ptr, _out_guard) = write_ptr(&mut out, &stream)?;
        let (alpha, beta) = (1f32, 0f32);
        let alpha = &alpha as *const f32 as *const std::ffi::c_void;
        let beta = &beta as *const f32 as *const std::ffi::c_void;
        let ws_ptr = ws_ptr as *mut std::ffi::c_void;
        let (a_ptr, b_ptr) = (
            a_ptr as *const std::ffi::c_void,
            b_ptr as *const std::ffi::c_void,
        );
        let out_ptr = out_ptr as *mut std::ffi::c_void;
        // SAFETY: live handle and descriptors matching the operands' dims and dtype; the
        // pointers are the operands' and the output's device memory, all on candle's stream.
        let status = unsafe {
            match plan.algo {
                Algo::Forward(algo) => cudnn::convolution_forward(
                    h, alpha, d.x, a_ptr, d.w, b_ptr, d.conv, algo, ws_ptr, ws_bytes, beta, d.y,
                    out_ptr,
                ),
                Algo::Data(algo) => cudnn::convolution_backward_data(
                    h, alpha, d.w, b_ptr, d.y, a_ptr, d.conv, algo, ws_ptr, ws_bytes, beta, d.x,
                    out_ptr,
                ),
                Algo::Filter(algo) => cudnn::convolution_backward_filter(
                    h, alpha, d.x, a_ptr, d.y, b_ptr, d.conv, algo, ws_ptr, ws_bytes, beta, d.w,
                    out_ptr,
                ),
            }
        };
        status.map_err(wrap_cudnn)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::test_util::rel_l2;
    use candle_core::{DType, Tensor, Var};

    /// On a GPU (FAUVE_TEST_DEVICE=cuda, scripts/gpu-check.sh): the same conv and gradients
    /// twice are bit-identical (deterministic algorithms, cached plans); bf16 and TF32 stay
    /// within their precision of strict f32. Strict f32 against candle's conv is the shared
    /// test in `ops::conv`, which takes this path on CUDA.
    #[test]
    #[ignore = "needs a CUDA device: scripts/gpu-check.sh runs it"]
    fn deterministic_and_reduced_precisions_close_to_f32() -> anyhow::Result<()> {
        let dev = crate::test_util::test_device();
        assert!(dev.is_cuda(), "run with FAUVE_TEST_DEVICE=cuda on a GPU");
        let x = Var::randn(0f32, 1., (2, 32, 40, 36), &dev)?;
        let w = Var::randn(0f32, 0.1, (64, 32, 3, 3), &dev)?;
        let conv = |x: &Tensor, w: &Tensor| crate::ops::conv::conv2d(x, w, 1, 2);
        let y32 = conv(x.as_tensor(), w.as_tensor())?;
        let r = Tensor::randn(0f32, 1., y32.dims(), &dev)?;
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let run = || -> anyhow::Result<[Vec<f32>; 3]> {
            let y = conv(x.as_tensor(), w.as_tensor())?;
            let g = (&y * &r)?.sum_all()?.backward()?;
            let dx = g.get(x.as_tensor()).expect("input gradient");
            let dw = g.get(w.as_tensor()).expect("kernel gradient");
            Ok([values(&y)?, values(dx)?, values(dw)?])
        };
        assert!(run()? == run()?, "conv or its gradients not bit-identical");
        // bf16 operands, f32 accumulation: a few 1e-3 relative.
        let (x16, w16) = (x.to_dtype(DType::BF16)?, w.to_dtype(DType::BF16)?);
        let e16 = rel_l2(&conv(&x16, &w16)?.to_dtype(DType::F32)?, &y32);
        assert!(e16 < 1e-2, "bf16 relative error {e16}");
        // TF32: 10-bit mantissa products, f32 sums.
        let ytf = super::conv2d_math(x.as_tensor(), w.as_tensor(), 1, 2, true)?;
        let etf = rel_l2(&ytf, &y32);
        assert!(etf < 5e-3, "TF32 relative error {etf}");
        Ok(())
    }
}
