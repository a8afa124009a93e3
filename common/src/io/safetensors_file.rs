//! Reading safetensors files defensively: every way a file can be wrong (not safetensors,
//! truncated, a tensor missing, mis-shaped or of an odd dtype) becomes an [`Error`] that names
//! the file and the key, never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// A safetensors file read into memory and validated.
pub struct SafetensorsFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl SafetensorsFile {
    /// Reads `path` and checks its header and that every tensor lies inside the file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let file = Self {
            path: path.to_path_buf(),
            bytes,
        };
        file.view()?;
        Ok(file)
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn view(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| Error::NotSafetensors {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// The string metadata of the header (`__metadata__`), empty when there is none.
    pub fn metadata(&self) -> Result<HashMap<String, String>> {
        let (_, meta) =
            SafeTensors::read_metadata(&self.bytes).map_err(|e| Error::NotSafetensors {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        Ok(meta.metadata().clone().unwrap_or_default())
    }

    /// The names of all tensors in the file.
    pub fn keys(&self) -> Result<Vec<String>> {
        Ok(self.view()?.names().into_iter().map(String::from).collect())
    }

    /// The shape of tensor `key`, or a [`Error::MissingTensor`].
    pub fn shape(&self, key: &str) -> Result<Vec<usize>> {
        let view = self.view()?;
        let t = view.tensor(key).map_err(|_| self.missing(key))?;
        Ok(t.shape().to_vec())
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
        let view = self.view()?;
        let t = view.tensor(key).map_err(|_| self.missing(key))?;
        if let Some(expected) = expected {
            if t.shape() != expected {
                return Err(Error::WrongShape {
                    path: self.path.clone(),
                    key: key.to_string(),
                    found: t.shape().to_vec(),
                    expected: expected.to_vec(),
                });
            }
        }
        let dtype = match t.dtype() {
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
        let tensor = Tensor::from_raw_buffer(t.data(), dtype, t.shape(), device)?;
        Ok(tensor.to_dtype(DType::F32)?)
    }
}
