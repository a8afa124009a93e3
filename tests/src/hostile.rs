//! Hostile inputs for the reliability tests: files whose headers lie, and a way to run a
//! binary and learn its peak memory.

use std::io::Read;
use std::process::{Command, Output, Stdio};

/// A PNG whose header claims `width` x `height` 8-bit RGB pixels but whose image data is an
/// empty zlib stream: a decoder that trusts the header allocates for the claim.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8; 4], data: &[u8]| -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        c.extend_from_slice(&crc.finalize().to_be_bytes());
        c
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    // zlib's encoding of no bytes at all.
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A safetensors file whose header says it is `header_len` bytes long.
pub fn safetensors_claiming_header(header_len: u64) -> Vec<u8> {
    let mut bytes = header_len.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    bytes
}

/// A safetensors file whose one tensor's data lies past the end of the file.
pub fn safetensors_past_its_end() -> Vec<u8> {
    let header = br#"{"a":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 16]);
    bytes
}

/// Runs `cmd` to its end and returns what it printed and its peak resident memory in bytes
/// (the kernel's count for that one child, from `wait4`).
#[cfg(target_os = "linux")]
pub fn run_measured(cmd: &mut Command) -> (Output, u64) {
    use std::os::unix::process::ExitStatusExt;
    // Reaped by wait4 below, which also reports the memory.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills; the pid is our own unreaped child, which
    // std will not wait for again (Child's drop does not wait).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    };
    // ru_maxrss is in KiB on Linux.
    (output, usage.ru_maxrss as u64 * 1024)
}

/// Runs the shell `script` with a tmpfs of `size` (as `mount -o size=` takes it: `20k`, `32m`)
/// mounted over `dir`, in a private mount namespace (`unshare -r -m`: no root needed where
/// user namespaces are allowed, as on Debian by default); the mount is gone when the script
/// ends, so the script says what it finds there. Fails the test, saying why, where such a
/// namespace cannot be made: a full disk that was not tested is not a pass.
#[cfg(target_os = "linux")]
pub fn on_small_disk(dir: &std::path::Path, size: &str, script: &str) -> Output {
    let probe = Command::new("unshare")
        .args([
            "-r",
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k none /tmp",
        ])
        .output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "the full-disk tests need a private mount namespace (`unshare -r -m`, util-linux) to mount a small tmpfs, and none can be made here"
    );
    let full = format!(
        "mount -t tmpfs -o size={size} none '{}' && {{ {script}; }}",
        dir.display()
    );
    Command::new("unshare")
        .args(["-r", "-m", "sh", "-c", &full])
        .output()
        .expect("unshare runs")
}
