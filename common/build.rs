//! With the `cuda` feature, compiles the project's CUDA kernels (`kernels/*.cu`) to PTX with
//! `nvcc`, for the library to load at run time; the driver JIT-compiles the PTX for its GPU.
//! Without the feature this does nothing, so CPU builds need no CUDA toolkit.

use std::path::PathBuf;
use std::process::Command;

const KERNELS: [&str; 1] = ["instance_norm"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
    println!("cargo::rerun-if-env-changed=NVCC");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // The same compute capability candle's kernels are built for (scripts/cuda-check.sh and
    // scripts/gpu-bundle.sh set it); 90 is Hopper.
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".into());
    let cap: String = cap.chars().filter(char::is_ascii_digit).collect();
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    for name in KERNELS {
        let source = format!("kernels/{name}.cu");
        println!("cargo::rerun-if-changed={source}");
        let ptx = out_dir.join(format!("{name}.ptx"));
        let status = Command::new(&nvcc)
            .args(["--ptx", "-O3", "-std=c++17"])
            .arg(format!("-arch=compute_{cap}"))
            .arg("-o")
            .arg(&ptx)
            .arg(&source)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run `{nvcc}` to compile {source} ({e}); the `cuda` feature needs the CUDA compiler on PATH (scripts/cuda-check.sh installs it from PyPI)")
            });
        assert!(status.success(), "`{nvcc}` failed on {source}");
    }
}
