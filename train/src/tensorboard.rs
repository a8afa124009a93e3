//! TensorBoard event files through tensorboard-rs, with its failures contained: the crate
//! panics on any write error (a full disk, a deleted folder), from a background thread and then
//! from every later call. Here a failure turns logging off with one warning; training goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use image::RgbImage;
use tensorboard_rs::summary_writer::SummaryWriter;

/// Source file of tensorboard-rs, used to recognise its panics.
const CRATE_MARKER: &str = "tensorboard-rs";

static QUIET_HOOK: Once = Once::new();

/// Keeps tensorboard-rs panics (from its writer thread) from printing a backtrace banner; the
/// failure is reported once by [`Tensorboard`] instead.
fn install_quiet_hook() {
    QUIET_HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = info
                .location()
                .is_some_and(|l| l.file().contains(CRATE_MARKER));
            if !ours {
                default(info);
            }
        }));
    });
}

/// A TensorBoard writer that never takes training down with it.
pub struct Tensorboard {
    writer: Option<SummaryWriter>,
}

impl Tensorboard {
    /// Opens an event file in `dir`; on failure, warns and logs nothing.
    pub fn open(dir: &Path) -> Self {
        install_quiet_hook();
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!(
                "warning: TensorBoard logging off: cannot create {}: {e}",
                dir.display()
            );
            return Self { writer: None };
        }
        let writer = catch_unwind(|| SummaryWriter::new(dir)).ok();
        Self { writer }
    }

    fn call(&mut self, f: impl FnOnce(&mut SummaryWriter)) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        if catch_unwind(AssertUnwindSafe(|| f(w))).is_err() {
            eprintln!("warning: TensorBoard logging failed (disk full or folder removed?); training continues without it");
            // Its Drop would panic again joining the dead thread; leak it instead.
            if let Some(w) = self.writer.take() {
                std::mem::forget(w);
            }
        }
    }

    /// Whether events are still being written.
    pub fn is_active(&self) -> bool {
        self.writer.is_some()
    }

    /// Logs one scalar.
    pub fn scalar(&mut self, tag: &str, value: f64, step: usize) {
        self.call(|w| w.add_scalar(tag, value as f32, step));
    }

    /// Logs an RGB image. tensorboard-rs wants interleaved bytes and `[3, W, H]` (not the
    /// documented CHW), or non-square images come out scrambled. The PNG it encodes, which is
    /// what TensorBoard shows, is then right; only the proto's width/height fields are swapped.
    pub fn image(&mut self, tag: &str, img: &RgbImage, step: usize) {
        let dim = [3, img.width() as usize, img.height() as usize];
        self.call(|w| w.add_image(tag, img.as_raw(), &dim, step));
    }

    /// Pushes buffered events to disk.
    pub fn flush(&mut self) {
        self.call(|w| w.flush());
    }
}

impl Drop for Tensorboard {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            if catch_unwind(AssertUnwindSafe(move || drop(w))).is_err() {
                eprintln!("warning: TensorBoard events may be incomplete");
            }
        }
    }
}
