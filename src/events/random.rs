//! Random event lists with musically plausible parameters, for benchmarks and
//! tests: deterministic for a given seed.

use super::EventList;
use crate::atoms::{Atom, Envelope, MAX_ONSET};
use crate::error::{Error, Result};

/// SplitMix64: small, seedable, the same on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn between(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.uniform()) as f32
    }

    /// Log-uniform in [lo, hi).
    fn log_between(&mut self, lo: f64, hi: f64) -> f32 {
        (lo * (hi / lo).powf(self.uniform())) as f32
    }
}

/// `count` random valid atoms over `seconds` s at `rate` Hz, sorted by onset:
/// onsets uniform over the duration, f0 log-uniform over 40..4000 Hz, levels
/// log-uniform over -40..-10 dB, most spectra harmonic, decays, envelopes and
/// noise bands log-uniform over typical ranges.
pub fn random(count: usize, seconds: f32, rate: u32, seed: u64) -> Result<EventList> {
    if !(seconds > 0.0 && seconds <= MAX_ONSET) {
        return Err(Error::invalid(
            "seconds",
            format!("{seconds}: use a duration in (0, {MAX_ONSET}] s"),
        ));
    }
    let mut rng = SplitMix(seed);
    let mut events: Vec<Atom> = (0..count)
        .map(|_| random_atom(&mut rng, f64::from(seconds)))
        .collect();
    events.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    let list = EventList::new(rate, seconds, events);
    list.validate()?;
    Ok(list)
}

fn random_atom(rng: &mut SplitMix, seconds: f64) -> Atom {
    let f0 = rng.log_between(40.0, 4000.0);
    let harmonic = rng.uniform() < 0.7;
    Atom {
        // Strictly below the end: f32 rounding of seconds·u may reach it.
        onset: rng.between(0.0, seconds).min(seconds as f32),
        amplitude: rng.log_between(0.01, 0.316),
        f0,
        spacing: if harmonic {
            1.0
        } else {
            rng.log_between(0.5, 2.0)
        },
        rolloff: rng.between(0.3, 0.9),
        t60: rng.log_between(0.05, 4.0),
        brightness: (f0 * rng.log_between(2.0, 32.0)).min(20_000.0),
        closing: rng.log_between(0.1, 10.0),
        noise_centre: rng.log_between(200.0, 8000.0),
        noise_width: rng.log_between(100.0, 4000.0),
        attack: rng.log_between(0.0005, 0.05),
        length: rng.log_between(0.002, 0.2),
        mix: rng.between(0.0, 1.0),
        envelope: if rng.uniform() < 0.5 {
            Envelope::Gaussian
        } else {
            Envelope::Gamma
        },
        seed: rng.next_u64() as u32,
    }
}
