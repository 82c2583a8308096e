//! The matching-pursuit dictionary: every candidate atom as a column of
//! spectral taps (which analysis bins it lights, and how strongly) plus a set
//! of temporal envelopes (a magnitude decay per analysis frame).
//!
//! A candidate's predicted magnitude spectrogram, starting at frame `o`, is
//! `T[o + t][bin] = ρ^t · w(bin)`: its taps `w` (a harmonic comb through a
//! roll-off and the low-pass, each partial a Hann main lobe; or a noise band)
//! decaying by `ρ` a frame. The columns are:
//!
//! - **tones**: f0 on a 1/8-semitone grid from [`F0_MIN`] to [`F0_MAX`], for each
//!   of [`ROLLOFFS`], with the decays [`TONE_T60S`];
//! - **noise bands**: the compact form's noise-centre codes with the widths
//!   that suit them, with the exponential lengths [`NOISE_LENGTHS`].
//!
//! Every parameter a candidate gives an atom is already on the compact form's
//! grid (see `events::compact`), so choosing a candidate chooses the atom that
//! will be decoded.

use crate::atoms::{Atom, Envelope};
use crate::events::compact;

/// Analysis transform length (at the working rate, 22050 Hz: 93 ms).
pub const N_FFT: usize = 2048;
/// Samples between analysis frames (11.6 ms).
pub const HOP: usize = 256;
/// Lowest and highest candidate f0, Hz.
pub const F0_MIN: f64 = 40.0;
pub const F0_MAX: f64 = 4000.0;
/// Candidate f0s per octave (1/8 semitone).
pub const F0_STEPS_PER_OCTAVE: f64 = 96.0;
/// Partial roll-offs of the tone candidates (compact codes 3, 7 and 11).
pub const ROLLOFFS: [f32; 3] = [0.36, 0.716, 0.929];
/// Decays (T60, s) of the tone candidates (compact codes 13, 16, 19, 22).
pub const TONE_T60S: [f32; 4] = [0.19, 0.45, 1.04, 2.41];
/// Envelope lengths (s, exponential decay constant) of the noise candidates.
pub const NOISE_LENGTHS: [f32; 4] = [0.02, 0.073, 0.27, 0.86];
/// Partials above this fraction of Nyquist are left out of a tone's taps.
const TAP_NYQUIST_FRACTION: f64 = 0.95;
/// Taps weaker than this (relative to the strongest) are left out.
const TAP_FLOOR: f64 = 1e-3;
/// Closing time of every tone candidate, s/octave (a compact code).
const TONE_CLOSING: f32 = 1.28;

/// One column as the scoring kernels read it (keep in sync with `Column` in
/// shaders/pursuit.wgsl; a test checks the size).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Column {
    /// Taps `[tap_first, tap_first + tap_count)` of the tap table.
    pub tap_first: u32,
    pub tap_count: u32,
    /// Envelopes `[env_first, env_first + env_count)` of the envelope table.
    pub env_first: u32,
    pub env_count: u32,
    /// Σ w² over the taps.
    pub norm: f32,
    pub _pad: [u32; 3],
}

/// One spectral tap (keep in sync with `Tap` in shaders/pursuit.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Tap {
    pub bin: u32,
    pub weight: f32,
}

/// What a column stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Tone { f0: f32, rolloff: f32 },
    Noise { centre: f32, width: f32 },
}

/// The whole candidate set at one sample rate.
#[derive(Clone, Debug)]
pub struct Dictionary {
    pub rate: u32,
    pub columns: Vec<Column>,
    pub taps: Vec<Tap>,
    /// Magnitude decay per frame of each envelope.
    pub decays: Vec<f32>,
    /// T60 (tones) or length (noise) of each envelope, s.
    pub envelope_seconds: Vec<f32>,
    pub kinds: Vec<Kind>,
}

impl Dictionary {
    /// The dictionary for analysis at `rate` Hz ([`N_FFT`], [`HOP`]).
    pub fn new(rate: u32) -> Self {
        let fs = rate as f64;
        let frame_seconds = HOP as f64 / fs;
        let mut d = Dictionary {
            rate,
            columns: Vec::new(),
            taps: Vec::new(),
            decays: Vec::new(),
            envelope_seconds: Vec::new(),
            kinds: Vec::new(),
        };
        let t60s: Vec<f32> = TONE_T60S.iter().map(|&t| quantised(5, t)).collect();
        let lengths: Vec<f32> = NOISE_LENGTHS.iter().map(|&l| quantised(11, l)).collect();
        // Tones: magnitude falls 60 dB (a factor 1000) in T60.
        for &t60 in &t60s {
            d.push_envelope((-(1000f64.ln()) * frame_seconds / t60 as f64).exp(), t60);
        }
        for &length in &lengths {
            d.push_envelope((-frame_seconds / length as f64).exp(), length);
        }
        let steps = (F0_STEPS_PER_OCTAVE * (F0_MAX / F0_MIN).log2()).floor() as usize;
        for &rolloff in &ROLLOFFS {
            let rolloff = quantised(4, rolloff);
            for p in 0..=steps {
                let f0 = quantised(2, (F0_MIN * (p as f64 / F0_STEPS_PER_OCTAVE).exp2()) as f32);
                let taps = tone_taps(f0 as f64, rolloff as f64, tone_brightness(f0) as f64, fs);
                d.push_column(Kind::Tone { f0, rolloff }, taps, 0, t60s.len());
            }
        }
        for (centre, width) in noise_bands(fs) {
            let taps = noise_taps(centre as f64, width as f64, fs);
            d.push_column(
                Kind::Noise { centre, width },
                taps,
                t60s.len(),
                lengths.len(),
            );
        }
        d
    }

    fn push_envelope(&mut self, decay: f64, seconds: f32) {
        self.decays.push(decay as f32);
        self.envelope_seconds.push(seconds);
    }

    fn push_column(&mut self, kind: Kind, taps: Vec<Tap>, env_first: usize, env_count: usize) {
        let norm = taps.iter().map(|t| t.weight * t.weight).sum();
        self.columns.push(Column {
            tap_first: self.taps.len() as u32,
            tap_count: taps.len() as u32,
            env_first: env_first as u32,
            env_count: env_count as u32,
            norm,
            _pad: [0; 3],
        });
        self.taps.extend(taps);
        self.kinds.push(kind);
    }

    /// Bins of an analysis frame.
    pub fn bins(&self) -> usize {
        N_FFT / 2 + 1
    }

    /// The atom of `column` with envelope `envelope` (an index into the
    /// envelope table) at `onset` s and `amplitude`.
    pub fn atom(&self, column: usize, envelope: usize, onset: f32, amplitude: f32) -> Atom {
        let seconds = self.envelope_seconds[envelope];
        match self.kinds[column] {
            Kind::Tone { f0, rolloff } => Atom {
                onset,
                amplitude,
                f0,
                spacing: 1.0,
                rolloff,
                t60: seconds,
                brightness: tone_brightness(f0),
                closing: TONE_CLOSING,
                noise_centre: 0.0,
                noise_width: 20.0,
                attack: 0.001,
                length: quantised(11, 0.003),
                mix: 1.0,
                envelope: Envelope::Gamma,
                seed: 0,
            },
            Kind::Noise { centre, width } => Atom {
                onset,
                amplitude,
                f0: quantised(2, 100.0),
                spacing: 1.0,
                rolloff: 0.0,
                t60: 0.005,
                brightness: 40.0,
                closing: 1.28,
                noise_centre: centre,
                noise_width: width,
                attack: 0.0,
                length: seconds,
                mix: 0.0,
                envelope: Envelope::Gamma,
                seed: 0,
            },
        }
    }
}

/// `value` of field `field` as the compact form stores it.
fn quantised(field: usize, value: f32) -> f32 {
    compact::QUANTISERS
        .iter()
        .find(|q| q.field == field)
        .expect("a quantised field")
        .quantise(value)
}

/// The low-pass cutoff of a tone candidate: 16 f0, within 2..10 kHz.
fn tone_brightness(f0: f32) -> f32 {
    quantised(6, (16.0 * f0).clamp(2000.0, 10_240.0))
}

/// Magnitude of a periodic Hann window's transform `delta` bins from its
/// centre, relative to the centre (main lobe and first side lobes).
pub fn hann_lobe(delta: f64) -> f64 {
    let d = delta.abs();
    if d < 1e-9 {
        return 1.0;
    }
    if (d - 1.0).abs() < 1e-9 {
        return 0.5;
    }
    let x = std::f64::consts::PI * d;
    (x.sin() / (x * (1.0 - d * d))).abs()
}

/// Taps of a harmonic tone: partial k at k f0 with amplitude rolloff^(k-1)
/// through the atom's low-pass, spread over the four nearest bins.
fn tone_taps(f0: f64, rolloff: f64, brightness: f64, fs: f64) -> Vec<Tap> {
    let bin_hz = fs / N_FFT as f64;
    let bins = N_FFT / 2 + 1;
    let mut weights = vec![0.0f64; bins];
    for k in 1..=crate::atoms::MAX_PARTIALS {
        let f = f0 * k as f64;
        let a = rolloff.powi(k as i32 - 1) / (1.0 + (f / brightness).powi(4)).sqrt();
        if f > TAP_NYQUIST_FRACTION * fs / 2.0 || a < TAP_FLOOR {
            break;
        }
        let centre = f / bin_hz;
        let first = centre.floor() as i64 - 1;
        for j in first..first + 4 {
            if (0..bins as i64).contains(&j) {
                weights[j as usize] += a * hann_lobe(j as f64 - centre);
            }
        }
    }
    sparse(&weights)
}

/// Taps of a noise band: a gaussian magnitude bump, -3 dB in power at
/// ±width/2 around the centre.
fn noise_taps(centre: f64, width: f64, fs: f64) -> Vec<Tap> {
    let bin_hz = fs / N_FFT as f64;
    let half = width / 2.0;
    let weights: Vec<f64> = (0..=N_FFT / 2)
        .map(|j| {
            let x = (j as f64 * bin_hz - centre) / half;
            (-0.5 * std::f64::consts::LN_2 * x * x).exp()
        })
        .collect();
    sparse(&weights)
}

/// The nonzero weights above the floor, as taps.
fn sparse(weights: &[f64]) -> Vec<Tap> {
    let peak = weights.iter().cloned().fold(0.0, f64::max);
    weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > TAP_FLOOR * peak)
        .map(|(bin, &w)| Tap {
            bin: bin as u32,
            weight: w as f32,
        })
        .collect()
}

/// (centre, width) of the noise candidates: the compact noise-centre codes
/// from 114 Hz to 10 kHz, each with the compact widths from half to twice it
/// (bands reaching past Nyquist kept, their taps cut there).
fn noise_bands(fs: f64) -> Vec<(f32, f32)> {
    let centre_q = compact::QUANTISERS
        .iter()
        .find(|q| q.field == 8)
        .expect("centre");
    let width_q = compact::QUANTISERS
        .iter()
        .find(|q| q.field == 9)
        .expect("width");
    let mut bands = Vec::new();
    for c in 1..centre_q.codes {
        let centre = centre_q.decode(c).expect("a code");
        if !(100.0..=0.5 * fs as f32).contains(&centre) {
            continue;
        }
        for w in 0..width_q.codes {
            let width = width_q.decode(w).expect("a code");
            if width >= 0.5 * centre && width <= 2.5 * centre {
                bands.push((centre, width));
            }
        }
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_sit_on_the_compact_grid() {
        let d = Dictionary::new(22_050);
        assert_eq!(d.columns.len(), d.kinds.len());
        assert!(d.columns.len() > 1900, "{} columns", d.columns.len());
        for c in [0, 700, d.columns.len() - 1] {
            for e in 0..d.decays.len() {
                let column = &d.columns[c];
                if !(column.env_first as usize..(column.env_first + column.env_count) as usize)
                    .contains(&e)
                {
                    continue;
                }
                let atom = d.atom(c, e, 0.5, 0.01);
                atom.validate().unwrap();
                let q = compact::quantise(&atom);
                assert_eq!(
                    q.fields()[2..],
                    atom.fields()[2..],
                    "column {c} envelope {e}"
                );
            }
        }
        assert!(d.columns.iter().all(|c| c.tap_count > 0 && c.norm > 0.0));
    }

    #[test]
    fn hann_lobe_is_the_window_transform() {
        // Periodic Hann of N points: W(δ) ∝ sin(πδ)/(πδ(1-δ²)) for large N.
        let n = 4096;
        let w: Vec<f64> = (0..n)
            .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos())
            .collect();
        let at = |delta: f64| {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, v) in w.iter().enumerate() {
                let phase = std::f64::consts::TAU * delta * i as f64 / n as f64;
                re += v * phase.cos();
                im += v * phase.sin();
            }
            (re * re + im * im).sqrt() / (n as f64 / 2.0)
        };
        for delta in [0.0, 0.25, 0.5, 1.0, 1.5, 2.5] {
            assert!((hann_lobe(delta) - at(delta)).abs() < 1e-3, "δ = {delta}");
        }
    }
}
