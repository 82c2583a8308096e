//! The GPU atom renderer against the f64 CPU reference on random event lists.

mod common;

use common::{Rng, gpu, relative_error, widen};
use wavesplat::atoms::{Atom, Envelope, cpu, gpu as atoms_gpu, prepare};

/// A random valid atom starting within `seconds`, with musically plausible
/// spread in every field (log-uniform where the field is a scale).
fn random_atom(rng: &mut Rng, seconds: f64) -> Atom {
    let mut log_uniform =
        |lo: f64, hi: f64| (lo.ln() + rng.uniform() * (hi / lo).ln()).exp() as f32;
    let f0 = log_uniform(40.0, 4000.0);
    let t60 = log_uniform(0.02, 1.5);
    let brightness = log_uniform(200.0, 20_000.0);
    let closing = log_uniform(0.05, 20.0);
    let noise_centre = log_uniform(50.0, 10_000.0);
    let noise_width = log_uniform(50.0, 8_000.0);
    let attack = log_uniform(0.0005, 0.05);
    let length = log_uniform(0.001, 0.1);
    let amplitude = log_uniform(0.001, 0.3);
    Atom {
        onset: (rng.uniform() * seconds) as f32,
        amplitude,
        f0,
        spacing: (0.5 + 1.5 * rng.uniform()) as f32,
        rolloff: rng.uniform() as f32,
        t60,
        brightness,
        closing,
        noise_centre,
        noise_width,
        attack: if rng.uniform() < 0.1 { 0.0 } else { attack },
        length,
        mix: rng.uniform() as f32,
        envelope: if rng.uniform() < 0.5 {
            Envelope::Gaussian
        } else {
            Envelope::Gamma
        },
        seed: rng.next_u64() as u32,
    }
}

#[test]
fn gpu_render_matches_the_cpu_reference_on_random_events() {
    let Some(ctx) = gpu("gpu_render_matches_the_cpu_reference_on_random_events") else {
        return;
    };
    let mut rng = Rng::fresh("gpu_render_matches_the_cpu_reference_on_random_events");
    for (count, seconds, rate) in [
        (1, 0.3, 22_050u32),
        (7, 0.5, 16_000),
        (40, 1.0, 22_050),
        (25, 0.7, 44_100),
    ] {
        let atoms: Vec<Atom> = (0..count).map(|_| random_atom(&mut rng, seconds)).collect();
        let samples = (seconds * rate as f64) as usize + rng.range(0, 300);
        let expected = cpu::render_prepared(&prepare(&atoms, rate).unwrap(), samples, 0);
        let got = atoms_gpu::render(ctx, &atoms, rate, samples).unwrap();
        assert_eq!(got.len(), samples);
        let err = relative_error(&widen(&got), &expected);
        eprintln!("{count} atoms, {samples} samples at {rate} Hz: relative error {err:.2e}");
        assert!(
            err < 1e-4,
            "{count} atoms at {rate} Hz: relative error {err:.2e}"
        );
    }
}

#[test]
fn gpu_render_of_nothing_is_silence() {
    let Some(ctx) = gpu("gpu_render_of_nothing_is_silence") else {
        return;
    };
    let got = atoms_gpu::render(ctx, &[], 22_050, 1000).unwrap();
    assert_eq!(got, vec![0.0; 1000]);
}

#[test]
fn long_outputs_and_long_lists_split_into_windows_and_groups() {
    // 4 KiB bindings: 1024-sample windows and groups of at most 36 atoms, so
    // this render takes dozens of windows, several with more than one group.
    let options = wavesplat::gpu::GpuOptions {
        max_binding: Some(4096),
        ..Default::default()
    };
    let Some(ctx) = common::gpu_with("long_outputs_split", options) else {
        return;
    };
    let mut rng = Rng::fresh("long_outputs_and_long_lists_split_into_windows_and_groups");
    let atoms: Vec<Atom> = (0..90).map(|_| random_atom(&mut rng, 0.5)).collect();
    let samples = 22_050;
    let expected = cpu::render_prepared(&prepare(&atoms, 22_050).unwrap(), samples, 0);
    let got = atoms_gpu::render(&ctx, &atoms, 22_050, samples).unwrap();
    let err = relative_error(&widen(&got), &expected);
    assert!(err < 1e-4, "relative error {err:.2e}");
}
