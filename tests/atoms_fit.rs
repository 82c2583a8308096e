//! Fitting atoms by gradient descent recovers perturbed atoms from their render.

mod common;

use wavesplat::atoms::fit::{FitBackend, FitOptions, fit};
use wavesplat::atoms::grad::field;
use wavesplat::atoms::{Atom, Envelope, cpu};

const RATE: u32 = 16_000;

fn truth() -> Vec<Atom> {
    vec![
        Atom {
            mix: 0.7,
            t60: 0.4,
            ..Atom::tone(0.05, 330.0)
        },
        Atom {
            mix: 0.3,
            envelope: Envelope::Gaussian,
            attack: 0.02,
            length: 0.008,
            noise_centre: 3000.0,
            noise_width: 1500.0,
            seed: 5,
            ..Atom::tone(0.2, 520.0)
        },
    ]
}

/// ½‖y - x‖² / ‖x‖² and its gradient.
fn waveform_loss(target: Vec<f32>) -> impl FnMut(&[f32]) -> wavesplat::Result<(f64, Vec<f32>)> {
    let norm: f64 = target.iter().map(|v| (*v as f64).powi(2)).sum();
    move |y: &[f32]| {
        let diff: Vec<f64> = y
            .iter()
            .zip(&target)
            .map(|(y, x)| (*y - *x) as f64)
            .collect();
        let value = 0.5 * diff.iter().map(|d| d * d).sum::<f64>() / norm;
        Ok((value, diff.iter().map(|d| (d / norm) as f32).collect()))
    }
}

fn check_fit(backend: FitBackend) {
    let samples = (0.5 * RATE as f64) as usize;
    let target = cpu::render(&truth(), RATE, samples, 0).unwrap();
    // Start a little off in time, pitch, decay, brightness and level.
    let start: Vec<Atom> = truth()
        .into_iter()
        .map(|a| Atom {
            onset: a.onset + 0.00005,
            f0: a.f0 * 1.0005,
            t60: a.t60 * 1.2,
            brightness: a.brightness * 0.85,
            amplitude: a.amplitude * 0.7,
            ..a
        })
        .collect();
    // A waveform loss needs phase-accurate steps: small ones. And it sees
    // noise only as this realisation: moving the band re-draws it, so the
    // band stays put (a spectral loss, as the encoder uses, has no such
    // trouble).
    let mut frozen = [false; 13];
    frozen[field::NOISE_CENTRE] = true;
    frozen[field::NOISE_WIDTH] = true;
    let options = FitOptions {
        frozen,
        iterations: 150,
        learning_rate: 0.01,
        onset_rate: 2e-5,
        pitch_rate: 2e-4,
        ..Default::default()
    };
    let (fitted, report) = fit(
        &start,
        RATE,
        samples,
        &options,
        backend,
        &mut waveform_loss(target),
    )
    .unwrap();
    let (first, last) = (report.losses[0], *report.losses.last().unwrap());
    eprintln!("loss {first:.3e} -> {last:.3e}");
    assert!(
        last < first / 20.0,
        "loss only fell from {first:e} to {last:e}"
    );
    for (f, t) in fitted.iter().zip(truth()) {
        assert!((f.f0 / t.f0 - 1.0).abs() < 5e-4, "f0 {} vs {}", f.f0, t.f0);
        assert!(
            (f.onset - t.onset).abs() < 1e-4,
            "onset {} vs {}",
            f.onset,
            t.onset
        );
        assert!(
            (f.amplitude / t.amplitude - 1.0).abs() < 0.1,
            "amplitude {} vs {}",
            f.amplitude,
            t.amplitude
        );
    }
}

#[test]
fn fit_on_the_cpu_recovers_perturbed_atoms() {
    check_fit(FitBackend::Cpu);
}

#[test]
fn fit_on_the_gpu_recovers_perturbed_atoms() {
    let Some(ctx) = common::gpu("fit_on_the_gpu_recovers_perturbed_atoms") else {
        return;
    };
    check_fit(FitBackend::Gpu(ctx));
}

/// With the multi-resolution STFT loss (what the encoder minimises) the fit
/// recovers atoms from much further away than a waveform loss allows: a
/// quarter-tone pitch error, a 2 ms onset error, a moved noise band.
#[test]
fn fit_with_the_stft_loss_recovers_distant_atoms() {
    use wavesplat::stft::loss::{LossConfig, LossJob};
    let Some(ctx) = common::gpu("fit_with_the_stft_loss_recovers_distant_atoms") else {
        return;
    };
    let samples = (0.5 * RATE as f64) as usize;
    let target = cpu::render(&truth(), RATE, samples, 0).unwrap();
    let job = LossJob::new(ctx, &target, &LossConfig::default()).unwrap();
    let mut loss = |y: &[f32]| job.eval(y);
    let start: Vec<Atom> = truth()
        .into_iter()
        .map(|a| Atom {
            onset: a.onset + 0.002,
            f0: a.f0 * 1.015,
            t60: a.t60 * 1.5,
            noise_centre: a.noise_centre * 1.2,
            amplitude: a.amplitude * 0.5,
            ..a
        })
        .collect();
    let options = FitOptions {
        iterations: 100,
        learning_rate: 0.03,
        onset_rate: 2e-4,
        pitch_rate: 0.003,
        ..Default::default()
    };
    let (fitted, report) = fit(
        &start,
        RATE,
        samples,
        &options,
        FitBackend::Gpu(ctx),
        &mut loss,
    )
    .unwrap();
    let (first, last) = (report.losses[0], *report.losses.last().unwrap());
    eprintln!("loss {first:.3e} -> {last:.3e}");
    for (f, t) in fitted.iter().zip(truth()) {
        eprintln!(
            "f0 {} ({}), onset {} ({}), amp {} ({})",
            f.f0, t.f0, f.onset, t.onset, f.amplitude, t.amplitude
        );
    }
    assert!(
        last < first / 3.0,
        "loss only fell from {first:e} to {last:e}"
    );
    // Pitch and level come back; the onset trades off against the attack at
    // the finest resolution's 8 ms window, so it is only held near. The
    // pitch starts 1.5 % (26 cents) off and ends within 0.75 % (13 cents):
    // where in that range depends on rounding. Equally exact FFTs in the
    // loss (straight-line or shared, 100 or 160 iterations) left the second
    // atom 0.02-0.51 % off.
    for (f, t) in fitted.iter().zip(truth()) {
        assert!(
            (f.f0 / t.f0 - 1.0).abs() < 0.0075,
            "f0 {} vs {}",
            f.f0,
            t.f0
        );
        assert!(
            (f.amplitude / t.amplitude - 1.0).abs() < 0.2,
            "amplitude {} vs {}",
            f.amplitude,
            t.amplitude
        );
        assert!(
            (f.onset - t.onset).abs() < 0.006,
            "onset {} vs {}",
            f.onset,
            t.onset
        );
    }
}
