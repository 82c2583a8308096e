#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod atoms;
pub mod audio;
pub mod bench;
pub mod conv;
pub mod encode;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod gp;
pub mod gpu;
pub mod metrics;
pub mod npy;
pub mod plot;
pub mod stft;

pub use error::{Error, Result};
