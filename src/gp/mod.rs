//! Gaussian-process sampling: kernels ([`Kernel`], text and JSON forms),
//! non-stationary models f(t) = sum_c a_c(t) f_c(t) of independent stationary
//! components ([`Model`], the middle C preset), validity on a grid
//! ([`circulant::check_kernel`]) and three samplers:
//!
//! - circulant embedding on the GPU ([`gpu::circulant_sample`]) on the shared
//!   four-step FFT, many draws per submission, and its f64 CPU twin
//!   ([`cpu::circulant_sample`], rustfft), which gives the same draws for the
//!   same seed;
//! - the O(n) state-space recursion for sums of damped oscillators
//!   ([`cpu::state_space_sample`]);
//! - dense Cholesky ([`dense::cholesky_sample`]), the small-n reference.
//!
//! White noise comes from a counter-based hash of (seed, stream, component,
//! index) ([`noise::gaussian_pair`]) implemented identically in Rust and in
//! shaders/gp.wgsl.

pub mod bench;
pub mod circulant;
pub mod cpu;
pub mod dense;
pub mod gpu;
pub mod kernel;
pub mod noise;
mod parse;
pub mod presets;

pub use kernel::{Kernel, Oscillator};
pub use parse::{KERNEL_NAMES, parse_kernel};

use crate::error::{Error, Result};
use std::path::Path;

/// Longest grid a sampler accepts: its embedding must fit the four-step FFT.
pub const MAX_GRID: usize = crate::gpu::large_fft::MAX_LEN / 2;
/// Most bytes of draws one call returns.
pub const MAX_OUTPUT_BYTES: usize = 1 << 31;

/// A time-varying amplitude a_c(t), t in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amplitude {
    /// 1 everywhere (a stationary process).
    Unit,
    /// sigma(t) sqrt(m(t)) of the middle C preset.
    MiddleCAfter,
    /// sigma(t) sqrt(1 - m(t)) of the middle C preset.
    MiddleCBefore,
}

impl Amplitude {
    /// a(t), t in seconds.
    pub fn at(self, t: f64) -> f64 {
        match self {
            Amplitude::Unit => 1.0,
            Amplitude::MiddleCAfter => presets::middle_c_sigma(t) * presets::middle_c_mix(t).sqrt(),
            Amplitude::MiddleCBefore => {
                presets::middle_c_sigma(t) * (1.0 - presets::middle_c_mix(t)).sqrt()
            }
        }
    }

    /// a(t) on the grid t = i / rate, i < n.
    pub fn on_grid(self, rate: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| self.at(i as f64 / rate)).collect()
    }
}

/// One independent stationary process and the amplitude it enters with.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub kernel: Kernel,
    pub amplitude: Amplitude,
}

/// f(t) = sum over components of a_c(t) f_c(t), the f_c independent zero-mean
/// stationary processes; its covariance is sum_c a_c(s) a_c(t) k_c(s - t).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    pub components: Vec<Component>,
    /// Length a sample has when none is asked for.
    pub default_seconds: f64,
}

impl Model {
    /// A stationary process with kernel `kernel`.
    pub fn stationary(kernel: Kernel) -> Self {
        Model {
            name: kernel.to_string(),
            components: vec![Component {
                kernel,
                amplitude: Amplitude::Unit,
            }],
            default_seconds: 1.0,
        }
    }

    /// Cov(f(s), f(t)), s and t in seconds.
    pub fn covariance(&self, s: f64, t: f64) -> f64 {
        self.components
            .iter()
            .map(|c| c.amplitude.at(s) * c.amplitude.at(t) * c.kernel.eval(s - t))
            .sum()
    }
}

/// Named models `gp sample --kernel` accepts besides kernels.
pub const MODEL_PRESETS: &str = "middle-c";

/// A kernel from `spec`: a preset name ([`presets::KERNEL_PRESETS`]), inline
/// JSON (starting with `{`), a JSON file (a path ending in `.json`), or
/// expression text ([`parse_kernel`]).
pub fn kernel_from_spec(text: &str) -> Result<Kernel> {
    let spec = text.trim();
    if let Some(k) = presets::kernel_preset(spec) {
        return Ok(k);
    }
    if spec == "middle-c" {
        return Err(Error::invalid(
            "kernel",
            "middle-c is non-stationary (a mix of two cores); name one core: middle-c-after or middle-c-before",
        ));
    }
    if spec.starts_with('{') {
        return kernel_from_json(spec, "inline JSON");
    }
    if spec.to_ascii_lowercase().ends_with(".json") {
        let path = Path::new(spec);
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        return kernel_from_json(&text, spec);
    }
    // The original text, so that error positions count from its start.
    parse_kernel(text)
}

/// A kernel from its JSON form, every parameter checked.
pub fn kernel_from_json(text: &str, source: &str) -> Result<Kernel> {
    let kernel: Kernel = serde_json::from_str(text)
        .map_err(|e| Error::invalid("kernel", format!("{source}: not a kernel in JSON: {e}")))?;
    kernel
        .validate()
        .map_err(|e| Error::invalid("kernel", format!("{source}: {e}")))?;
    Ok(kernel)
}

/// A model from `spec`: `middle-c`, or any kernel spec as a stationary model.
pub fn model_from_spec(spec: &str) -> Result<Model> {
    if spec.trim() == "middle-c" {
        return Ok(presets::middle_c());
    }
    Ok(Model::stationary(kernel_from_spec(spec)?))
}

/// What to sample: `draws` draws of `n` samples at `rate` Hz from `seed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleConfig {
    pub rate: f64,
    pub n: usize,
    pub draws: usize,
    pub seed: u64,
}

impl SampleConfig {
    /// `draws` draws of `seconds` at `rate` (n = round(seconds * rate)).
    pub fn new(rate: f64, seconds: f64, draws: usize, seed: u64) -> Result<Self> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::invalid("rate", format!("{rate}: must be positive")));
        }
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(Error::invalid(
                "seconds",
                format!("{seconds}: must be positive"),
            ));
        }
        let n = (seconds * rate).round().max(1.0);
        if n > MAX_GRID as f64 {
            return Err(too_large(n as usize));
        }
        let cfg = SampleConfig {
            rate,
            n: n as usize,
            draws,
            seed,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the grid and the output fit in memory.
    pub fn validate(&self) -> Result<()> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(Error::invalid(
                "rate",
                format!("{}: must be positive", self.rate),
            ));
        }
        if self.n == 0 || self.draws == 0 {
            return Err(Error::invalid(
                "grid",
                "ask for at least one draw of at least one sample",
            ));
        }
        if self.n > MAX_GRID {
            return Err(too_large(self.n));
        }
        let bytes = self.n.saturating_mul(self.draws).saturating_mul(4);
        if bytes > MAX_OUTPUT_BYTES {
            return Err(Error::OutOfMemory(format!(
                "{} draws of {} samples need {:.1} GiB of output (at most {} GiB): ask for fewer draws or a shorter grid",
                self.draws,
                self.n,
                bytes as f64 / (1u64 << 30) as f64,
                MAX_OUTPUT_BYTES >> 30
            )));
        }
        Ok(())
    }
}

fn too_large(n: usize) -> Error {
    Error::OutOfMemory(format!(
        "a grid of {n} samples is too large: its circulant embedding would exceed {} points (at most {MAX_GRID} samples)",
        crate::gpu::large_fft::MAX_LEN
    ))
}

/// `draws` draws of `n` samples, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    pub draws: usize,
    pub n: usize,
    pub rate: f64,
    pub data: Vec<f32>,
}

impl Draws {
    /// Draw `i`.
    pub fn draw(&self, i: usize) -> &[f32] {
        &self.data[i * self.n..(i + 1) * self.n]
    }
}
