//! The transform network's two sizes: Johnson et al.'s (pytorch/examples' keys and widths, the
//! default) and a slim one with half the channels in every layer, which jcjohnson's
//! fast-neural-style found "smaller and faster without sacrificing model quality" with instance
//! norm. Both have the same layers, kernels and keys; only the widths differ, so every path that
//! runs a network (tiling, video, styles, ONNX) serves both.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use candle_core::Tensor;

use crate::error::{Error, Result};

/// Residual blocks in both architectures.
pub(crate) const RESIDUAL_BLOCKS: usize = 5;

/// Which transform network a model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Architecture {
    /// pytorch/examples' TransformerNet: 32, 64 and 128 channels (about 1.68 M parameters).
    #[default]
    Johnson,
    /// Half the channels: 16, 32 and 64 (about 0.42 M parameters, a quarter of the work).
    Slim,
}

impl Architecture {
    /// Every architecture, default first.
    pub const ALL: [Architecture; 2] = [Architecture::Johnson, Architecture::Slim];

    /// The name in configs and on the command line: `johnson` or `slim`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Johnson => "johnson",
            Self::Slim => "slim",
        }
    }

    /// The value of a model file's `architecture` metadata key. Johnson's is the one every
    /// Fauve model has carried since the first release.
    pub fn metadata_name(self) -> &'static str {
        match self {
            Self::Johnson => "johnson2016-transformer-net",
            Self::Slim => "johnson2016-transformer-net-slim",
        }
    }

    /// The architecture whose [`Self::metadata_name`] is `name`.
    pub fn from_metadata_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.metadata_name() == name)
    }

    /// The architecture of a model's tensors, told by the width of its first conv.
    pub fn of_tensors(tensors: &HashMap<String, Tensor>) -> Result<Self> {
        let width = tensors
            .get("conv1.conv2d.weight")
            .and_then(|t| t.dims().first().copied());
        width.and_then(Self::with_first_width).ok_or_else(|| {
            Error::Invalid(format!(
                "`conv1.conv2d.weight` is missing or has a width ({width:?}) that neither \
                 architecture has (32 or 16 output channels)"
            ))
        })
    }

    /// The architecture whose first conv has `width` output channels.
    pub fn with_first_width(width: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.widths()[0] == width)
    }

    /// Channels at full, half and quarter resolution.
    pub fn widths(self) -> [usize; 3] {
        match self {
            Self::Johnson => [32, 64, 128],
            Self::Slim => [16, 32, 64],
        }
    }

    /// Every tensor of a network holding `n_styles` styles, with its shape, in pytorch/examples
    /// key order: each norm's scale and shift are `[n_styles, C]` for several styles
    /// (conditional instance norm), `[C]` for one. Model files are checked against this list
    /// before any tensor is used.
    pub fn parameter_shapes(self, n_styles: usize) -> Vec<(String, Vec<usize>)> {
        let mut out = self.conv_shapes();
        for (name, c) in self.norm_channels() {
            let shape = if n_styles > 1 {
                vec![n_styles, c]
            } else {
                vec![c]
            };
            out.push((format!("{name}.weight"), shape.clone()));
            out.push((format!("{name}.bias"), shape));
        }
        out
    }

    /// The convs' tensors (shared by every style) with their shapes.
    fn conv_shapes(self) -> Vec<(String, Vec<usize>)> {
        let [c1, c2, c3] = self.widths();
        let mut out = Vec::new();
        let mut conv = |name: &str, cin: usize, cout: usize, k: usize| {
            out.push((format!("{name}.conv2d.weight"), vec![cout, cin, k, k]));
            out.push((format!("{name}.conv2d.bias"), vec![cout]));
        };
        conv("conv1", 3, c1, 9);
        conv("conv2", c1, c2, 3);
        conv("conv3", c2, c3, 3);
        for i in 1..=RESIDUAL_BLOCKS {
            conv(&format!("res{i}.conv1"), c3, c3, 3);
            conv(&format!("res{i}.conv2"), c3, c3, 3);
        }
        conv("deconv1", c3, c2, 3);
        conv("deconv2", c2, c1, 3);
        conv("deconv3", c1, 3, 9);
        out
    }

    /// Every instance-norm layer's key prefix and channel count, in key order: the only
    /// parameters that differ between the styles of a multi-style model.
    pub fn norm_channels(self) -> Vec<(String, usize)> {
        let [c1, c2, c3] = self.widths();
        let mut out: Vec<(String, usize)> = [("in1", c1), ("in2", c2), ("in3", c3)]
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect();
        for i in 1..=RESIDUAL_BLOCKS {
            out.push((format!("res{i}.in1"), c3));
            out.push((format!("res{i}.in2"), c3));
        }
        out.push(("in4".into(), c2));
        out.push(("in5".into(), c1));
        out
    }

    /// Every norm parameter's key (`in1.weight`, `in1.bias`, ...).
    pub fn norm_keys(self) -> Vec<String> {
        self.norm_channels()
            .into_iter()
            .flat_map(|(name, _)| [format!("{name}.weight"), format!("{name}.bias")])
            .collect()
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown architecture `{s}`: use `johnson` or `slim`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(a: Architecture) -> usize {
        a.parameter_shapes(1)
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    #[test]
    fn slim_has_half_the_channels_and_about_a_quarter_of_the_weights() {
        assert_eq!(Architecture::Slim.widths(), [16, 32, 64]);
        let (full, slim) = (count(Architecture::Johnson), count(Architecture::Slim));
        assert!((1_670_000..1_690_000).contains(&full), "{full}");
        let ratio = slim as f64 / full as f64;
        assert!((0.24..0.27).contains(&ratio), "{slim} / {full}");
        let keys = |a: Architecture| -> Vec<String> {
            a.parameter_shapes(3).into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(keys(Architecture::Johnson), keys(Architecture::Slim));
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for a in Architecture::ALL {
            assert_eq!(a.name().parse::<Architecture>(), Ok(a));
            assert_eq!(Architecture::from_metadata_name(a.metadata_name()), Some(a));
        }
        let err = "wide".parse::<Architecture>().unwrap_err();
        assert!(err.contains("johnson") && err.contains("slim"), "{err}");
    }
}
