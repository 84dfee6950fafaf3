//! Entry points for the fuzz targets in `fuzz/`: the client's own decoders
//! on any bytes. Not part of the API; hidden from the docs.

pub use crate::runtime::inflater::Inflater;
