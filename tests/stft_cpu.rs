//! CPU STFT: the naive DFT oracle, the f64 reference against it, the fast path
//! against the reference, framing and the inverse. No GPU needed.

mod common;

use common::{Rng, relative_error, widen};
use rustfft::num_complex::Complex;
use std::f64::consts::PI;
use wavesplat::stft::{SpectrumFormat, StftConfig, Window, cpu, reflect_index};

/// O(N^2) one-sided DFT: the oracle.
fn naive_dft(x: &[f64]) -> Vec<Complex<f64>> {
    let n = x.len();
    (0..=n / 2)
        .map(|k| {
            x.iter()
                .enumerate()
                .fold(Complex::new(0.0, 0.0), |acc, (t, &v)| {
                    let angle = -2.0 * PI * (k * t) as f64 / n as f64;
                    acc + Complex::new(v * angle.cos(), v * angle.sin())
                })
        })
        .collect()
}

fn flatten(c: &[Complex<f64>]) -> Vec<f64> {
    c.iter().flat_map(|z| [z.re, z.im]).collect()
}

#[test]
fn naive_dft_matches_hand_computed_spectra() {
    // An impulse has a flat spectrum; a cosine on bin 3 puts N/2 there.
    let mut impulse = vec![0.0; 16];
    impulse[0] = 1.0;
    for z in naive_dft(&impulse) {
        assert!((z.re - 1.0).abs() < 1e-12 && z.im.abs() < 1e-12);
    }
    let cosine: Vec<f64> = (0..16)
        .map(|t| (2.0 * PI * 3.0 * t as f64 / 16.0).cos())
        .collect();
    for (k, z) in naive_dft(&cosine).iter().enumerate() {
        let expected = if k == 3 { 8.0 } else { 0.0 };
        assert!(
            (z.re - expected).abs() < 1e-12 && z.im.abs() < 1e-12,
            "bin {k}: {z}"
        );
    }
    // A sine on bin 2 is purely imaginary: -N/2 i.
    let sine: Vec<f64> = (0..16)
        .map(|t| (2.0 * PI * 2.0 * t as f64 / 16.0).sin())
        .collect();
    let z = naive_dft(&sine)[2];
    assert!(z.re.abs() < 1e-12 && (z.im + 8.0).abs() < 1e-12);
}

/// Frame f of `x` the slow, obvious way: pad by reflection, slice, window.
fn padded_frame(x: &[f32], f: usize, cfg: &StftConfig) -> Vec<f64> {
    let half = cfg.n_fft / 2;
    let mut padded: Vec<f64> = (1..=half).rev().map(|i| x[i] as f64).collect();
    padded.extend(x.iter().map(|&v| v as f64));
    padded.extend((1..=half).map(|i| x[x.len() - 1 - i] as f64));
    let w = cfg.window.coefficients(cfg.n_fft);
    padded[f * cfg.hop..f * cfg.hop + cfg.n_fft]
        .iter()
        .zip(&w)
        .map(|(a, b)| a * b)
        .collect()
}

#[test]
fn reference_matches_naive_dft_of_explicitly_padded_frames() {
    let mut rng = Rng::fresh("reference_matches_naive_dft");
    for n_fft in [16, 64, 256] {
        let len = rng.range(n_fft / 2 + 1, 3 * n_fft);
        let hop = rng.range(1, n_fft);
        let x = rng.signal(len);
        let cfg = StftConfig::new(n_fft, hop);
        let reference = cpu::stft_reference(&[&x], &cfg).unwrap();
        let frames = cfg.frames(len);
        assert_eq!(reference.len(), frames * cfg.bins());
        let oracle: Vec<Complex<f64>> = (0..frames)
            .flat_map(|f| naive_dft(&padded_frame(&x, f, &cfg)))
            .collect();
        let err = relative_error(&flatten(&reference), &flatten(&oracle));
        assert!(err < 1e-12, "n_fft {n_fft} hop {hop} len {len}: {err:e}");
    }
}

#[test]
fn fast_path_matches_reference_on_one_and_many_threads() {
    let mut rng = Rng::fresh("fast_path_matches_reference");
    for n_fft in [16, 128, 1024, 8192] {
        let hop = rng.range(n_fft / 8 + 1, n_fft);
        let len = rng.range(n_fft, 4 * n_fft);
        let signals: Vec<Vec<f32>> = (0..3).map(|_| rng.signal(len)).collect();
        let refs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
        let cfg = StftConfig::new(n_fft, hop);
        let reference = flatten(&cpu::stft_reference(&refs, &cfg).unwrap());
        for threads in [1, 3] {
            let fast = cpu::stft(&refs, &cfg, threads).unwrap();
            assert_eq!(
                (fast.signals, fast.frames, fast.bins),
                (3, cfg.frames(len), cfg.bins())
            );
            let err = relative_error(&widen(&fast.data), &reference);
            assert!(err < 1e-5, "n_fft {n_fft} threads {threads}: {err:e}");
        }
    }
}

#[test]
fn output_formats_follow_their_definitions() {
    let mut rng = Rng::fresh("output_formats");
    let x = rng.signal(1000);
    let cfg = StftConfig::new(256, 64);
    let complex = cpu::stft(&[&x], &cfg, 1).unwrap().data;
    for format in [
        SpectrumFormat::Magnitude,
        SpectrumFormat::Power,
        SpectrumFormat::Db,
    ] {
        let got = cpu::stft(&[&x], &cfg.with_format(format), 1).unwrap().data;
        for (i, pair) in complex.chunks(2).enumerate() {
            let p = (pair[0] as f64).powi(2) + (pair[1] as f64).powi(2);
            let expected = match format {
                SpectrumFormat::Magnitude => p.sqrt(),
                SpectrumFormat::Power => p,
                _ => 10.0 * p.max(1e-10).log10(),
            };
            assert!(
                (got[i] as f64 - expected).abs() <= 1e-4 * expected.abs().max(1.0),
                "{format:?} bin {i}"
            );
        }
    }
}

#[test]
fn framing_is_torch_centre_reflect() {
    assert_eq!(reflect_index(-3, 10), 3);
    assert_eq!(reflect_index(0, 10), 0);
    assert_eq!(reflect_index(9, 10), 9);
    assert_eq!(reflect_index(10, 10), 8);
    assert_eq!(reflect_index(12, 10), 6);
    let cfg = StftConfig::new(512, 128);
    assert_eq!(cfg.frames(22050), 1 + 22050 / 128);
    assert_eq!(cfg.bins(), 257);
}

#[test]
fn inverse_round_trips_to_1e_5() {
    let mut rng = Rng::fresh("cpu_inverse_round_trip");
    for (n_fft, hop) in [(16, 4), (256, 64), (1024, 256), (2048, 512), (512, 200)] {
        let len = rng.range(n_fft, 5 * n_fft);
        let x = rng.signal(len);
        let cfg = StftConfig::new(n_fft, hop);
        let spec = cpu::stft(&[&x], &cfg, 1).unwrap();
        let y = cpu::istft(&spec, &cfg, Some(len)).unwrap().remove(0);
        let err = relative_error(&widen(&y), &widen(&x));
        assert!(err < 1e-5, "n_fft {n_fft} hop {hop}: {err:e}");
    }
}

#[test]
fn bad_parameters_are_clear_errors() {
    let x = vec![0.1f32; 4096];
    let cases = [
        (StftConfig::new(1000, 250), "n_fft"),
        (StftConfig::new(16384, 4096), "n_fft"),
        (StftConfig::new(8, 2), "n_fft"),
        (StftConfig::new(1024, 0), "hop"),
        (StftConfig::new(1024, 2048), "hop"),
    ];
    for (cfg, word) in cases {
        let e = cpu::stft(&[&x], &cfg, 1).unwrap_err().to_string();
        assert!(e.contains(word), "{cfg:?}: {e}");
    }
    let mut nan = x.clone();
    nan[77] = f32::NAN;
    let e = cpu::stft(&[&nan], &StftConfig::new(256, 64), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sample 77") && e.contains("NaN"), "{e}");
    let e = cpu::stft(&[&x[..100]], &StftConfig::new(256, 64), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("too short"), "{e}");
    let e = cpu::stft(&[&x, &x[..100]], &StftConfig::new(64, 16), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("equal lengths"), "{e}");
    let e = cpu::stft(&[], &StftConfig::new(64, 16), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no signals"), "{e}");
    let rect = StftConfig {
        window: Window::Hann,
        ..StftConfig::new(64, 64)
    };
    assert!(
        rect.validate_invertible()
            .unwrap_err()
            .to_string()
            .contains("overlap-add")
    );
}
