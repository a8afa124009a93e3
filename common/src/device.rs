//! Choosing the compute device from a user's string, with a useful error when CUDA support was
//! not compiled in.

use candle_core::Device;

use crate::error::{Error, Result};

/// Whether this build of the library can run on CUDA GPUs (the `cuda` cargo feature).
pub const CUDA_COMPILED: bool = cfg!(feature = "cuda");

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (the first GPU when CUDA is compiled in and one
/// opens, else the CPU) into a device.
///
/// Fails with a message that says how to rebuild when `cuda` is asked for but was not compiled
/// in, and with the driver's message when no GPU can be opened.
pub fn parse_device(name: &str) -> Result<Device> {
    let name = name.trim().to_ascii_lowercase();
    if name == "cpu" {
        return Ok(Device::Cpu);
    }
    if name == "auto" {
        return Ok(if CUDA_COMPILED {
            Device::new_cuda(0).unwrap_or(Device::Cpu)
        } else {
            Device::Cpu
        });
    }
    let ordinal = match name.as_str() {
        "cuda" | "gpu" => Some(0),
        other => other
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok()),
    };
    let Some(ordinal) = ordinal else {
        return Err(Error::Invalid(format!(
            "unknown device `{name}`: expected `cpu`, `cuda`, `cuda:N` or `auto`"
        )));
    };
    if !CUDA_COMPILED {
        return Err(Error::Invalid(format!(
            "device `{name}` requested but this build has no CUDA support\n\nhint: rebuild with `cargo build --release --features cuda` (needs the CUDA toolkit), or use `--device cpu`"
        )));
    }
    Device::new_cuda(ordinal).map_err(|e| {
        Error::Invalid(format!(
            "cannot open CUDA device {ordinal}: {e}\n\nhint: check `nvidia-smi`, or use `--device cpu`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses() {
        assert!(parse_device("CPU").unwrap().is_cpu());
    }

    #[test]
    fn unknown_name_is_refused() {
        let err = parse_device("tpu").unwrap_err().to_string();
        assert!(err.contains("unknown device `tpu`"), "{err}");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_feature_says_how_to_rebuild() {
        let err = parse_device("cuda").unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
