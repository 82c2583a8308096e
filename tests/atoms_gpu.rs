//! The GPU atom renderer against the f64 CPU reference on random event lists.

mod common;

use common::{Rng, gpu, relative_error, widen};
use wavesplat::atoms::{Atom, cpu, gpu as atoms_gpu, prepare};

/// Random atoms from a fresh seed (printed by `Rng::fresh`).
fn random_atoms(rng: &mut Rng, count: usize, seconds: f64) -> Vec<Atom> {
    wavesplat::atoms::random_atoms(count, seconds, rng.next_u64())
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
        let atoms = random_atoms(&mut rng, count, seconds);
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
    let atoms = random_atoms(&mut rng, 90, 0.5);
    let samples = 22_050;
    let expected = cpu::render_prepared(&prepare(&atoms, 22_050).unwrap(), samples, 0);
    let got = atoms_gpu::render(&ctx, &atoms, 22_050, samples).unwrap();
    let err = relative_error(&widen(&got), &expected);
    assert!(err < 1e-4, "relative error {err:.2e}");
}

/// Onsets on whole samples put τ = 0 on a sample, where a gamma envelope with
/// attack < length rises with infinite slope: f32 must not turn its 0 into 0.04.
#[test]
fn gpu_render_matches_the_reference_for_the_tone_preset() {
    let Some(ctx) = gpu("gpu_render_matches_the_reference_for_the_tone_preset") else {
        return;
    };
    for rate in [16_000, 22_050, 44_100] {
        let atoms = [Atom::tone(0.25, 330.0), Atom::tone(0.9, 495.0)];
        let samples = (1.5 * rate as f64) as usize;
        let expected = cpu::render_prepared(&prepare(&atoms, rate).unwrap(), samples, 0);
        let got = atoms_gpu::render(ctx, &atoms, rate, samples).unwrap();
        let err = relative_error(&widen(&got), &expected);
        assert!(err < 1e-4, "{rate} Hz: relative error {err:.2e}");
    }
}
