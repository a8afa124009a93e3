//! End-to-end tests of Fauve: numerical parity with the PyTorch fixtures, model files, image
//! decoding, and the binaries driven on real files in temporary folders.

mod image_io;
mod infer_cli;
mod model_file;
mod parity;
mod support;
mod tensorboard;
mod train_cli;
