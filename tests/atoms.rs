//! The atom model, through the CPU reference renderer: the physical meaning of
//! each field (pitch, onset, level, decay, noise band, low-pass) checked on
//! rendered audio.

mod common;

use rustfft::{FftPlanner, num_complex::Complex};
use wavesplat::atoms::{Atom, Envelope, cpu};

const RATE: u32 = 22_050;

/// A resonance-only atom: no noise heard.
fn resonance(f0: f32) -> Atom {
    Atom {
        mix: 1.0,
        brightness: 100_000.0,
        closing: 1000.0,
        ..Atom::tone(0.0, f0)
    }
}

fn render(atoms: &[Atom], seconds: f32) -> Vec<f32> {
    cpu::render(atoms, RATE, (seconds * RATE as f32) as usize, 0).expect("render")
}

/// Power spectrum of `x` (Hann window, zero-padded to `n`), bins of RATE/n Hz.
fn power_spectrum(x: &[f32], n: usize) -> Vec<f64> {
    let len = x.len().min(n);
    let mut buf: Vec<Complex<f64>> = (0..n)
        .map(|i| {
            let v = if i < len {
                let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / len as f64).cos();
                x[i] as f64 * w
            } else {
                0.0
            };
            Complex::new(v, 0.0)
        })
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    buf[..n / 2].iter().map(|c| c.norm_sqr()).collect()
}

/// Frequencies of the `count` strongest local maxima of `power`.
fn strongest_peaks(power: &[f64], n: usize, count: usize) -> Vec<f64> {
    let mut peaks: Vec<(f64, usize)> = (1..power.len() - 1)
        .filter(|&i| power[i] > power[i - 1] && power[i] >= power[i + 1])
        .map(|i| (power[i], i))
        .collect();
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut freqs: Vec<f64> = peaks
        .iter()
        .take(count)
        .map(|&(_, i)| i as f64 * RATE as f64 / n as f64)
        .collect();
    freqs.sort_by(f64::total_cmp);
    freqs
}

#[test]
fn harmonic_atom_has_its_peaks_at_multiples_of_f0() {
    let atom = Atom {
        rolloff: 0.8,
        ..resonance(440.0)
    };
    let x = render(&[atom], 1.5);
    let n = 1 << 16;
    let peaks = strongest_peaks(&power_spectrum(&x, n), n, 6);
    for (k, f) in peaks.iter().enumerate() {
        let expected = 440.0 * (k + 1) as f64;
        assert!(
            (f - expected).abs() < 1.0,
            "peak {k} at {f:.2} Hz, expected {expected} Hz (peaks {peaks:?})"
        );
    }
}

#[test]
fn inharmonic_spacing_moves_the_partials() {
    let atom = Atom {
        rolloff: 0.8,
        spacing: 1.5,
        ..resonance(200.0)
    };
    let x = render(&[atom], 1.5);
    let n = 1 << 16;
    let peaks = strongest_peaks(&power_spectrum(&x, n), n, 4);
    for (k, f) in peaks.iter().enumerate() {
        let expected = 200.0 * (1.0 + 1.5 * k as f64);
        assert!(
            (f - expected).abs() < 1.0,
            "peak {k} at {f} Hz, expected {expected}"
        );
    }
}

#[test]
fn atom_is_silent_before_its_onset_and_sounds_after() {
    for envelope in [Envelope::Gaussian, Envelope::Gamma] {
        let atom = Atom {
            envelope,
            mix: 0.5,
            attack: 0.01,
            length: 0.004,
            ..Atom::tone(1.0, 330.0)
        };
        let x = render(&[atom], 2.0);
        let onset = RATE as usize;
        assert!(
            x[..onset].iter().all(|&v| v == 0.0),
            "{envelope:?}: sound before the onset"
        );
        let after = &x[onset..onset + RATE as usize / 10];
        let rms = (after.iter().map(|v| (v * v) as f64).sum::<f64>() / after.len() as f64).sqrt();
        assert!(
            rms > 1e-3,
            "{envelope:?}: silent after the onset (rms {rms})"
        );
    }
}

#[test]
fn doubling_amplitude_doubles_the_output() {
    let atom = Atom {
        mix: 0.4,
        ..Atom::tone(0.1, 220.0)
    };
    let louder = Atom {
        amplitude: 2.0 * atom.amplitude,
        ..atom
    };
    let (a, b) = (render(&[atom], 1.0), render(&[louder], 1.0));
    let peak = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.0);
    for (x, y) in a.iter().zip(&b) {
        assert!((2.0 * x - y).abs() <= 1e-6 * peak, "{x} doubled is not {y}");
    }
}

/// Σx²/fs of a rendered atom against amplitude².
fn energy_ratio(atom: Atom, seconds: f32) -> f64 {
    let x = render(&[atom], seconds);
    let energy = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / RATE as f64;
    energy / (atom.amplitude as f64).powi(2)
}

#[test]
fn amplitude_is_the_energy_level() {
    // A resonance's energy is deterministic up to partial cross terms.
    let ratio = energy_ratio(
        Atom {
            rolloff: 0.5,
            ..resonance(300.0)
        },
        2.0,
    );
    assert!((ratio - 1.0).abs() < 0.02, "resonance energy ratio {ratio}");
    // Noise energy is random; a long burst averages it out.
    let noise = Atom {
        mix: 0.0,
        attack: 0.3,
        length: 0.1,
        envelope: Envelope::Gaussian,
        ..Atom::tone(0.0, 300.0)
    };
    let ratio = energy_ratio(noise, 1.0);
    assert!((ratio - 1.0).abs() < 0.1, "noise energy ratio {ratio}");
}

#[test]
fn t60_is_the_time_to_decay_by_60_db() {
    let atom = Atom {
        rolloff: 0.0,
        t60: 0.8,
        ..resonance(500.0)
    };
    let x = render(&[atom], 2.0);
    let rms = |t: f32| {
        let i = (t * RATE as f32) as usize;
        let w = &x[i..i + 441];
        (w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64).sqrt()
    };
    let drop_db = 20.0 * (rms(0.2) / rms(1.0)).log10();
    assert!(
        (drop_db - 60.0).abs() < 1.0,
        "dropped {drop_db} dB in one T60"
    );
}

#[test]
fn noise_band_has_its_centre_and_width() {
    let (centre, width) = (3000.0, 1000.0);
    let n = 2048;
    let mut power = vec![0.0; n / 2];
    // Welch average over four seeds of a 3 s burst.
    for seed in 1..=4 {
        let atom = Atom {
            mix: 0.0,
            noise_centre: centre,
            noise_width: width,
            attack: 2.0,
            length: 0.6,
            envelope: Envelope::Gaussian,
            seed,
            ..Atom::tone(0.0, 300.0)
        };
        let x = render(&[atom], 4.0);
        for frame in x[RATE as usize / 2..].chunks_exact(n) {
            for (p, q) in power.iter_mut().zip(power_spectrum(frame, n)) {
                *p += q;
            }
        }
    }
    // Smooth over 11 bins (118 Hz) to tame the estimate's variance.
    let smooth: Vec<f64> = (0..power.len())
        .map(|i| {
            power[i.saturating_sub(5)..(i + 6).min(power.len())]
                .iter()
                .sum()
        })
        .collect();
    let hz = RATE as f64 / n as f64;
    let peak = smooth.iter().cloned().fold(0.0, f64::max);
    let centre_bin = (centre as f64 / hz) as usize;
    let half = peak / 2.0;
    let lower = (0..centre_bin).rev().find(|&i| smooth[i] < half).unwrap() as f64 * hz;
    let upper = (centre_bin..smooth.len())
        .find(|&i| smooth[i] < half)
        .unwrap() as f64
        * hz;
    let measured_centre = 0.5 * (lower + upper);
    let measured_width = upper - lower;
    eprintln!("band {lower:.0}..{upper:.0} Hz");
    assert!(
        (measured_centre - centre as f64).abs() < 60.0,
        "centre {measured_centre}"
    );
    assert!(
        (measured_width / width as f64 - 1.0).abs() < 0.12,
        "-3 dB width {measured_width} Hz, asked {width}"
    );
    // Far outside the band there is next to nothing (the spline's sidelobes).
    let far = smooth[(6000.0 / hz) as usize];
    assert!(
        far < 1e-4 * peak,
        "at 6 kHz the band is only {} dB down",
        10.0 * (far / peak).log10()
    );
}

#[test]
fn low_pass_closes_over_time() {
    // Equal partials at 440·k under a 2 kHz cutoff closing an octave per 0.4 s:
    // partial 8 against partial 1, early and late, follows the low-pass's gain
    // 1/sqrt(1 + (f/c)^4).
    let (brightness, closing) = (2000.0f64, 0.4f64);
    let atom = Atom {
        rolloff: 1.0,
        brightness: brightness as f32,
        closing: closing as f32,
        t60: 3.0,
        ..resonance(440.0)
    };
    let x = render(&[atom], 1.2);
    let n = 1024;
    let measured_db = |t: f64| {
        let i = (t * RATE as f64) as usize;
        let p = power_spectrum(&x[i..i + n], n);
        let bin = |f: f64| (f * n as f64 / RATE as f64).round() as usize;
        let around = |f: f64| p[bin(f) - 2..=bin(f) + 2].iter().sum::<f64>();
        10.0 * (around(3520.0) / around(440.0)).log10()
    };
    let expected_db = |t: f64| {
        let centre = t + n as f64 / 2.0 / RATE as f64;
        let cutoff = brightness * 2f64.powf(-centre / closing);
        let gain_db = |f: f64| -10.0 * (1.0 + (f / cutoff).powi(4)).log10();
        gain_db(3520.0) - gain_db(440.0)
    };
    for t in [0.05, 0.4, 0.8] {
        let (m, e) = (measured_db(t), expected_db(t));
        assert!(
            (m - e).abs() < 1.5,
            "at {t} s partial 8 is {m:.1} dB re partial 1, expected {e:.1}"
        );
    }
}

#[test]
fn the_seed_picks_the_noise_and_nothing_else_varies() {
    let atom = Atom {
        mix: 0.5,
        ..Atom::tone(0.0, 200.0)
    };
    let a = render(&[atom], 0.5);
    assert_eq!(a, render(&[atom], 0.5), "same seed, different audio");
    let b = render(&[Atom { seed: 2, ..atom }], 0.5);
    assert_ne!(a, b, "another seed gave the same audio");
}

#[test]
fn invalid_atoms_and_rates_are_refused_with_the_field_named() {
    let nan = Atom {
        f0: f32::NAN,
        ..Atom::tone(0.0, 200.0)
    };
    let err = cpu::render(&[Atom::tone(0.0, 200.0), nan], RATE, 100, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("event 1") && err.contains("f0"), "{err}");
    let err = cpu::render(&[Atom::tone(0.0, 200.0)], 100, 100, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sample rate"), "{err}");
}
