//! Writing files so that a reader never sees a half-written one: the bytes go to a temporary
//! file in the same folder, are flushed to disk, and only then renamed over the final name (and
//! the folder flushed, so the new name is on disk too).
//! The file gets the usual mode of a new file (0666 minus the umask), not the 0600 of a
//! temporary file, so other users can read models, images and checkpoints as they would any
//! file the user makes.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::folder_of;
use crate::error::{Error, Result};

/// Ending of the temporary files: a folder holding one after a crash can be cleaned by it.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Writes `bytes` to `path` atomically. On any failure (a full disk, say) the temporary file is
/// removed and an existing file at `path` is left untouched.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    PendingWrite::new(path, bytes)?.commit()
}

/// A file written and flushed under a temporary name, not yet renamed to its final one.
/// Dropping it without [`PendingWrite::commit`] removes the temporary file.
pub struct PendingWrite {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl PendingWrite {
    /// Writes `bytes` to a temporary file beside `path` and flushes it to disk.
    pub fn new(path: &Path, bytes: &[u8]) -> Result<Self> {
        let dir = folder_of(path);
        let mut builder = tempfile::Builder::new();
        builder.prefix(".fauve-tmp-").suffix(PARTIAL_SUFFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Passed to open(2), so the umask applies as for any new file.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
        tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
        Ok(Self {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Leaves the temporary file on disk under its temporary name, as a crash would (fault
    /// injection in tests).
    pub fn abandon(self) {
        let _ = self.tmp.keep();
    }

    /// Renames the temporary file over the final name, and flushes the folder so that the
    /// rename itself survives a power cut (callers delete older files right after: a
    /// checkpoint's predecessors, say).
    pub fn commit(self) -> Result<()> {
        self.tmp
            .persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        sync_folder(&self.path)
    }
}

/// Puts a file that another program wrote under a temporary name (`partial`, beside `path`;
/// ffmpeg's encoding, say) in place as durably as [`atomic_write`]: flushed, renamed over
/// `path`, the folder flushed.
pub fn persist_partial(partial: &Path, path: &Path) -> Result<()> {
    std::fs::File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(partial, e))?;
    std::fs::rename(partial, path).map_err(|e| Error::io(path, e))?;
    sync_folder(path)
}

/// Flushes the folder holding `path` (its list of names) to disk. Only Unix can open a folder
/// for this; elsewhere the rename is as durable as the file system makes it.
fn sync_folder(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = folder_of(path);
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old")?;
        atomic_write(&path, b"new")?;
        assert_eq!(std::fs::read(&path)?, b"new");
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn a_partial_file_is_put_in_place_over_the_old_one() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (partial, path) = (dir.path().join(".v.partial.mp4"), dir.path().join("v.mp4"));
        std::fs::write(&path, b"old")?;
        std::fs::write(&partial, b"new")?;
        persist_partial(&partial, &path)?;
        assert_eq!(std::fs::read(&path)?, b"new");
        assert!(!partial.exists());
        let err = persist_partial(&partial, &path).unwrap_err().to_string();
        assert!(err.contains(".v.partial.mp4"), "{err}");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_mode_of_any_new_file() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        // What the umask makes of 0666, whatever it is on this machine.
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain)?;
        let expected = std::fs::metadata(&plain)?.permissions().mode() & 0o777;
        let path = dir.path().join("atomic");
        atomic_write(&path, b"x")?;
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        assert_eq!(mode, expected, "{mode:o} vs {expected:o}");
        assert_ne!(mode, 0o600, "premise: the umask is not 0177");
        Ok(())
    }

    #[test]
    fn an_abandoned_write_leaves_the_old_file_and_a_partial() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old")?;
        PendingWrite::new(&path, b"new")?.abandon();
        assert_eq!(std::fs::read(&path)?, b"old");
        let partials = std::fs::read_dir(dir.path())?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(PARTIAL_SUFFIX))
            })
            .count();
        assert_eq!(partials, 1);
        Ok(())
    }

    #[test]
    fn missing_folder_is_an_error_naming_it() {
        let err = atomic_write(Path::new("/nonexistent-fauve-dir/x.bin"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent-fauve-dir"), "{err}");
    }
}
