//! The crate's one error type. Every variant carries the context a user needs to
//! act on it: the file, the parameter, the value.

use std::path::PathBuf;

/// Everything that can go wrong in wavesplat.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file exists but its contents cannot be decoded (corrupt, truncated).
    #[error("{path}: cannot decode audio: {reason}")]
    Decode { path: PathBuf, reason: String },

    /// A .npy file is malformed or holds a dtype/layout wavesplat does not read.
    #[error("{path}: not a valid .npy file: {reason}")]
    Npy { path: PathBuf, reason: String },

    /// An event file is malformed: truncated, corrupt, of an unknown version,
    /// or holding a field outside its range.
    #[error("{path}: {reason}")]
    Events { path: PathBuf, reason: String },

    /// An encoder (PNG, ...) failed for a reason other than I/O.
    #[error("{path}: cannot encode: {reason}")]
    Encode { path: PathBuf, reason: String },

    /// The file is in a container or codec wavesplat does not read.
    #[error("{path}: unsupported audio format: {reason}")]
    UnsupportedFormat { path: PathBuf, reason: String },

    /// The file decodes to zero samples.
    #[error("{path}: the file holds no audio samples")]
    EmptyAudio { path: PathBuf },

    /// A signal holds NaN or infinity.
    #[error("{what}: sample {index} is not finite ({value})")]
    NonFinite {
        what: String,
        index: usize,
        value: f32,
    },

    /// A parameter is outside what the operation supports.
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },

    /// Resampling failed (unsupported ratio, resampler error).
    #[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
    Resample { from: u32, to: u32, reason: String },

    /// No usable GPU adapter (or none matching the requested backend / name).
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),

    /// The adapter refused to create a device with what wavesplat needs.
    #[error("cannot open GPU device: {0}")]
    Device(String),

    /// A GPU allocation failed.
    #[error("GPU out of memory: {0}")]
    OutOfMemory(String),

    /// The GPU device was lost or reported a validation / internal error.
    #[error("GPU error: {0}")]
    Gpu(String),

    /// Kernel expression text that does not parse (`position` counts characters from 1).
    #[error("kernel text, character {position}: {reason}\n  {text}\n  {marker}^")]
    KernelSyntax {
        text: String,
        position: usize,
        reason: String,
        /// Spaces up to the position, for the caret under the text.
        marker: String,
    },

    /// A covariance kernel that is not positive definite where it is used.
    #[error("kernel {kernel} is not valid: {reason}")]
    InvalidKernel { kernel: String, reason: String },

    /// A WGSL shader failed to parse or validate.
    #[error("shader {name} is invalid:\n{message}")]
    Shader { name: String, message: String },

    /// A collection run finished, but some files were not encoded.
    #[error("{failed} of {total} file(s) not encoded: see {summary}")]
    Incomplete {
        failed: usize,
        total: usize,
        summary: PathBuf,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`] with the path that was being accessed.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Fails with [`Error::NonFinite`] at the first NaN or infinite sample.
pub fn check_finite(what: &str, samples: &[f32]) -> Result<()> {
    match samples.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what: what.to_string(),
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}
