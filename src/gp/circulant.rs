//! Circulant embedding: a stationary kernel on n grid points is embedded in a
//! circle of M >= 2(n - 1) points (c_j = k(min(j, M - j) / rate)); its
//! eigenvalues are lambda = FFT(c). When every lambda >= 0, FFT(sqrt(lambda/M)
//! times complex white noise) has real and imaginary parts that are two
//! independent exact draws on the first n points. M starts at the smallest
//! power of two >= 2(n - 1) and doubles until every eigenvalue is non-negative;
//! if that does not happen the kernel is refused with the reason, never clipped.
//! Eigenvalues are computed in f64 on the CPU (rustfft); this is the setup both
//! samplers share and what `gp check` reports.

use super::kernel::{Kernel, Oscillator};
use super::{MAX_GRID, Model};
use crate::error::{Error, Result};
use crate::gpu::large_fft::{MAX_LEN, MIN_LEN};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Eigenvalues above -TOLERANCE * (largest eigenvalue) count as zero (f64
/// rounding of the transform); anything more negative is a real failure.
pub const TOLERANCE: f64 = 1e-9;
/// Doublings of M tried past the smallest embedding before giving up.
const MAX_DOUBLINGS: u32 = 4;

/// The smallest embedding for `n` points: a power of two >= 2(n - 1), at least 64.
pub fn smallest_embedding(n: usize) -> usize {
    (2 * n.saturating_sub(1)).next_power_of_two().max(MIN_LEN)
}

/// Largest M tried for `n` points of `kernel`: 16 times the smallest, and
/// at least twice the lag by which the kernel has decayed below 1e-3 of
/// k(0) (when it does within the largest transform).
fn largest_embedding(kernel: &Kernel, rate: f64, n: usize) -> usize {
    let peak = kernel.eval(0.0).abs();
    let decayed = |lag: usize| {
        (0..16).all(|i| {
            kernel
                .eval(lag as f64 * (1.0 + i as f64 / 16.0) / rate)
                .abs()
                < 1e-3 * peak
        })
    };
    let mut lag = 1;
    while lag < MAX_LEN / 2 && !decayed(lag) {
        lag *= 2;
    }
    let covering = if decayed(lag) { 2 * lag } else { 0 };
    (smallest_embedding(n) << MAX_DOUBLINGS)
        .max(covering)
        .clamp(1 << 16, MAX_LEN)
}

/// Eigenvalues of the circulant embedding of `kernel` at `rate` on `m` points.
pub fn eigenvalues(kernel: &Kernel, rate: f64, m: usize) -> Vec<f64> {
    let mut c: Vec<Complex<f64>> = (0..m)
        .map(|j| Complex::new(kernel.eval(j.min(m - j) as f64 / rate), 0.0))
        .collect();
    FftPlanner::<f64>::new().plan_fft_forward(m).process(&mut c);
    c.iter().map(|z| z.re).collect()
}

/// The spectrum of one embedding size, summarised.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SpectrumCheck {
    pub m: usize,
    pub smallest: f64,
    /// Frequency (Hz) of the smallest eigenvalue.
    pub smallest_at_hz: f64,
    pub largest: f64,
    /// Every eigenvalue >= -TOLERANCE * largest.
    pub non_negative: bool,
}

fn summarise(lambda: &[f64], rate: f64) -> SpectrumCheck {
    let m = lambda.len();
    let (j, &smallest) = lambda
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("m > 0");
    let largest = lambda.iter().copied().fold(0.0, f64::max);
    SpectrumCheck {
        m,
        smallest,
        smallest_at_hz: j.min(m - j) as f64 * rate / m as f64,
        largest,
        non_negative: smallest >= -TOLERANCE * largest,
    }
}

/// Whether a kernel is positive definite on a grid, and why not.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Validity {
    pub kernel: String,
    pub rate: f64,
    pub n: usize,
    /// Every embedding size tried, smallest first.
    pub tried: Vec<SpectrumCheck>,
    /// The embedding size that works, if one does.
    pub embedding: Option<usize>,
    /// The damped-oscillator form's negative terms (empty when it has none
    /// or no such form).
    pub negative_terms: Vec<Oscillator>,
    /// Whether the kernel has a damped-oscillator form (then the state-space
    /// sampler applies when no term is negative).
    pub oscillator_form: bool,
    pub valid: bool,
    /// The verdict in words.
    pub verdict: String,
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "kernel: {}", self.kernel)?;
        writeln!(f, "grid:   {} samples at {} Hz", self.n, self.rate)?;
        for t in &self.tried {
            writeln!(
                f,
                "  embedding M = {:>8}: smallest eigenvalue {:.4e} (at {:.2} Hz), largest {:.4e}{}",
                t.m,
                t.smallest,
                t.smallest_at_hz,
                t.largest,
                if t.non_negative { "" } else { "  NEGATIVE" }
            )?;
        }
        for t in &self.negative_terms {
            writeln!(f, "  negative term: {t}")?;
        }
        writeln!(f, "{}", self.verdict)
    }
}

/// Checks `kernel` on `n` points at `rate`: embeddings of growing size, and
/// the damped-oscillator form's weights where it has one.
pub fn check_kernel(kernel: &Kernel, rate: f64, n: usize) -> Result<Validity> {
    let (tried, _) = grow(kernel, rate, n)?;
    let terms = kernel.oscillators();
    let negative_terms: Vec<Oscillator> = terms
        .iter()
        .flatten()
        .filter(|t| t.weight < -TOLERANCE * total_weight(terms.as_deref().unwrap_or(&[])))
        .copied()
        .collect();
    let last = *tried.last().expect("at least one size tried");
    let embedding = last.non_negative.then_some(last.m);
    let valid = embedding.is_some();
    let verdict = if valid {
        format!(
            "VALID: positive semi-definite on this grid (circulant embedding of M = {} points, every eigenvalue >= 0){}",
            last.m,
            if negative_terms.is_empty() {
                ""
            } else {
                "; note its damped-oscillator form has negative terms, so the state-space sampler refuses it"
            }
        )
    } else {
        explain_invalid(kernel, rate, &last, &negative_terms)
    };
    Ok(Validity {
        kernel: kernel.to_string(),
        rate,
        n,
        tried,
        embedding,
        negative_terms,
        oscillator_form: terms.is_some(),
        valid,
        verdict,
    })
}

fn total_weight(terms: &[Oscillator]) -> f64 {
    terms.iter().map(|t| t.weight.abs()).sum()
}

/// Why the largest embedding tried still has a negative eigenvalue: the
/// kernel itself when it has decayed by the wrap-around lag (below 1e-3 of
/// k(0)), else the embedding.
fn explain_invalid(
    kernel: &Kernel,
    rate: f64,
    last: &SpectrumCheck,
    negative_terms: &[Oscillator],
) -> String {
    let wrap = kernel.eval(last.m as f64 / 2.0 / rate).abs();
    let peak = kernel.eval(0.0).abs().max(f64::MIN_POSITIVE);
    let mut why = if wrap < 1e-3 * peak {
        format!(
            "NOT positive definite: the smallest eigenvalue stays negative ({:.4e} at {:.2} Hz) as the embedding grows (up to M = {}), so the kernel's spectrum itself is negative near {:.2} Hz",
            last.smallest, last.smallest_at_hz, last.m, last.smallest_at_hz
        )
    } else {
        format!(
            "NOT usable on this grid: the circulant embedding still has a negative eigenvalue ({:.4e} at {:.2} Hz) at M = {} points, where the kernel has not decayed (k = {:.3e} of k(0) at lag M/2); a shorter grid or a shorter lengthscale may work",
            last.smallest,
            last.smallest_at_hz,
            last.m,
            wrap / peak
        )
    };
    if let Some(t) = negative_terms.first() {
        why.push_str(&format!(
            ". Its damped-oscillator form has {} negative term(s), e.g. {t}: a sum of damped cosines is valid when every weight is >= 0",
            negative_terms.len()
        ));
    }
    why
}

/// Embedding sizes from the smallest, doubling while an eigenvalue is
/// negative; returns the summaries and the last size's eigenvalues.
fn grow(kernel: &Kernel, rate: f64, n: usize) -> Result<(Vec<SpectrumCheck>, Vec<f64>)> {
    if n == 0 || n > MAX_GRID {
        return Err(Error::OutOfMemory(format!(
            "a grid of {n} samples cannot be embedded (1 to {MAX_GRID} samples)"
        )));
    }
    let mut m = smallest_embedding(n);
    let largest = largest_embedding(kernel, rate, n);
    let mut tried = Vec::new();
    loop {
        let lambda = eigenvalues(kernel, rate, m);
        let check = summarise(&lambda, rate);
        tried.push(check);
        if check.non_negative || m >= largest {
            return Ok((tried, lambda));
        }
        m *= 2;
    }
}

/// Everything a circulant sampler needs: the embedding size, each
/// component's sqrt(lambda / M), and each component's amplitude on the grid.
#[derive(Debug, Clone)]
pub struct Embedding {
    pub m: usize,
    pub n: usize,
    pub rate: f64,
    /// Per component, M values sqrt(max(lambda, 0) / M) (only rounding-level
    /// negatives, above -TOLERANCE * largest, are set to zero).
    pub sqrt_spectrum: Vec<Vec<f64>>,
    /// Per component, n values a_c(i / rate).
    pub amplitudes: Vec<Vec<f64>>,
}

impl Embedding {
    /// Embeds every component of `model` on `n` points at `rate`, all with the
    /// same M (the largest any needs); an error names a component that no
    /// embedding size makes valid.
    pub fn new(model: &Model, rate: f64, n: usize) -> Result<Self> {
        let mut m = MIN_LEN;
        let mut grown = Vec::with_capacity(model.components.len());
        for c in &model.components {
            let (tried, lambda) = grow(&c.kernel, rate, n)?;
            let last = *tried.last().expect("one size tried");
            if !last.non_negative {
                let validity = check_kernel(&c.kernel, rate, n)?;
                return Err(Error::InvalidKernel {
                    kernel: c.kernel.to_string(),
                    reason: validity.verdict,
                });
            }
            m = m.max(last.m);
            grown.push(lambda);
        }
        let mut sqrt_spectrum = Vec::with_capacity(model.components.len());
        for (c, lambda) in model.components.iter().zip(grown) {
            let lambda = if lambda.len() == m {
                lambda
            } else {
                eigenvalues(&c.kernel, rate, m)
            };
            let check = summarise(&lambda, rate);
            if !check.non_negative {
                return Err(Error::InvalidKernel {
                    kernel: c.kernel.to_string(),
                    reason: format!(
                        "its embedding of M = {m} points (the size another component needs) has eigenvalue {:.4e}",
                        check.smallest
                    ),
                });
            }
            sqrt_spectrum.push(
                lambda
                    .iter()
                    .map(|&l| (l.max(0.0) / m as f64).sqrt())
                    .collect(),
            );
        }
        let amplitudes = model
            .components
            .iter()
            .map(|c| c.amplitude.on_grid(rate, n))
            .collect();
        Ok(Embedding {
            m,
            n,
            rate,
            sqrt_spectrum,
            amplitudes,
        })
    }

    /// Number of components.
    pub fn components(&self) -> usize {
        self.sqrt_spectrum.len()
    }
}
