//! What the user watches: a progress bar with step, epoch, losses, images/s and ETA on a
//! terminal, or a plain line per log interval when output is redirected (logs, CI).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress display for a run from `start` to `total` steps.
pub struct Progress {
    bar: ProgressBar,
    plain: bool,
    unit: &'static str,
}

impl Progress {
    /// Progress of a run from step `start` to step `total`.
    pub fn new(start: usize, total: usize) -> Self {
        Self::counting(start, total, "step")
    }

    /// Progress counted in `unit`s ("step", "iteration", "photo").
    pub fn counting(start: usize, total: usize, unit: &'static str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let plain = bar.is_hidden() || std::env::var_os("FAUVE_PLAIN_PROGRESS").is_some();
        let style = ProgressStyle::with_template(&format!(
            "{{spinner}} {unit} {{pos}}/{{len}} [{{wide_bar}}] {{msg}} | ETA {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_position(start as u64);
        bar.reset_eta();
        bar.enable_steady_tick(Duration::from_millis(500));
        Self { bar, plain, unit }
    }

    /// Updates the bar after `step`; prints a line instead when not on a terminal.
    pub fn update(&self, step: usize, message: &str, print_line: bool) {
        self.bar.set_position(step as u64);
        self.bar.set_message(message.to_string());
        if self.plain && print_line {
            let eta = self.bar.eta().as_secs();
            eprintln!(
                "{} {step}/{} {message} | ETA {}m{:02}s",
                self.unit,
                self.bar.length().unwrap_or(0),
                eta / 60,
                eta % 60
            );
        }
    }

    /// Changes the last step (a run that ends early, on its time budget).
    pub fn set_total(&self, total: usize) {
        self.bar.set_length(total as u64);
    }

    /// Prints a line above the bar (warnings, checkpoints).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.plain {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line.as_ref());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
