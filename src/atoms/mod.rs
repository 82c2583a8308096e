//! The atom: one sound event with physical parameters, and its renderers.
//!
//! An atom is a burst of band-limited noise under a gaussian or gamma envelope
//! that rings a resonance of exponentially decaying partials, heard through a
//! low-pass that closes over time; an equal-power mix sets how much of each is
//! heard. Every field is in physical units (seconds, hertz, linear gain), so an
//! event list can be read and edited by a musician or an acoustician.
//!
//! The model, sample by sample (τ = time since the onset in seconds, fs the
//! sample rate; the atom is silent before its onset):
//!
//! - envelope `e(τ)`: gaussian `exp(-(τ-attack)²/(2 length²))`, or gamma
//!   `(τ/attack)^p exp(p - τ/length)` with `p = attack/length` (peak 1 at
//!   `τ = attack`, then an e-fold decay every `length` seconds);
//! - noise `ν(τ)`: white noise from a counter-based hash of (seed, grid index),
//!   interpolated by cubic B-splines on a grid fine enough for the band, in
//!   quadrature, shifted to `noise_centre`: a band of -3 dB full width
//!   `noise_width` around the centre, unit variance everywhere;
//! - burst `b(τ) = e(τ) ν(τ)`;
//! - resonance `r(τ) = R(τ) Σ_k rolloff^(k-1) g_k(τ) sin(2π(f_k τ + φ_k))`
//!   with partial frequencies `f_k = f0 (1 + (k-1) spacing)` (spacing 1:
//!   harmonic), random phases `φ_k` from the seed, the amplitude envelope
//!   `R = e ∗ exp(-β τ)` (the burst's envelope rung through the decay,
//!   `β = ln(1000)/t60`), and the evolving low-pass gain
//!   `g_k(τ) = 1/sqrt(1 + (f_k/c(τ))⁴)`, `c(τ) = brightness · 2^(-τ/closing)`
//!   (a second-order low-pass whose cutoff closes one octave every `closing`
//!   seconds);
//! - output `x = amplitude √fs (cos(π/2 mix) b/‖b‖ + sin(π/2 mix) r/‖r‖)`,
//!   where ‖·‖ are the nominal (expected) energies, so that Σx²/fs =
//!   amplitude²: `amplitude` is the RMS level the atom's energy would have
//!   spread over one second, independent of the sample rate.

pub mod cpu;
pub mod fit;
pub mod gpu;
pub mod grad;
pub mod prepare;
pub mod random;

pub use prepare::{
    KNOT_SPACING, MAX_PARTIALS, PreparedAtoms, atom_with_gains, gains_of, prepare,
    prepare_for_gradient,
};
pub use random::random_atoms;

use crate::error::{Error, Result};

/// The envelope family of an atom's noise burst.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    /// `exp(-(τ-attack)²/(2 length²))`: symmetric around its peak; starts
    /// abruptly if `attack` is short against `length`.
    #[default]
    Gaussian,
    /// `(τ/attack)^p exp(p - τ/length)`, `p = attack/length`: starts at zero,
    /// peaks at `attack`, decays with time constant `length`.
    Gamma,
}

impl Envelope {
    /// The code used in binary event files and on the GPU.
    pub fn code(self) -> u32 {
        match self {
            Envelope::Gaussian => 0,
            Envelope::Gamma => 1,
        }
    }

    /// The envelope for a code, if it is one.
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Envelope::Gaussian),
            1 => Some(Envelope::Gamma),
            _ => None,
        }
    }
}

/// One sound event. See the module documentation for the model.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Atom {
    /// Start of the event, seconds from the beginning of the file.
    pub onset: f32,
    /// Level: the RMS the atom's energy would have spread over one second
    /// (Σx²/fs = amplitude²). Linear; doubling it doubles the output.
    pub amplitude: f32,
    /// Frequency of the lowest partial, Hz.
    pub f0: f32,
    /// Partial k sits at f0·(1 + (k-1)·spacing): 1 is harmonic, other values
    /// give inharmonic (bell, bar) spectra.
    pub spacing: f32,
    /// Amplitude ratio of each partial to the one below it (0: a pure tone).
    pub rolloff: f32,
    /// Time for the resonance to decay by 60 dB once the burst is over, s.
    pub t60: f32,
    /// Cutoff of the resonance's low-pass at the onset, Hz.
    pub brightness: f32,
    /// Seconds for that cutoff to fall by one octave.
    pub closing: f32,
    /// Centre of the noise band, Hz.
    pub noise_centre: f32,
    /// Full width of the noise band between its -3 dB points, Hz.
    pub noise_width: f32,
    /// Time from the onset to the envelope's peak, s.
    pub attack: f32,
    /// Envelope width: the gaussian's standard deviation, or the gamma's decay
    /// time constant, s.
    pub length: f32,
    /// Equal-power balance of noise (0) and resonance (1).
    pub mix: f32,
    /// Shape of the burst envelope.
    pub envelope: Envelope,
    /// Seed of the atom's noise and partial phases.
    pub seed: u32,
}

/// A numeric field of [`Atom`]: its name, unit and the closed range a file or a
/// caller may give it. Readers and [`Atom::validate`] check every field against
/// these.
#[derive(Clone, Copy, Debug)]
pub struct FieldRange {
    pub name: &'static str,
    pub unit: &'static str,
    pub min: f32,
    pub max: f32,
}

/// Longest time an onset may have, s (a day: longer files are split).
pub const MAX_ONSET: f32 = 86_400.0;

/// The ranges of the f32 fields, in [`Atom::fields`] order.
pub const FIELD_RANGES: [FieldRange; 13] = [
    range("onset", "s", 0.0, MAX_ONSET),
    range("amplitude", "linear", 0.0, 1.0e3),
    range("f0", "Hz", 10.0, 24_000.0),
    range("spacing", "ratio", 0.05, 4.0),
    range("rolloff", "ratio", 0.0, 1.0),
    range("t60", "s", 0.005, 30.0),
    range("brightness", "Hz", 20.0, 100_000.0),
    range("closing", "s/octave", 0.01, 1000.0),
    range("noise_centre", "Hz", 0.0, 24_000.0),
    range("noise_width", "Hz", 10.0, 48_000.0),
    range("attack", "s", 0.0, 5.0),
    range("length", "s", 0.0005, 5.0),
    range("mix", "0..1", 0.0, 1.0),
];

const fn range(name: &'static str, unit: &'static str, min: f32, max: f32) -> FieldRange {
    FieldRange {
        name,
        unit,
        min,
        max,
    }
}

impl Atom {
    /// The f32 fields in [`FIELD_RANGES`] order.
    pub fn fields(&self) -> [f32; 13] {
        [
            self.onset,
            self.amplitude,
            self.f0,
            self.spacing,
            self.rolloff,
            self.t60,
            self.brightness,
            self.closing,
            self.noise_centre,
            self.noise_width,
            self.attack,
            self.length,
            self.mix,
        ]
    }

    /// An atom from the f32 fields in [`FIELD_RANGES`] order.
    pub fn from_fields(f: [f32; 13], envelope: Envelope, seed: u32) -> Self {
        Atom {
            onset: f[0],
            amplitude: f[1],
            f0: f[2],
            spacing: f[3],
            rolloff: f[4],
            t60: f[5],
            brightness: f[6],
            closing: f[7],
            noise_centre: f[8],
            noise_width: f[9],
            attack: f[10],
            length: f[11],
            mix: f[12],
            envelope,
            seed,
        }
    }

    /// Fails with a message naming the first field that is not finite or out
    /// of its range.
    pub fn validate(&self) -> Result<()> {
        self.out_of_range()
            .map_or(Ok(()), |m| Err(Error::invalid("atom", m)))
    }

    /// What is wrong with the first field outside its range, if any.
    pub fn out_of_range(&self) -> Option<String> {
        self.fields()
            .into_iter()
            .zip(FIELD_RANGES)
            .find(|(value, r)| !(*value >= r.min && *value <= r.max))
            .map(|(value, r)| {
                format!(
                    "{} = {value} {} is outside {}..={}",
                    r.name, r.unit, r.min, r.max
                )
            })
    }

    /// A plucked-string-like default at `f0` Hz starting at `onset` s: handy
    /// for examples and tests.
    pub fn tone(onset: f32, f0: f32) -> Self {
        Atom {
            onset,
            amplitude: 0.1,
            f0,
            spacing: 1.0,
            rolloff: 0.6,
            t60: 1.0,
            brightness: 4000.0,
            closing: 1.0,
            noise_centre: 2000.0,
            noise_width: 2000.0,
            attack: 0.002,
            length: 0.01,
            mix: 0.8,
            envelope: Envelope::Gamma,
            seed: 1,
        }
    }
}

/// `f(first, chunk)` over `items` cut into one contiguous chunk per thread of
/// `threads` (0: all cores), each at least `min_chunk` long, on scoped
/// threads; the results come back in order.
pub(crate) fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    min_chunk: usize,
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    let threads = crate::stft::cpu::resolve_threads(threads);
    let size = items.len().div_ceil(threads).max(min_chunk).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(size)
            .enumerate()
            .map(|(c, chunk)| scope.spawn(move || f(c * size, chunk)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("atom worker thread panicked"))
            .collect()
    })
}

/// Checks every atom and the sample rate a render needs.
pub fn validate_all(atoms: &[Atom], rate: u32) -> Result<()> {
    if !(8_000..=192_000).contains(&rate) {
        return Err(Error::invalid(
            "sample rate",
            format!("{rate} Hz: use 8000..=192000"),
        ));
    }
    match atoms
        .iter()
        .enumerate()
        .find_map(|(i, a)| a.out_of_range().map(|m| format!("event {i}: {m}")))
    {
        Some(message) => Err(Error::invalid("atom", message)),
        None => Ok(()),
    }
}
