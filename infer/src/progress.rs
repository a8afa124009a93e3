//! A progress bar for images that take more than a second (tiled ones report each tile pass);
//! quick images print nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shown after this long, so that quick images stay silent.
const DELAY: Duration = Duration::from_secs(1);

/// The bar of one image, hidden until it has taken [`DELAY`].
pub struct Bar {
    bar: ProgressBar,
    start: Instant,
    shown: bool,
}

impl Bar {
    /// A hidden bar for `input`.
    pub fn new(input: &Path) -> Self {
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% {elapsed} (ETA {eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        bar.set_message(name);
        Self {
            bar,
            start: Instant::now(),
            shown: false,
        }
    }

    /// `done` of `total` steps are finished.
    pub fn update(&mut self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        if !self.shown && self.start.elapsed() >= DELAY && done < total {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
    }

    /// Clears the bar, if it was shown.
    pub fn finish(self) {
        if self.shown {
            self.bar.finish_and_clear();
        }
    }
}
