//! Ctrl-C during a video: the temporary file being encoded is removed and fauve-infer exits
//! with 130, as after any interrupt; finished outputs stay. (ffmpeg, in the same process group,
//! gets the interrupt itself.)

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files to remove on Ctrl-C.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs the Ctrl-C handler (once, at start).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        let pending = PENDING.lock().map(|p| p.clone()).unwrap_or_default();
        for path in pending {
            let _ = std::fs::remove_file(path);
        }
        eprintln!("interrupted");
        std::process::exit(130);
    });
}

/// A temporary file that Ctrl-C removes while the guard lives.
pub struct Removed(PathBuf);

impl Removed {
    pub fn on_interrupt(path: &Path) -> Self {
        if let Ok(mut p) = PENDING.lock() {
            p.push(path.to_path_buf());
        }
        Self(path.to_path_buf())
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        if let Ok(mut p) = PENDING.lock() {
            p.retain(|q| q != &self.0);
        }
    }
}
