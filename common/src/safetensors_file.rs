//! Reading safetensors files defensively: every way a file can be wrong (not safetensors,
//! truncated, a tensor missing, mis-shaped or of an odd dtype) becomes an [`Error`] that names
//! the file and the key, never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// A safetensors file read into memory and validated, its header parsed once.
pub struct SafetensorsFile {
    path: PathBuf,
    bytes: Vec<u8>,
    /// Where the tensor data starts in `bytes` (after the length and the header).
    data_start: usize,
    header: Metadata,
}

/// The largest header safetensors itself accepts (100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// Reads the 8-byte header length, the header, and then exactly the tensor bytes the header
/// declares (the end of its furthest `data_offsets`); anything that does not add up is
/// [`Error::NotSafetensors`] before the tensor bytes are read.
fn read_declared(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let bad = |reason: String| Error::NotSafetensors {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let on_disk = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let mut reader = std::io::BufReader::new(file);
    let mut len = [0u8; 8];
    reader
        .read_exact(&mut len)
        .map_err(|_| bad("shorter than the 8-byte header length".into()))?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER {
        return Err(bad(format!(
            "header length {header_len} is over {MAX_HEADER} bytes"
        )));
    }
    let mut bytes = len.to_vec();
    reader
        .by_ref()
        .take(header_len)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..])
        .map_err(|e| bad(format!("the header is not JSON ({e})")))?;
    let data_len = header
        .as_object()
        .ok_or_else(|| bad("the header is not a JSON object".into()))?
        .values()
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    let total = 8 + header_len + data_len;
    if let Some(size) = on_disk.filter(|&size| size != total) {
        return Err(bad(format!(
            "the header declares {total} bytes, the file holds {size}"
        )));
    }
    reader
        .take(data_len)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

impl SafetensorsFile {
    /// Reads `path` and checks its header and that every tensor lies inside the file. Only
    /// the bytes the header declares are read, so a device or a stream (`/dev/zero`) is
    /// refused after its header instead of filling memory.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = read_declared(path)?;
        let (header_len, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| Error::NotSafetensors {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            data_start: 8 + header_len,
            header,
            bytes,
        })
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The string metadata of the header (`__metadata__`), empty when there is none.
    pub fn metadata(&self) -> Result<HashMap<String, String>> {
        Ok(self.header.metadata().clone().unwrap_or_default())
    }

    /// The names of all tensors in the file, in the order of their data.
    pub fn keys(&self) -> Result<Vec<String>> {
        Ok(self.header.offset_keys())
    }

    /// The shape of tensor `key`, or a [`Error::MissingTensor`].
    pub fn shape(&self, key: &str) -> Result<Vec<usize>> {
        Ok(self.info(key)?.shape.clone())
    }

    fn info(&self, key: &str) -> Result<&TensorInfo> {
        self.header.info(key).ok_or_else(|| self.missing(key))
    }

    fn missing(&self, key: &str) -> Error {
        Error::MissingTensor {
            path: self.path.clone(),
            key: key.to_string(),
        }
    }

    /// Loads tensor `key` as f32 on `device`, checking its shape when `expected` is given.
    /// Half-precision tensors (f16, bf16) are widened.
    pub fn tensor_f32(
        &self,
        key: &str,
        expected: Option<&[usize]>,
        device: &Device,
    ) -> Result<Tensor> {
        let t = self.info(key)?;
        if let Some(expected) = expected {
            if t.shape != expected {
                return Err(Error::WrongShape {
                    path: self.path.clone(),
                    key: key.to_string(),
                    found: t.shape.clone(),
                    expected: expected.to_vec(),
                });
            }
        }
        let dtype = match t.dtype {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            other => {
                return Err(Error::WrongDtype {
                    path: self.path.clone(),
                    key: key.to_string(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        // In bounds: reading the header checked every tensor's offsets against the file.
        let (start, end) = t.data_offsets;
        let data = &self.bytes[self.data_start + start..self.data_start + end];
        let tensor = Tensor::from_raw_buffer(data, dtype, &t.shape, device)?;
        Ok(tensor.to_dtype(DType::F32)?)
    }
}
