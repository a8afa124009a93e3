// Instance normalisation on CUDA in four passes, f32, contiguous [B, C, H, W] tensors.
// The Rust side (common/src/cuda/instance_norm.rs) launches them; the composition into a
// differentiable op is common/src/ops/instance_norm_passes.rs.
//
// A (batch, channel) plane is reduced by `chunks` blocks side by side (a 1080p frame has only
// 32-128 planes, too few to fill a GPU one block each); the statistics are merged per chunk with
// Chan's parallel variance formula, so no pass subtracts two large sums.
//
// Per-plane parameters `p` are 4 floats: mean, 1/sqrt(var + eps), gamma, beta. The input
// gradient pass also reads 2 more: mean(g) and mean(g * xhat), where g is the output gradient
// masked by the ReLU when there is one.

#define THREADS 256

struct Moments {
    float n;
    float mean;
    float m2;
};

__device__ __forceinline__ Moments merge(Moments a, Moments b) {
    float n = a.n + b.n;
    if (n == 0.f) {
        return a;
    }
    float delta = b.mean - a.mean;
    float wb = b.n / n;
    Moments r;
    r.n = n;
    r.mean = a.mean + delta * wb;
    r.m2 = a.m2 + b.m2 + delta * delta * a.n * wb;
    return r;
}

// Block-wide merge; the result is valid in thread 0.
__device__ Moments block_merge(Moments m) {
    __shared__ float sn[THREADS], smean[THREADS], sm2[THREADS];
    int t = threadIdx.x;
    sn[t] = m.n;
    smean[t] = m.mean;
    sm2[t] = m.m2;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            Moments a = {sn[t], smean[t], sm2[t]};
            Moments b = {sn[t + s], smean[t + s], sm2[t + s]};
            Moments r = merge(a, b);
            sn[t] = r.n;
            smean[t] = r.mean;
            sm2[t] = r.m2;
        }
        __syncthreads();
    }
    Moments r = {sn[0], smean[0], sm2[0]};
    return r;
}

// Block-wide sums of two values; the result is valid in thread 0.
__device__ float2 block_sum2(float a, float b) {
    __shared__ float sa[THREADS], sb[THREADS];
    int t = threadIdx.x;
    sa[t] = a;
    sb[t] = b;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            sa[t] += sa[t + s];
            sb[t] += sb[t + s];
        }
        __syncthreads();
    }
    return make_float2(sa[0], sb[0]);
}

// The [first, last) element range of chunk `chunk` of a plane of `hw` elements.
__device__ __forceinline__ void chunk_range(long hw, int chunks, int chunk, long* first, long* last) {
    long per = (hw + chunks - 1) / chunks;
    *first = per * chunk;
    *last = min(hw, *first + per);
}

// Grid (planes, chunks). partial[plane * chunks + chunk] = (n, mean, m2) of the chunk.
extern "C" __global__ void fauve_in_moments(const float* x, float* partial, long hw, int chunks) {
    int plane = blockIdx.x, chunk = blockIdx.y;
    long first, last;
    chunk_range(hw, chunks, chunk, &first, &last);
    const float* xs = x + (long)plane * hw;
    Moments m = {0.f, 0.f, 0.f};
    for (long i = first + threadIdx.x; i < last; i += THREADS) {
        float v = xs[i];
        m.n += 1.f;
        float delta = v - m.mean;
        m.mean += delta / m.n;
        m.m2 += delta * (v - m.mean);
    }
    m = block_merge(m);
    if (threadIdx.x == 0) {
        float* out = partial + 3 * ((long)plane * chunks + chunk);
        out[0] = m.n;
        out[1] = m.mean;
        out[2] = m.m2;
    }
}

// One thread per plane: merges the chunks' moments into stats[plane] = (mean, 1/sqrt(var + eps))
// with the biased variance, as PyTorch's InstanceNorm2d.
extern "C" __global__ void fauve_in_stats(const float* partial, float* stats, int planes, int chunks, float eps) {
    int plane = blockIdx.x * blockDim.x + threadIdx.x;
    if (plane >= planes) {
        return;
    }
    Moments m = {0.f, 0.f, 0.f};
    for (int c = 0; c < chunks; ++c) {
        const float* p = partial + 3 * ((long)plane * chunks + c);
        Moments b = {p[0], p[1], p[2]};
        m = merge(m, b);
    }
    stats[2 * plane] = m.mean;
    stats[2 * plane + 1] = 1.f / sqrtf(m.m2 / m.n + eps);
}

// y = gamma * (x - mean) * inv_std + beta, then ReLU when `relu`. Grid-stride over all elements.
extern "C" __global__ void fauve_in_forward(const float* x, const float* p, float* y, long hw, long total, int relu) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
        const float* q = p + 4 * (i / hw);
        float v = q[2] * ((x[i] - q[0]) * q[1]) + q[3];
        y[i] = relu && v < 0.f ? 0.f : v;
    }
}

// Grid (planes, chunks). partial[plane * chunks + chunk] = (sum g, sum g * xhat) over the chunk.
extern "C" __global__ void fauve_in_grad_sums(const float* x, const float* dy, const float* p, float* partial, long hw, int chunks, int relu) {
    int plane = blockIdx.x, chunk = blockIdx.y;
    long first, last;
    chunk_range(hw, chunks, chunk, &first, &last);
    const float* q = p + 4 * plane;
    const float* xs = x + (long)plane * hw;
    const float* gs = dy + (long)plane * hw;
    float sg = 0.f, sgx = 0.f;
    for (long i = first + threadIdx.x; i < last; i += THREADS) {
        float xhat = (xs[i] - q[0]) * q[1];
        float g = gs[i];
        if (relu && q[2] * xhat + q[3] <= 0.f) {
            g = 0.f;
        }
        sg += g;
        sgx += g * xhat;
    }
    float2 s = block_sum2(sg, sgx);
    if (threadIdx.x == 0) {
        float* out = partial + 2 * ((long)plane * chunks + chunk);
        out[0] = s.x;
        out[1] = s.y;
    }
}

// dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)); p holds 6 floats per plane.
extern "C" __global__ void fauve_in_grad_input(const float* x, const float* dy, const float* p, float* dx, long hw, long total, int relu) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
        const float* q = p + 6 * (i / hw);
        float xhat = (x[i] - q[0]) * q[1];
        float g = dy[i];
        if (relu && q[2] * xhat + q[3] <= 0.f) {
            g = 0.f;
        }
        dx[i] = q[2] * q[1] * (g - q[4] - xhat * q[5]);
    }
}
