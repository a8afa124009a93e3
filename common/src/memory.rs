//! How much memory the system has free: the default budget of a forward pass and of
//! decoding an image both follow it.

/// The system's available memory in bytes (Linux: MemAvailable), if known.
pub(crate) fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The default memory budget on the CPU, of a forward pass and of decoding an image alike:
/// half the available memory, else 4 GiB where that is unknown. (The `image` crate's own
/// decoding limit, 512 MiB, refuses a 100-megapixel 16-bit photo that tiling could stylize.)
pub(crate) fn default_cpu_budget() -> u64 {
    available().map_or(FALLBACK_BUDGET, |b| b / 2)
}

/// The budget where the free memory cannot be learned.
pub(crate) const FALLBACK_BUDGET: u64 = 4 << 30;
