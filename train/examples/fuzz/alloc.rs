//! A global allocator that counts: the most bytes live at once and the largest single request
//! since the last reset. A request above [`CAP`], or more than [`CAP`] bytes live at once above
//! the baseline of the last reset, is a finding: it is reported with the path of the input
//! (already on disk, see [`set_input_path`]) and the process aborts (Rust cannot recover from a
//! failed allocation).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The most memory any loader may take for one fuzz input, in one allocation or in all it
/// holds at once.
pub const CAP: usize = 1 << 30;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static BASELINE: AtomicUsize = AtomicUsize::new(0);
/// The input file's path, leaked once per target so the abort message can print it without
/// allocating.
static INPUT_PATH: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_PATH_LEN: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// The counting allocator, over the system's.
pub struct Counting;

/// Names the file each input is written to before the target reads it (the abort message
/// prints it).
pub fn set_input_path(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let bytes: &'static mut [u8] =
        Box::leak(path.as_os_str().as_bytes().to_vec().into_boxed_slice());
    INPUT_PATH_LEN.store(bytes.len(), Ordering::Relaxed);
    INPUT_PATH.store(bytes.as_mut_ptr(), Ordering::Release);
}

fn note_alloc(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
    LARGEST.fetch_max(size, Ordering::Relaxed);
    if live.saturating_sub(BASELINE.load(Ordering::Relaxed)) > CAP {
        refuse(
            b"live memory of ",
            live.saturating_sub(BASELINE.load(Ordering::Relaxed)),
        );
    }
}

fn refuse(what: &[u8], size: usize) -> ! {
    // No formatting machinery here: it could allocate.
    let mut digits = [0u8; 20];
    let mut n = size;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut err = std::io::stderr();
    let _ = err.write_all(b"\nFINDING: ");
    let _ = err.write_all(what);
    let _ = err.write_all(&digits[i..]);
    let _ = err.write_all(b" bytes, above the cap; the input is ");
    let ptr = INPUT_PATH.load(Ordering::Acquire);
    if ptr.is_null() {
        let _ = err.write_all(b"(not yet written)");
    } else {
        // SAFETY: set_input_path leaked this many bytes at ptr, never freed.
        let path =
            unsafe { std::slice::from_raw_parts(ptr, INPUT_PATH_LEN.load(Ordering::Relaxed)) };
        let _ = err.write_all(path);
    }
    let _ = err.write_all(b"\n");
    std::process::abort();
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            refuse(b"an allocation of ", layout.size());
        }
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            refuse(b"an allocation of ", layout.size());
        }
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > CAP {
            refuse(b"an allocation of ", new_size);
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            note_alloc(new_size);
        }
        p
    }
}

/// Starts a new measurement; returns the bytes live now (the baseline).
pub fn reset() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    BASELINE.store(live, Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    live
}

/// The most bytes live above `baseline`, and the largest single allocation, since `reset`.
pub fn measured(baseline: usize) -> (usize, usize) {
    (
        PEAK.load(Ordering::Relaxed).saturating_sub(baseline),
        LARGEST.load(Ordering::Relaxed),
    )
}
