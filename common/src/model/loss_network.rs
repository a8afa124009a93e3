//! The frozen loss network's forward, its tap losses and its whole backward as one op (f32 on
//! the CPU): from the preprocessed batch to the unweighted losses, and back to the batch's
//! gradient.
//!
//! Through candle's autograd every op's input gradient lands in a zero-filled buffer and is
//! added into it on one thread: for VGG16 to relu4_3 at batch 4 and 128 px, 19 M values
//! zero-filled and 29 M added per training step, and the content loss is three more ops over
//! relu2_2. Here each layer's gradient goes from one kernel to the next, and each tap's
//! gradient is added where it is made.

use std::sync::Arc;

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use crate::cpu::conv::{FrozenKernel, UntrackedReluConv};
use crate::cpu::slice::with_cpu_f32;
use crate::cpu::sums::blocked_sums;
use crate::cpu::{gram, max_pool};
use crate::custom_grad::cpu_with_backward;
use crate::model::tap_target::TapTarget;

/// One 3x3 ReLU conv of the loss network (padding 1), and whether a 2x2 max pool follows.
pub struct FrozenLayer<'a> {
    pub weight: &'a Tensor,
    pub bias: &'a Tensor,
    /// What the conv keeps of its constant kernel between calls.
    pub frozen: &'a Arc<FrozenKernel>,
    pub pool_after: bool,
}

/// What the backward needs of one layer: the conv, and the pooling's winners and input size.
struct Saved {
    conv: UntrackedReluConv,
    pool: Option<(Vec<u8>, usize, usize)>,
}

/// One tap's place and what its gradient needs.
struct Scored {
    position: usize,
    residual: Residual,
}

/// What a tap's gradient is made from.
enum Residual {
    /// Content: the target features (the gradient is a multiple of the tap minus these).
    Features(Tensor),
    /// Style: the tap's Gram matrices minus the target, per image (`[B, C, C]` values).
    Gram(Vec<f32>),
}

/// The losses (`[n]`, f32, unweighted: mean squared differences, as [`TapTarget::loss`]) of
/// batch `xs`'s activations after the convs at `positions` against `targets` (one each),
/// differentiable with respect to `xs` (already preprocessed).
pub fn tap_losses(
    layers: &[FrozenLayer],
    xs: &Tensor,
    positions: &[usize],
    targets: &[TapTarget],
) -> Result<Tensor> {
    let deepest = positions.iter().copied().max().unwrap_or(0);
    if positions.is_empty() || positions.len() != targets.len() || deepest >= layers.len() {
        candle_core::bail!(
            "loss network: {} taps, {} targets, deepest {deepest} of {} layers",
            positions.len(),
            targets.len(),
            layers.len()
        );
    }
    let mut saved: Vec<Saved> = Vec::with_capacity(deepest + 1);
    let mut x = xs.detach();
    for (p, layer) in layers.iter().enumerate().take(deepest + 1) {
        let conv = UntrackedReluConv::run(&x, layer.weight, layer.bias, 1, layer.frozen)?;
        x = conv.output().clone();
        let mut pool = None;
        if layer.pool_after && p < deepest {
            let (_, _, h, w) = x.dims4()?;
            let (pooled, winners) = max_pool::pool_with_winners(&x)?;
            pool = Some((winners, h, w));
            x = pooled;
        }
        saved.push(Saved { conv, pool });
    }
    let mut scored = Vec::with_capacity(targets.len());
    let mut values = Vec::with_capacity(targets.len());
    for (&position, target) in positions.iter().zip(targets) {
        let tap = saved[position].conv.output();
        let (value, residual) = score(tap, target)?;
        values.push(value as f32);
        scored.push(Scored { position, residual });
    }
    let dims = xs.dims().to_vec();
    let backward = Arc::new(move |_: &Tensor, grad: &Tensor| {
        let weights = grad.to_vec1::<f32>()?;
        let dx = backward(&saved, &scored, &weights)?;
        Ok((
            Some(Tensor::from_vec(dx, dims.as_slice(), &Device::Cpu)?),
            None,
        ))
    });
    cpu_with_backward(
        "fauve-cpu-loss-network",
        xs,
        xs,
        values,
        &[targets.len()],
        backward,
    )
}

/// Σ f(a[i], b[i]) over two equal-length slices: chunks on the threads, their sums added in
/// order, so that the result is the same bits every run.
fn parallel_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> f64 {
    const CHUNK: usize = 1 << 16;
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| blocked_sums(a, b, |x, y| [f(x, y)])[0])
        .collect();
    partial.iter().sum()
}

/// `tap`'s loss against `target`, and what its gradient needs.
fn score(tap: &Tensor, target: &TapTarget) -> Result<(f64, Residual)> {
    let (b, c, h, w) = tap.dims4()?;
    match target {
        TapTarget::Features(t) => {
            if t.dims() != tap.dims() {
                candle_core::bail!("content target {:?} for tap {:?}", t.dims(), tap.dims());
            }
            let d = with_cpu_f32(tap, |f| {
                with_cpu_f32(t, |t| parallel_sum(f, t, |x, y| (x - y) * (x - y)))
            })??;
            Ok((d / tap.elem_count() as f64, Residual::Features(t.clone())))
        }
        TapTarget::Gram(t) => {
            let tb = t.dims3()?.0;
            if t.dims()[1..] != [c, c] || (tb != 1 && tb != b) {
                candle_core::bail!("Gram target {:?} for tap {:?}", t.dims(), tap.dims());
            }
            let scale = 1.0 / (c * h * w) as f32;
            let mut r = with_cpu_f32(tap, |f| gram::forward(f, c, h * w, scale))?;
            with_cpu_f32(t, |t| {
                for (ri, ti) in r.chunks_mut(c * c).zip(t.chunks(c * c).cycle()) {
                    ri.iter_mut().zip(ti).for_each(|(v, tv)| *v -= tv);
                }
            })?;
            let d: f64 = r
                .chunks(c * c)
                .map(|ri| parallel_sum(ri, ri, |v, _| v * v))
                .sum();
            Ok((d / (b * c * c) as f64, Residual::Gram(r)))
        }
    }
}

/// The batch's gradient (values) for the gradients `weights` of the losses (one per tap):
/// from the deepest layer back, each tap's gradient added where its layer's gradient is made.
fn backward(saved: &[Saved], scored: &[Scored], weights: &[f32]) -> Result<Vec<f32>> {
    let mut g: Option<Vec<f32>> = None;
    for (p, layer) in saved.iter().enumerate().rev() {
        let mut gy = match (&layer.pool, g.take()) {
            (Some((winners, h, w)), Some(gp)) => Some(max_pool::unpool_grad(&gp, winners, *h, *w)),
            (_, gp) => gp,
        };
        for (s, &weight) in scored.iter().zip(weights) {
            if s.position == p {
                gy = Some(tap_grad(layer.conv.output(), s, weight, gy)?);
            }
        }
        // The deepest layer has a tap, and every other one the gradient from above.
        let gy = gy.ok_or_else(|| candle_core::Error::Msg("loss network: no gradient".into()))?;
        g = Some(layer.conv.input_grad(&gy)?);
    }
    g.ok_or_else(|| candle_core::Error::Msg("loss network: no layers".into()))
}

/// `acc` (zeros when None) plus the gradient of `weight ·` the tap's loss with respect to
/// the tap.
fn tap_grad(tap: &Tensor, s: &Scored, weight: f32, acc: Option<Vec<f32>>) -> Result<Vec<f32>> {
    const CHUNK: usize = 1 << 16;
    let (b, c, h, w) = tap.dims4()?;
    let n = tap.elem_count();
    let (mut out, accumulate) = match acc {
        Some(a) => (a, true),
        None => (vec![0f32; n], false),
    };
    match &s.residual {
        Residual::Features(t) => {
            let k = 2.0 * weight / n as f32;
            with_cpu_f32(tap, |f| {
                with_cpu_f32(t, |t| {
                    out.par_chunks_mut(CHUNK)
                        .zip(f.par_chunks(CHUNK).zip(t.par_chunks(CHUNK)))
                        .for_each(|(o, (f, t))| {
                            for ((o, f), t) in o.iter_mut().zip(f).zip(t) {
                                *o += k * (f - t);
                            }
                        })
                })
            })??;
        }
        Residual::Gram(r) => {
            let k = 2.0 * weight / (b * c * c) as f32;
            let dg: Vec<f32> = r.iter().map(|v| k * v).collect();
            let scale = 1.0 / (c * h * w) as f32;
            with_cpu_f32(tap, |f| {
                gram::backward_into(&mut out, f, &dg, c, h * w, scale, accumulate)
            })?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{DType, Tensor, Var};
    use candle_nn::VarBuilder;

    use crate::model::vgg_layout::VggNet;
    use crate::test_util::rel_l2;
    use crate::{Precision, Preprocess, TapTarget, Vgg};

    /// VGG16's first seven convs (two pools among them), narrow, random.
    fn narrow_vgg16() -> anyhow::Result<Vgg> {
        let dev = candle_core::Device::Cpu;
        let channels = [3, 6, 6, 10, 10, 12, 12, 12];
        let mut tensors = HashMap::new();
        for p in 0..7 {
            let idx = VggNet::Vgg16.feature_index(p);
            let (cin, cout) = (channels[p], channels[p + 1]);
            let std = (2.0 / (9 * cin) as f64).sqrt();
            let w = Tensor::randn(0f32, std as f32, (cout, cin, 3, 3), &dev)?;
            tensors.insert(format!("features.{idx}.weight"), w);
            let b = Tensor::randn(0f32, 0.1, cout, &dev)?;
            tensors.insert(format!("features.{idx}.bias"), b);
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &dev);
        Ok(Vgg::new(
            vb,
            VggNet::Vgg16,
            Preprocess::CaffeBgr,
            Precision::F32,
        )?)
    }

    fn image(b: usize, h: usize, w: usize) -> anyhow::Result<Tensor> {
        let t = Tensor::randn(0f32, 1., (b, 3, h, w), &candle_core::Device::Cpu)?;
        Ok(((t * 60.0)? + 120.0)?)
    }

    /// The one op against the same losses through candle's autograd over the per-op kernels:
    /// values and the image gradient (under random loss weights), with a content tap that is
    /// not the deepest, two taps on one layer, layers without taps, pools over odd sides, and
    /// Gram targets broadcast and per image.
    #[test]
    fn matches_the_losses_through_autograd() -> anyhow::Result<()> {
        let vgg = narrow_vgg16()?;
        let (b, h, w) = (2, 19, 22);
        let positions = [3, 1, 3, 6];
        let other = image(b, h, w)?;
        let style = image(1, 16, 17)?;
        let content = vgg.taps(&other, &[3])?.remove(0);
        let grams = |x: &Tensor, p: usize| -> anyhow::Result<Tensor> {
            let tap = vgg.taps(x, &[p])?.remove(0);
            Ok(crate::loss::gram_matrix(&tap)?)
        };
        let targets = [
            TapTarget::Features(content),
            TapTarget::Gram(grams(&style, 1)?),
            TapTarget::Gram(grams(&style, 3)?),
            TapTarget::Gram(grams(&image(b, h, w)?, 6)?),
        ];
        let x = Var::from_tensor(&image(b, h, w)?)?;
        let ours = vgg.tap_losses(x.as_tensor(), &positions, &targets)?;
        let reference = vgg.tap_losses_by_ops(x.as_tensor(), &positions, &targets)?;
        assert_eq!(ours.dims(), [4]);
        let again = vgg.tap_losses(x.as_tensor(), &positions, &targets)?;
        assert_eq!(
            again.to_vec1::<f32>()?,
            ours.to_vec1::<f32>()?,
            "not the same bits"
        );
        let err = rel_l2(&ours, &reference);
        assert!(err < 1e-5, "losses {ours} against {reference}: {err:e}");
        let r = Tensor::new(&[0.7f32, -1.3, 2.1, 0.4], &candle_core::Device::Cpu)?;
        let g_ours = (ours * &r)?.sum_all()?.backward()?;
        let g_ref = (reference * &r)?.sum_all()?.backward()?;
        let (a, e) = (g_ours.get(&x).unwrap(), g_ref.get(&x).unwrap());
        let err = rel_l2(a, e);
        assert!(err < 1e-5, "image gradient: {err:e}");
        Ok(())
    }

    #[test]
    fn refuses_taps_without_one_target_each() -> anyhow::Result<()> {
        let vgg = narrow_vgg16()?;
        let x = image(1, 8, 8)?;
        let t = TapTarget::Features(vgg.taps(&x, &[1])?.remove(0));
        assert!(vgg
            .tap_losses(&x, &[1, 2], std::slice::from_ref(&t))
            .is_err());
        assert!(vgg.tap_losses(&x, &[], &[]).is_err());
        assert!(
            vgg.tap_losses(&x, &[9], &[t]).is_err(),
            "past the loaded convs"
        );
        Ok(())
    }
}
