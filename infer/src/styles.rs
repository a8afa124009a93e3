//! `--style`, `--mix` and `--list-styles`: which of a multi-style model's styles to use, and
//! what the model holds.

use fauve::{StyleChoice, Stylizer};

use crate::args::Args;

/// The choice the flags make, checked against the model: a multi-style model without
/// `--style` or `--mix`, or a name it lacks, is a usage error that lists its styles.
pub fn choice(args: &Args, stylizer: &Stylizer) -> Result<StyleChoice, String> {
    let choice = match (&args.style, &args.mix) {
        (Some(name), _) => StyleChoice::Named(name.clone()),
        (None, Some(mix)) => {
            StyleChoice::parse_mix(mix).map_err(|e| format!("--mix: {}", fauve::report(&e)))?
        }
        (None, None) => StyleChoice::Only,
    };
    match stylizer.style_weights(&choice) {
        Ok(_) => Ok(choice),
        Err(e @ fauve::Error::StyleNeeded { .. }) => Err(format!(
            "{}\n\nhint: pass --style NAME or --mix NAME=W,NAME=W (--list-styles shows them)",
            fauve::report(&e)
        )),
        Err(e) => Err(fauve::report(&e)),
    }
}

/// The name outputs carry for `choice`: the style's own, or a mix's parts with their
/// percentages (`starry_night70-autumn30`); None for a one-style model's only style.
pub fn choice_name(stylizer: &Stylizer, choice: &StyleChoice) -> Option<String> {
    if matches!(choice, StyleChoice::Only) {
        return None;
    }
    let weights = stylizer.style_weights(choice).ok()?;
    let names = stylizer.styles();
    let parts: Vec<(&String, f32)> = names
        .iter()
        .zip(weights)
        .filter(|(_, w)| *w > 0.0)
        .collect();
    match parts.as_slice() {
        [(name, _)] => Some((*name).clone()),
        _ => Some(
            parts
                .iter()
                .map(|(n, w)| format!("{n}{:.0}", w * 100.0))
                .collect::<Vec<_>>()
                .join("-"),
        ),
    }
}

/// The loaded model and the choice in words, for the "loaded" line (with the architecture when
/// it is not the default).
pub fn describe(stylizer: &Stylizer, choice: &StyleChoice) -> String {
    let count = stylizer.styles().len();
    let style = match choice_name(stylizer, choice) {
        Some(name) if count > 1 => format!("style {name} of {count}"),
        Some(name) => name,
        None => stylizer
            .metadata()
            .style_name
            .clone()
            .unwrap_or_else(|| "no style name".into()),
    };
    match stylizer.metadata().architecture {
        fauve::Architecture::Johnson => style,
        other => format!("{style}, {other} network"),
    }
}

/// `--list-styles`: one line per style, `INDEX  NAME  SOURCE  SHA-256` (`-` where unknown).
pub fn listing(stylizer: &Stylizer) -> String {
    let mut out = String::new();
    for (i, s) in stylizer.metadata().style_entries().iter().enumerate() {
        out.push_str(&format!(
            "{i}\t{}\t{}\t{}\n",
            s.name,
            s.source.as_deref().unwrap_or("-"),
            s.style_image_sha256.as_deref().unwrap_or("-")
        ));
    }
    out
}
