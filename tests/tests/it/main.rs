//! End-to-end tests of the `fauve` library: numerical parity with the PyTorch fixtures, model
//! files, image decoding. (The binaries are tested in their own packages, `train/tests` and
//! `infer/tests`, where cargo builds them with the test's features.)

mod image_io;
mod model_file;
mod multi_style;
mod parity;
mod parity_vgg19;
mod sequence;
mod tiling;
