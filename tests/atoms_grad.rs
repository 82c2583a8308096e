//! Atom parameter gradients: the f64 reference against central finite
//! differences of the renderer, and the GPU kernel against the reference.

mod common;

use common::Rng;
use wavesplat::atoms::grad::{GRADIENT_FIELDS, Gradient, field, gradient_reference};
use wavesplat::atoms::{Atom, Envelope, cpu, gains_of, prepare, prepare_for_gradient};

const RATE: u32 = 16_000;

/// Atoms clear of the model's thresholds (partials near Nyquist or the
/// roll-off floor), so finite differences see a smooth function.
fn test_atoms() -> Vec<Atom> {
    vec![
        Atom {
            onset: 0.0503,
            f0: 310.0,
            rolloff: 0.5,
            t60: 0.3,
            brightness: 1500.0,
            closing: 0.4,
            noise_centre: 1800.0,
            noise_width: 900.0,
            attack: 0.012,
            length: 0.02,
            mix: 0.6,
            envelope: Envelope::Gamma,
            ..Atom::tone(0.0, 310.0)
        },
        Atom {
            onset: 0.1207,
            f0: 523.0,
            spacing: 1.13,
            rolloff: 0.35,
            t60: 0.25,
            brightness: 2500.0,
            closing: 2.0,
            noise_centre: 900.0,
            noise_width: 400.0,
            attack: 0.03,
            length: 0.01,
            mix: 0.4,
            envelope: Envelope::Gaussian,
            seed: 9,
            ..Atom::tone(0.0, 523.0)
        },
    ]
}

/// Σ g·x over the render of `atoms` with raw `gains`.
fn functional(atoms: &[Atom], gains: &[[f64; 2]], g: &[f32]) -> f64 {
    let prepared = prepare_for_gradient(atoms, gains, RATE).unwrap();
    let x = cpu::render_prepared(&prepared, g.len(), 1);
    x.iter().zip(g).map(|(x, g)| x * *g as f64).sum()
}

/// The derivative of `functional` in field `f` of atom `i`: the slope at 0 of
/// the cubic through four points at about ±h and ±2h (exact for cubics; the
/// offsets the f32 fields really took are used).
fn finite_difference(atoms: &[Atom], gains: &[[f64; 2]], g: &[f32], i: usize, f: usize) -> f64 {
    let point = |multiple: f64| {
        let (mut atoms, mut gains) = (atoms.to_vec(), gains.to_vec());
        if f >= field::BURST_GAIN {
            let step = 1e-3 * gains[i][f - field::BURST_GAIN] * multiple;
            gains[i][f - field::BURST_GAIN] += step;
            return (step, functional(&atoms, &gains, g));
        }
        let a = &mut atoms[i];
        let fields: [&mut f32; 11] = [
            &mut a.onset,
            &mut a.f0,
            &mut a.spacing,
            &mut a.rolloff,
            &mut a.t60,
            &mut a.brightness,
            &mut a.closing,
            &mut a.noise_centre,
            &mut a.noise_width,
            &mut a.attack,
            &mut a.length,
        ];
        let h = match f {
            // Well under a sample, so the onset does not cross one.
            field::ONSET => 1e-6,
            // Frequencies reach the renderer through f32 tables (phase
            // offsets, low-pass exponents): steps large against their rounding.
            field::F0
            | field::SPACING
            | field::BRIGHTNESS
            | field::CLOSING
            | field::NOISE_CENTRE => 3e-4 * *fields[f] as f64,
            // Small, so the burst's span (whole samples) does not move.
            _ => 1e-5 * *fields[f] as f64,
        };
        let before = *fields[f];
        *fields[f] += (multiple * h) as f32;
        ((*fields[f] - before) as f64, functional(&atoms, &gains, g))
    };
    let points: Vec<(f64, f64)> = [-2.0, -1.0, 1.0, 2.0].into_iter().map(point).collect();
    cubic_slope_at_zero(&points)
}

/// The slope at 0 of the cubic through four (x, y) points (Lagrange form).
fn cubic_slope_at_zero(points: &[(f64, f64)]) -> f64 {
    let mut slope = 0.0;
    for (j, &(xj, yj)) in points.iter().enumerate() {
        let others: Vec<f64> = points
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != j)
            .map(|(_, p)| p.0)
            .collect();
        let denominator: f64 = others.iter().map(|xk| xj - xk).product();
        // d/dx of Π(x - xk) at 0: Σ over one factor left out of Π(-xk).
        let derivative: f64 = (0..3)
            .map(|skip| {
                others
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != skip)
                    .map(|(_, xk)| -xk)
                    .product::<f64>()
            })
            .sum();
        slope += yj * derivative / denominator;
    }
    slope
}

#[test]
fn reference_gradient_matches_finite_differences() {
    let atoms = test_atoms();
    let gains = gains_of(&prepare(&atoms, RATE).unwrap());
    let prepared = prepare_for_gradient(&atoms, &gains, RATE).unwrap();
    let mut rng = Rng::fresh("reference_gradient_matches_finite_differences");
    // Three random weightings; each field's error is judged against the
    // largest gradient it shows over them, as a gradient that happens to be
    // near zero for one weighting has no scale of its own.
    let runs: Vec<Vec<(Gradient, Gradient)>> = (0..3)
        .map(|_| {
            let g: Vec<f32> = (0..RATE as usize / 5)
                .map(|_| (rng.uniform() - 0.5) as f32)
                .collect();
            let analytic = gradient_reference(&prepared, &atoms, &g);
            analytic
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut fd = [0.0; 13];
                    for (f, d) in fd.iter_mut().enumerate() {
                        *d = finite_difference(&atoms, &gains, &g, i, f);
                    }
                    (a, fd)
                })
                .collect()
        })
        .collect();
    let mut failures = Vec::new();
    for i in 0..atoms.len() {
        for (f, name) in GRADIENT_FIELDS.iter().enumerate() {
            let scale = runs
                .iter()
                .map(|run| run[i].0[f].abs().max(run[i].1[f].abs()))
                .fold(1e-12, f64::max);
            for run in &runs {
                let (a, fd) = (run[i].0[f], run[i].1[f]);
                let err = (a - fd).abs() / scale;
                eprintln!(
                    "atom {i} {name:>14}: analytic {a:+.6e}, fd {fd:+.6e}, error {err:.1e} of scale"
                );
                if err > 2e-3 {
                    failures.push(format!("atom {i} {name}: {a} vs {fd} (scale {scale})"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn gpu_gradient_matches_the_reference() {
    let Some(ctx) = common::gpu("gpu_gradient_matches_the_reference") else {
        return;
    };
    let mut rng = Rng::fresh("gpu_gradient_matches_the_reference");
    for (count, seconds) in [(2, 0.4), (12, 1.0)] {
        let mut atoms = wavesplat::atoms::random_atoms(count, seconds * 0.8, rng.next_u64());
        atoms.extend(test_atoms());
        let gains = gains_of(&prepare(&atoms, RATE).unwrap());
        let prepared = prepare_for_gradient(&atoms, &gains, RATE).unwrap();
        let g: Vec<f32> = (0..(seconds * RATE as f64) as usize)
            .map(|_| (rng.uniform() - 0.5) as f32)
            .collect();
        let expected = gradient_reference(&prepared, &atoms, &g);
        let got = wavesplat::atoms::gpu::gradient(ctx, &prepared, &atoms, &g).unwrap();
        // Per field, the error over all atoms against the largest gradient there.
        for (f, name) in GRADIENT_FIELDS.iter().enumerate() {
            let scale = expected.iter().map(|e| e[f].abs()).fold(1e-30, f64::max);
            let worst = got
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a[f] - b[f]).abs())
                .fold(0.0, f64::max);
            eprintln!(
                "{count} atoms {name:>14}: worst error {:.1e} of the largest",
                worst / scale
            );
            assert!(
                worst <= 1e-3 * scale,
                "{name}: GPU differs from the reference by {worst:e} (scale {scale:e})"
            );
        }
    }
}
