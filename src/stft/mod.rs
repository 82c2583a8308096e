//! Batched short-time Fourier transforms, forward and inverse, on the GPU
//! ([`gpu`]) and on the CPU ([`cpu`], also the f64 reference the tests use).
//!
//! Framing is torch.stft's with `center=True, pad_mode="reflect",
//! onesided=True, normalized=False`: a signal of L samples gives 1 + L / hop
//! frames, frame f centred on sample f * hop, the signal reflected (without
//! repeating the edge sample) at both ends; N / 2 + 1 bins per frame.

pub mod cpu;
pub mod gpu;
pub mod loss;

use crate::error::{Error, Result, check_finite};
use crate::gpu::fft::{MAX_N_FFT, MIN_N_FFT};
use std::f64::consts::PI;

/// Analysis window (periodic form, as `torch.hann_window(N)` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum Window {
    #[default]
    Hann,
    Hamming,
    Blackman,
    Rectangular,
}

impl Window {
    /// (a0, a1, a2) of the cosine sum `w[t] = a0 - a1 cos(2 pi t / N) + a2 cos(4 pi t / N)`.
    pub fn cosine_terms(self) -> [f64; 3] {
        match self {
            Window::Hann => [0.5, 0.5, 0.0],
            Window::Hamming => [0.54, 0.46, 0.0],
            Window::Blackman => [0.42, 0.5, 0.08],
            Window::Rectangular => [1.0, 0.0, 0.0],
        }
    }

    /// The N window coefficients, periodic (the DFT-even form).
    pub fn coefficients(self, n: usize) -> Vec<f64> {
        let [a0, a1, a2] = self.cosine_terms();
        (0..n)
            .map(|i| {
                let phase = 2.0 * PI * i as f64 / n as f64;
                a0 - a1 * phase.cos() + a2 * (2.0 * phase).cos()
            })
            .collect()
    }

    /// Parses "hann", "hamming", "blackman" or "rectangular" ("rect", "boxcar").
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "hann" | "hanning" => Ok(Window::Hann),
            "hamming" => Ok(Window::Hamming),
            "blackman" => Ok(Window::Blackman),
            "rectangular" | "rect" | "boxcar" => Ok(Window::Rectangular),
            _ => Err(Error::invalid(
                "window",
                format!("{name:?}: use hann, hamming, blackman or rectangular"),
            )),
        }
    }
}

/// What each bin of the output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum SpectrumFormat {
    /// Complex value, stored as (re, im) pairs.
    #[default]
    Complex,
    /// |X|.
    Magnitude,
    /// |X|^2.
    Power,
    /// 10 log10(max(|X|^2, 1e-10)), as librosa.power_to_db without a reference.
    Db,
}

impl SpectrumFormat {
    /// Floats per bin.
    pub fn floats_per_bin(self) -> usize {
        if self == SpectrumFormat::Complex {
            2
        } else {
            1
        }
    }

    /// Converts complex bins to this format into `out` (`floats_per_bin` floats
    /// a bin): the CPU side of the shader's `to_bin`.
    pub fn convert(self, bins: &[rustfft::num_complex::Complex<f32>], out: &mut [f32]) {
        let power = |x: &rustfft::num_complex::Complex<f32>| x.re * x.re + x.im * x.im;
        match self {
            SpectrumFormat::Complex => {
                for (o, x) in out.chunks_exact_mut(2).zip(bins) {
                    o.copy_from_slice(&[x.re, x.im]);
                }
            }
            SpectrumFormat::Magnitude => out
                .iter_mut()
                .zip(bins)
                .for_each(|(o, x)| *o = power(x).sqrt()),
            SpectrumFormat::Power => out.iter_mut().zip(bins).for_each(|(o, x)| *o = power(x)),
            SpectrumFormat::Db => out
                .iter_mut()
                .zip(bins)
                .for_each(|(o, x)| *o = 10.0 * power(x).max(1e-10).log10()),
        }
    }

    /// Parses "complex", "magnitude", "power" or "db".
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "complex" => Ok(SpectrumFormat::Complex),
            "magnitude" | "mag" => Ok(SpectrumFormat::Magnitude),
            "power" => Ok(SpectrumFormat::Power),
            "db" => Ok(SpectrumFormat::Db),
            _ => Err(Error::invalid(
                "output format",
                format!("{name:?}: use complex, magnitude, power or db"),
            )),
        }
    }
}

/// One STFT resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StftConfig {
    /// Transform (and window) length, a power of two from 16 to 8192.
    pub n_fft: usize,
    /// Samples between frame centres, 1..=n_fft.
    pub hop: usize,
    pub window: Window,
    pub format: SpectrumFormat,
}

impl StftConfig {
    /// A Hann-windowed, complex-output configuration.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        StftConfig {
            n_fft,
            hop,
            window: Window::Hann,
            format: SpectrumFormat::Complex,
        }
    }

    /// The same configuration with another output format.
    pub fn with_format(self, format: SpectrumFormat) -> Self {
        StftConfig { format, ..self }
    }

    /// One-sided bins per frame.
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames for a signal of `len` samples (centre padding).
    pub fn frames(&self, len: usize) -> usize {
        1 + len / self.hop
    }

    /// Checks the transform parameters on their own.
    pub fn validate(&self) -> Result<()> {
        if !self.n_fft.is_power_of_two() || !(MIN_N_FFT..=MAX_N_FFT).contains(&self.n_fft) {
            return Err(Error::invalid(
                "n_fft",
                format!(
                    "{} is not supported: use a power of two from {MIN_N_FFT} to {MAX_N_FFT}",
                    self.n_fft
                ),
            ));
        }
        if self.hop == 0 || self.hop > self.n_fft {
            return Err(Error::invalid(
                "hop",
                format!("{} must be between 1 and n_fft ({})", self.hop, self.n_fft),
            ));
        }
        Ok(())
    }

    /// Checks that signals of `len` samples can be framed (reflect padding needs
    /// more than n_fft / 2 samples, as in torch).
    pub fn validate_for_length(&self, len: usize) -> Result<()> {
        self.validate()?;
        if len <= self.n_fft / 2 {
            return Err(Error::invalid(
                "signal length",
                format!(
                    "{len} samples is too short for n_fft {}: reflect padding needs more than {} samples",
                    self.n_fft,
                    self.n_fft / 2
                ),
            ));
        }
        Ok(())
    }

    /// Checks the nonzero-overlap-add condition the inverse needs: the summed
    /// squared window must stay clear of zero everywhere.
    pub fn validate_invertible(&self) -> Result<()> {
        self.validate()?;
        let w = self.window.coefficients(self.n_fft);
        let min_envelope = (0..self.hop)
            .map(|t| {
                w.iter()
                    .skip(t)
                    .step_by(self.hop)
                    .map(|v| v * v)
                    .sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min);
        if min_envelope < 1e-11 {
            return Err(Error::invalid(
                "hop",
                format!(
                    "{} with a {:?} window of {} violates the nonzero overlap-add condition; use a smaller hop",
                    self.hop, self.window, self.n_fft
                ),
            ));
        }
        Ok(())
    }
}

/// A batch of spectrograms: `signals` x `frames` x `bins` values of `format`
/// (complex values as interleaved (re, im) pairs), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    pub signals: usize,
    pub frames: usize,
    pub bins: usize,
    pub format: SpectrumFormat,
    pub data: Vec<f32>,
}

impl Spectrogram {
    /// Floats per signal.
    pub fn floats_per_signal(&self) -> usize {
        self.frames * self.bins * self.format.floats_per_bin()
    }

    /// The values of one signal (frames x bins).
    pub fn signal(&self, index: usize) -> &[f32] {
        let n = self.floats_per_signal();
        &self.data[index * n..(index + 1) * n]
    }
}

/// Checks a batch: at least one signal, all the same non-zero length, finite.
/// Returns the common length.
pub fn check_batch(signals: &[&[f32]]) -> Result<usize> {
    let first = signals
        .first()
        .ok_or_else(|| Error::invalid("batch", "no signals given"))?;
    let len = first.len();
    if len == 0 {
        return Err(Error::invalid("batch", "signal 0 is empty"));
    }
    for (i, s) in signals.iter().enumerate() {
        if s.len() != len {
            return Err(Error::invalid(
                "batch",
                format!(
                    "signal {i} has {} samples, signal 0 has {len}: a batch needs equal lengths",
                    s.len()
                ),
            ));
        }
        check_finite(&format!("signal {i}"), s)?;
    }
    Ok(len)
}

/// Index of padded sample `t` (may be negative or past the end) in a signal of
/// `len` samples, reflecting at both ends as numpy / torch "reflect" padding.
pub fn reflect_index(t: isize, len: usize) -> usize {
    let last = len as isize - 1;
    let mut u = t.abs();
    if u > last {
        u = 2 * last - u;
    }
    u as usize
}
