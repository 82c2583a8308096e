//! The triangular mel filterbank of `audio_metrics.py`'s `mel_fb`: HTK mel
//! scale (2595 log10(1 + f / 700)), `n_mels + 2` points evenly spaced in mel
//! from 0 Hz to Nyquist, triangles of unit height (no area normalisation) over
//! the one-sided FFT bin frequencies.

use crate::error::{Error, Result};

/// Hz to mel on the HTK scale: 2595 log10(1 + f / 700).
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Mel to Hz, the inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// `n_mels` triangular filters over the `n_fft / 2 + 1` bins of an `n_fft`-point
/// transform at `rate` Hz, stored sparsely: each row keeps the weights from its
/// first to its last nonzero bin. Rows can be all zero (several filters between
/// two bins when `n_mels` is large for `n_fft`).
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    pub rate: u32,
    pub n_fft: usize,
    pub n_mels: usize,
    /// Per row: its first nonzero bin and the weights from there on.
    rows: Vec<(usize, Vec<f64>)>,
}

impl MelFilterbank {
    /// Builds the filterbank exactly as `mel_fb(rate, n_fft, n_mels)` does.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `rate`, `n_fft` or `n_mels` is 0.
    pub fn new(rate: u32, n_fft: usize, n_mels: usize) -> Result<Self> {
        if rate == 0 || n_fft == 0 || n_mels == 0 {
            return Err(Error::invalid(
                "mel filterbank",
                format!("rate {rate} Hz, n_fft {n_fft}, {n_mels} bands: all must be positive"),
            ));
        }
        let edges = band_edges_hz(f64::from(rate) / 2.0, n_mels);
        let freqs = bin_frequencies(rate, n_fft);
        let rows = edges
            .windows(3)
            .map(|e| {
                let (lo, centre, hi) = (e[0], e[1], e[2]);
                let weights: Vec<f64> = freqs
                    .iter()
                    .map(|&f| {
                        let up = (f - lo) / (centre - lo).max(1e-9);
                        let down = (hi - f) / (hi - centre).max(1e-9);
                        up.min(down).max(0.0)
                    })
                    .collect();
                trim_zeros(&weights)
            })
            .collect();
        Ok(MelFilterbank {
            rate,
            n_fft,
            n_mels,
            rows,
        })
    }

    /// Bins per spectrum frame: `n_fft / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Row `m`: its first nonzero bin and the weights from there on (empty for
    /// an all-zero row).
    pub fn row(&self, m: usize) -> (usize, &[f64]) {
        let (first, weights) = &self.rows[m];
        (*first, weights)
    }

    /// The weight of bin `k` in band `m` (zero outside the row's span).
    pub fn weight(&self, m: usize, k: usize) -> f64 {
        let (first, weights) = self.row(m);
        k.checked_sub(first)
            .and_then(|i| weights.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// Band energies of one magnitude frame (`bins()` values) into `out` (`n_mels`).
    pub fn apply(&self, frame: &[f64], out: &mut [f64]) {
        for (o, (first, weights)) in out.iter_mut().zip(&self.rows) {
            *o = frame[*first..]
                .iter()
                .zip(weights)
                .map(|(x, w)| x * w)
                .sum();
        }
    }
}

/// `n_mels + 2` band edges in Hz, evenly spaced in mel from 0 to `fmax`
/// (numpy.linspace: start + i * step, the last point exactly the stop).
fn band_edges_hz(fmax: f64, n_mels: usize) -> Vec<f64> {
    let (start, stop) = (hz_to_mel(0.0), hz_to_mel(fmax));
    let points = n_mels + 2;
    let step = (stop - start) / (points - 1) as f64;
    (0..points)
        .map(|i| {
            let mel = if i + 1 == points {
                stop
            } else {
                start + i as f64 * step
            };
            mel_to_hz(mel)
        })
        .collect()
}

/// The one-sided bin frequencies, as numpy.fft.rfftfreq(n_fft, 1 / rate).
fn bin_frequencies(rate: u32, n_fft: usize) -> Vec<f64> {
    let spacing = 1.0 / (n_fft as f64 * (1.0 / f64::from(rate)));
    (0..=n_fft / 2).map(|k| k as f64 * spacing).collect()
}

/// (first nonzero index, values up to the last nonzero), or (0, []) if all zero.
fn trim_zeros(values: &[f64]) -> (usize, Vec<f64>) {
    match values.iter().position(|&v| v != 0.0) {
        Some(first) => {
            let last = values.iter().rposition(|&v| v != 0.0).unwrap_or(first);
            (first, values[first..=last].to_vec())
        }
        None => (0, Vec::new()),
    }
}
