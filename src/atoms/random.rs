//! Random event lists with musically plausible spreads, for benchmarks, tests
//! and `wavesplat events random` (`events::random` wraps this).

use super::{Atom, Envelope};

/// SplitMix64: small, seedable, and the same on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn between(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.uniform()) as f32
    }

    /// Log-uniform in [lo, hi): the natural spread of a scale.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f32 {
        (lo.ln() + self.uniform() * (hi / lo).ln()).exp() as f32
    }
}

/// `count` random atoms with onsets uniform over `seconds`, sorted by onset;
/// the same `seed` gives the same list everywhere. Pitches are log-uniform
/// over 40 Hz..4 kHz (70 % harmonic), levels over -40..-10 dB, decays over
/// 50 ms..4 s, bursts from sub-millisecond clicks to 200 ms swells.
pub fn random_atoms(count: usize, seconds: f64, seed: u64) -> Vec<Atom> {
    let mut rng = SplitMix(seed);
    let mut atoms: Vec<Atom> = (0..count).map(|_| random_atom(&mut rng, seconds)).collect();
    atoms.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    atoms
}

fn random_atom(rng: &mut SplitMix, seconds: f64) -> Atom {
    let f0 = rng.log_uniform(40.0, 4000.0);
    let harmonic = rng.uniform() < 0.7;
    Atom {
        // f32 rounding of seconds·u may reach the end: keep it inside.
        onset: rng.between(0.0, seconds).min(seconds as f32),
        amplitude: rng.log_uniform(0.01, 0.316),
        f0,
        spacing: if harmonic {
            1.0
        } else {
            rng.log_uniform(0.5, 2.0)
        },
        rolloff: rng.between(0.3, 0.9),
        t60: rng.log_uniform(0.05, 4.0),
        brightness: (f0 * rng.log_uniform(2.0, 32.0)).min(20_000.0),
        closing: rng.log_uniform(0.1, 10.0),
        noise_centre: rng.log_uniform(200.0, 8000.0),
        noise_width: rng.log_uniform(100.0, 4000.0),
        attack: rng.log_uniform(0.0005, 0.05),
        length: rng.log_uniform(0.002, 0.2),
        mix: rng.between(0.0, 1.0),
        envelope: if rng.uniform() < 0.5 {
            Envelope::Gaussian
        } else {
            Envelope::Gamma
        },
        seed: rng.next() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_atoms_are_valid_sorted_and_reproducible() {
        let atoms = random_atoms(500, 10.0, 7);
        assert_eq!(atoms.len(), 500);
        assert!(super::super::validate_all(&atoms, 22_050).is_ok());
        assert!(atoms.windows(2).all(|w| w[0].onset <= w[1].onset));
        assert!(atoms.iter().all(|a| a.onset <= 10.0));
        assert_eq!(atoms, random_atoms(500, 10.0, 7));
        assert_ne!(atoms, random_atoms(500, 10.0, 8));
    }
}
