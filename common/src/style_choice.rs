//! Which of a model's styles to stylize with: one by name or index, or a weighted mix of
//! several (their norm parameters mixed, as Magenta's multi-style models do).

use crate::error::{Error, Result};

/// The style (or mix) a multi-style model stylizes with. One-style models accept any choice
/// that names their only style.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum StyleChoice {
    /// The model's only style; a multi-style model refuses it ([`Error::StyleNeeded`]).
    #[default]
    Only,
    /// A style by its position in the model (see [`crate::Stylizer::styles`]).
    Index(usize),
    /// A style by its name; a number that is no style's name is taken as an index (so a
    /// `--style` value can be either).
    Named(String),
    /// Styles (by name, or by index written as a number) with non-negative weights; the
    /// weights are scaled to sum to 1, styles not named get 0.
    Mix(Vec<(String, f32)>),
}

/// A choice checked against a model's style names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    /// One style's own parameters.
    Row(usize),
    /// One weight per style, summing to 1.
    Weights(Vec<f32>),
}

impl StyleChoice {
    /// A `--mix` value, `NAME=WEIGHT,NAME=WEIGHT` (a name may be an index).
    pub fn parse_mix(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || {
                Error::Invalid(format!(
                    "`{item}` in the mix is not NAME=WEIGHT (e.g. starry_night=0.7,autumn=0.3)"
                ))
            };
            let (name, weight) = item.split_once('=').ok_or_else(bad)?;
            let weight: f32 = weight.trim().parse().map_err(|_| bad())?;
            parts.push((name.trim().to_string(), weight));
        }
        if parts.is_empty() {
            return Err(Error::Invalid(
                "the mix names no style (e.g. starry_night=0.7,autumn=0.3)".into(),
            ));
        }
        Ok(Self::Mix(parts))
    }

    /// Checks the choice against `names` (the model's styles, in order).
    pub(crate) fn resolve(&self, names: &[String]) -> Result<Resolved> {
        match self {
            Self::Only if names.len() == 1 => Ok(Resolved::Row(0)),
            Self::Only => Err(Error::StyleNeeded {
                styles: names.to_vec(),
            }),
            Self::Index(i) if *i < names.len() => Ok(Resolved::Row(*i)),
            Self::Index(i) => Err(Error::UnknownStyle {
                asked: i.to_string(),
                styles: names.to_vec(),
            }),
            Self::Named(name) => index_of(name, names).map(Resolved::Row),
            Self::Mix(parts) => mix_weights(parts, names).map(Resolved::Weights),
        }
    }
}

/// The position of the style called `asked` (a name, else an index).
fn index_of(asked: &str, names: &[String]) -> Result<usize> {
    if let Some(i) = names.iter().position(|n| n == asked) {
        return Ok(i);
    }
    match asked.parse::<usize>() {
        Ok(i) if i < names.len() => Ok(i),
        _ => Err(Error::UnknownStyle {
            asked: asked.to_string(),
            styles: names.to_vec(),
        }),
    }
}

/// One weight per style, scaled to sum to 1.
fn mix_weights(parts: &[(String, f32)], names: &[String]) -> Result<Vec<f32>> {
    let mut weights = vec![0f32; names.len()];
    let mut seen = vec![false; names.len()];
    for (name, w) in parts {
        let i = index_of(name, names)?;
        if seen[i] {
            return Err(Error::Invalid(format!(
                "the mix names style `{}` twice",
                names[i]
            )));
        }
        if !(w.is_finite() && *w >= 0.0) {
            return Err(Error::Invalid(format!(
                "the mix's weight for `{name}` must be a number >= 0, got {w}"
            )));
        }
        seen[i] = true;
        weights[i] = *w;
    }
    let sum: f32 = weights.iter().sum();
    if !(sum > 0.0 && sum.is_finite()) {
        return Err(Error::Invalid("the mix's weights must not all be 0".into()));
    }
    Ok(weights.iter().map(|w| w / sum).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["starry_night".into(), "autumn".into(), "7".into()]
    }

    #[test]
    fn names_and_indices_resolve_and_mixes_sum_to_one() {
        let n = names();
        let style = |s: &str| StyleChoice::Named(s.into()).resolve(&n);
        assert_eq!(style("autumn").unwrap(), Resolved::Row(1));
        assert_eq!(style("0").unwrap(), Resolved::Row(0));
        // A style named like a number is found by its name first.
        assert_eq!(style("7").unwrap(), Resolved::Row(2));
        assert!(matches!(style("3"), Err(Error::UnknownStyle { .. })));
        assert_eq!(StyleChoice::Index(2).resolve(&n).unwrap(), Resolved::Row(2));
        assert!(StyleChoice::Index(3).resolve(&n).is_err());
        let mix = StyleChoice::parse_mix("starry_night=3, 1=1").unwrap();
        assert_eq!(
            mix.resolve(&n).unwrap(),
            Resolved::Weights(vec![0.75, 0.25, 0.0])
        );
        let exact = StyleChoice::parse_mix("autumn=1,starry_night=0").unwrap();
        assert_eq!(
            exact.resolve(&n).unwrap(),
            Resolved::Weights(vec![0.0, 1.0, 0.0])
        );
    }

    #[test]
    fn bad_choices_say_what_is_wrong() {
        let n = names();
        let err = StyleChoice::Only.resolve(&n).unwrap_err().to_string();
        assert!(
            err.contains("3 styles (0 starry_night, 1 autumn, 2 7)"),
            "{err}"
        );
        assert_eq!(
            StyleChoice::Only.resolve(&n[..1]).unwrap(),
            Resolved::Row(0)
        );
        for (text, says) in [
            ("autumn", "not NAME=WEIGHT"),
            ("autumn=x", "not NAME=WEIGHT"),
            ("", "names no style"),
        ] {
            let err = StyleChoice::parse_mix(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        for (text, says) in [
            ("autumn=1,autumn=2", "twice"),
            ("autumn=-1", ">= 0"),
            ("autumn=0", "not all be 0"),
            ("monet=1", "no style `monet`"),
        ] {
            let mix = StyleChoice::parse_mix(text).unwrap();
            let err = mix.resolve(&n).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
