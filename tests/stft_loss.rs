//! Multi-resolution STFT loss: the f64 reference gradient against finite
//! differences, the loss against `metrics::stft_distance` on the fixture WAVs,
//! the GPU loss and gradient against the reference, and bad input.

mod common;

use common::{Rng, gpu, relative_error, widen};
use std::path::Path;
use wavesplat::Error;
use wavesplat::audio;
use wavesplat::gpu::GpuContext;
use wavesplat::metrics;
use wavesplat::stft::cpu::stft_reference_f64;
use wavesplat::stft::loss::{LossConfig, LossJob, loss_reference, loss_reference_f64};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// A quiet target and a loud candidate containing it: |Y| and |X| are far
/// apart almost everywhere, so no bin sits near an L1 kink where f32 and f64
/// (or a finite-difference step) could take different sides.
fn quiet_target_loud_candidate(rng: &mut Rng, len: usize) -> (Vec<f32>, Vec<f32>) {
    let target: Vec<f32> = rng.signal(len).iter().map(|v| 0.1 * v).collect();
    let candidate = target
        .iter()
        .zip(rng.signal(len))
        .map(|(x, d)| x + d)
        .collect();
    (target, candidate)
}

#[test]
fn reference_gradient_matches_central_finite_differences() {
    let mut rng = Rng::fresh("finite_differences");
    let len = rng.range(520, 700);
    let (x, y) = quiet_target_loud_candidate(&mut rng, len);
    let (x, y): (Vec<f64>, Vec<f64>) = (widen(&x), widen(&y));
    // A hop that does not divide n_fft, and frames reaching into both reflected edges.
    let cfg = LossConfig::default().with_resolutions(&[(256, 64), (64, 16), (128, 48)]);
    let (_, gradient) = loss_reference_f64(&x, &y, &cfg).unwrap();
    let scale = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let mut indices = vec![0, 1, 2, 31, 32, 64, 127, 128, len - 129, len - 2, len - 1];
    indices.extend((0..40).map(|_| rng.range(0, len - 1)));
    let mut worst = 0.0f64;
    for i in indices {
        let h = 1e-6 * y[i].abs().max(0.1);
        let at = |delta: f64| {
            let mut z = y.clone();
            z[i] += delta;
            loss_reference_f64(&x, &z, &cfg).unwrap().0
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        let err = (numeric - gradient[i]).abs() / scale;
        worst = worst.max(err);
        assert!(
            err < 1e-5,
            "sample {i} of {len}: finite difference {numeric:e}, gradient {:e} ({err:e} of the largest)",
            gradient[i]
        );
    }
    eprintln!("finite differences: worst error {worst:.2e} of the largest gradient element");
}

fn load(name: &str) -> Vec<f32> {
    audio::load_mono(&Path::new(DATA).join(name), None)
        .unwrap()
        .samples
}

#[test]
fn loss_equals_the_stft_distance_metric() {
    let reference = load("metrics_ref.wav");
    for name in [
        "metrics_lowpass.wav",
        "metrics_noise.wav",
        "metrics_quantised.wav",
    ] {
        let test = load(name);
        let metric = metrics::stft_distance(&reference, &test).unwrap();
        let (loss, _) = loss_reference(&reference, &test, &LossConfig::stft_distance()).unwrap();
        eprintln!("{name}: loss {loss:.9}, metric {metric:.9}");
        assert!(
            (loss - metric).abs() <= 1e-12 * metric,
            "{name}: loss {loss} vs stft_distance {metric}"
        );
    }
    let (loss, gradient) =
        loss_reference(&reference, &reference, &LossConfig::stft_distance()).unwrap();
    assert_eq!(loss, 0.0);
    assert!(
        gradient.iter().all(|&g| g == 0.0),
        "equal signals: zero gradient"
    );
}

#[test]
fn weights_scale_their_terms() {
    let mut rng = Rng::fresh("weights");
    let (x, y) = quiet_target_loud_candidate(&mut rng, 1000);
    let cfg = LossConfig::default().with_resolutions(&[(256, 64), (128, 32)]);
    let only = |log_weight, linear_weight| {
        let cfg = LossConfig {
            log_weight,
            linear_weight,
            ..cfg.clone()
        };
        loss_reference(&x, &y, &cfg).unwrap()
    };
    let (both, g_both) = only(1.0, 1.0);
    let (log, g_log) = only(1.0, 0.0);
    let (linear, g_linear) = only(0.0, 1.0);
    let (scaled, _) = only(3.0, 0.5);
    assert!((both - (log + linear)).abs() < 1e-12 * both);
    assert!((scaled - (3.0 * log + 0.5 * linear)).abs() < 1e-12 * scaled);
    let sum: Vec<f64> = g_log.iter().zip(&g_linear).map(|(a, b)| a + b).collect();
    assert!(relative_error(&sum, &g_both) < 1e-12);
}

/// The error of a result that must be one, in words.
fn message<T>(result: wavesplat::Result<T>) -> String {
    invalid_name(result.err().expect("an error"))
}

fn invalid_name(e: Error) -> String {
    match e {
        Error::InvalidParameter { name, reason } => format!("{name}: {reason}"),
        Error::NonFinite { what, index, .. } => format!("non-finite {what} {index}"),
        other => panic!("unexpected error kind: {other}"),
    }
}

#[test]
fn bad_input_gives_clear_errors_on_the_cpu() {
    let cfg = LossConfig::default();
    let x = vec![0.25f32; 3000];
    let mut nan = x.clone();
    nan[17] = f32::NAN;
    let cases: Vec<(&str, Vec<f32>, Vec<f32>, LossConfig)> = vec![
        ("empty", vec![], vec![], cfg.clone()),
        (
            "2999 samples; the target has 3000",
            x.clone(),
            x[..2999].to_vec(),
            cfg.clone(),
        ),
        (
            "non-finite candidate 17",
            x.clone(),
            nan.clone(),
            cfg.clone(),
        ),
        ("non-finite target 17", nan.clone(), x.clone(), cfg.clone()),
        (
            "too short for n_fft 2048",
            x[..1024].to_vec(),
            x[..1024].to_vec(),
            cfg.clone(),
        ),
        (
            "at least one",
            x.clone(),
            x.clone(),
            cfg.clone().with_resolutions(&[]),
        ),
        (
            "1000 is not supported",
            x.clone(),
            x.clone(),
            cfg.clone().with_resolutions(&[(1000, 250)]),
        ),
        (
            "hop",
            x.clone(),
            x.clone(),
            cfg.clone().with_resolutions(&[(256, 0)]),
        ),
        (
            "loss floor: 0",
            x.clone(),
            x.clone(),
            LossConfig {
                floor: 0.0,
                ..cfg.clone()
            },
        ),
        (
            "log weight -1",
            x.clone(),
            x.clone(),
            LossConfig {
                log_weight: -1.0,
                ..cfg.clone()
            },
        ),
    ];
    for (expected, target, candidate, cfg) in cases {
        let message = invalid_name(loss_reference(&target, &candidate, &cfg).unwrap_err());
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
}

/// Relative errors (loss, gradient norm) of one GPU evaluation against the reference.
fn gpu_errors(job: &LossJob, x: &[f32], y: &[f32]) -> (f64, f64) {
    let (loss, gradient) = job.eval(y).unwrap();
    let (reference, reference_gradient) = loss_reference(x, y, job.config()).unwrap();
    let loss_error = (loss - reference).abs() / reference;
    (
        loss_error,
        relative_error(&widen(&gradient), &reference_gradient),
    )
}

/// Three lengths: just over the 2048 window's minimum of 1025, and two longer.
fn lengths(rng: &mut Rng) -> [usize; 3] {
    [
        rng.range(1025, 1300),
        rng.range(2000, 2600),
        rng.range(4000, 5000),
    ]
}

/// A fresh pair of `len` samples, its job, and the job's (loss, gradient) errors.
struct GpuCase<'a> {
    x: Vec<f32>,
    y: Vec<f32>,
    job: LossJob<'a>,
    errors: (f64, f64),
}

impl<'a> GpuCase<'a> {
    fn new(ctx: &'a GpuContext, rng: &mut Rng, len: usize, cfg: &LossConfig) -> Self {
        Self::from_pair(ctx, quiet_target_loud_candidate(rng, len), cfg)
    }

    /// A case whose pair passes [`well_conditioned`] (redrawn until it does).
    fn well_conditioned(ctx: &'a GpuContext, rng: &mut Rng, len: usize, cfg: &LossConfig) -> Self {
        let mut redraws = 0;
        loop {
            let (x, y) = quiet_target_loud_candidate(rng, len);
            if well_conditioned(&x, &y, cfg) {
                if redraws > 0 {
                    eprintln!(
                        "{len} samples: {redraws} pair(s) redrawn (a bin at a singular point)"
                    );
                }
                return Self::from_pair(ctx, (x, y), cfg);
            }
            redraws += 1;
            assert!(
                redraws < 20,
                "{len} samples: 20 ill-conditioned draws in a row"
            );
        }
    }

    fn from_pair(ctx: &'a GpuContext, (x, y): (Vec<f32>, Vec<f32>), cfg: &LossConfig) -> Self {
        let job = LossJob::new(ctx, &x, cfg).unwrap();
        let errors = gpu_errors(&job, &x, &y);
        GpuCase { x, y, job, errors }
    }
}

/// Whether every bin of every resolution is well away from the singular
/// points of the terms `cfg` weighs, where the f32 rounding of Y decides the
/// gradient. The magnitude term: Y = 0, where its gradient Y / |Y| has no
/// direction, and the L1 kink |Y| = |X|. The log term: |Y|^2 = floor, where
/// it starts counting (its own kink is |Y| = |X| again). Reflect padding
/// makes each first frame symmetric, so its spectrum is real up to a linear
/// phase and crosses zero on a line rather than at a point: about one draw in
/// seven has a bin within 1e-4 of the typical |Y| of zero, and CI once drew
/// |Y| = 1.8e-6 where typical bins have |Y| = 11 (gradient error 6e-5).
fn well_conditioned(x: &[f32], y: &[f32], cfg: &LossConfig) -> bool {
    let (x, y) = (widen(x), widen(y));
    let (magnitude_term, log_term) = (cfg.linear_weight > 0.0, cfg.log_weight > 0.0);
    cfg.stft_configs().iter().all(|stft| {
        let spectra = stft_reference_f64(&[&x, &y], stft).unwrap();
        let (x_bins, y_bins) = spectra.split_at(spectra.len() / 2);
        let mean_power = y_bins.iter().map(|b| b.norm_sqr()).sum::<f64>() / y_bins.len() as f64;
        let zero_margin = 1e-4 * mean_power.sqrt();
        x_bins.iter().zip(y_bins).all(|(x, y)| {
            let (magnitude, x_magnitude) = (y.norm(), x.norm());
            let off_kink = (magnitude - x_magnitude).abs() > 1e-5 * magnitude;
            let off_zero = magnitude > zero_margin;
            let off_floor = (y.norm_sqr() - cfg.floor).abs() > 1e-5 * cfg.floor;
            off_kink && (off_zero || !magnitude_term) && (off_floor || !log_term)
        })
    })
}

/// How much the exact gradient itself moves when every sample of `y` moves
/// by a random 3e-7 of itself (f32 rounding, roughly what an f32 FFT does to
/// a frame): relative norm.
fn gradient_sensitivity(rng: &mut Rng, x: &[f32], y: &[f32], cfg: &LossConfig) -> f64 {
    let (x, y) = (widen(x), widen(y));
    let nudged: Vec<f64> = y
        .iter()
        .map(|v| v * (1.0 + 3e-7 * (2.0 * rng.uniform() - 1.0)))
        .collect();
    let (_, exact) = loss_reference_f64(&x, &y, cfg).unwrap();
    let (_, moved) = loss_reference_f64(&x, &nudged, cfg).unwrap();
    relative_error(&moved, &exact)
}

#[test]
fn gpu_loss_and_gradient_match_the_reference() {
    let Some(ctx) = gpu("gpu_loss") else {
        return;
    };
    let mut rng = Rng::fresh("gpu_loss");
    // The magnitude term's gradient, sign(|Y| - |X|) Y / |Y|, is well
    // conditioned away from Y = 0. The log term's, 2 Y / (ln 10 |Y|^2), grows
    // as 1 / |Y|: with the floor at 1.0 no bin below |Y| = 1 counts and it is
    // well conditioned too. Pairs with a bin at a singular point are redrawn
    // (`well_conditioned`); the default floor has its own test below.
    let default = LossConfig::default();
    let floor_1 = LossConfig {
        floor: 1.0,
        ..default.clone()
    };
    let configs = [
        (
            "magnitude term only",
            LossConfig {
                log_weight: 0.0,
                ..default.clone()
            },
        ),
        (
            "log term only, floor 1",
            LossConfig {
                linear_weight: 0.0,
                ..floor_1.clone()
            },
        ),
        ("both terms, floor 1", floor_1.clone()),
        (
            "odd hops, weights 0.3 and 2, floor 1",
            LossConfig {
                log_weight: 0.3,
                linear_weight: 2.0,
                ..floor_1.with_resolutions(&[(1024, 300), (64, 64), (16, 5)])
            },
        ),
    ];
    for (name, cfg) in configs {
        for len in lengths(&mut rng) {
            let case = GpuCase::well_conditioned(ctx, &mut rng, len, &cfg);
            let (loss_error, gradient_error) = case.errors;
            eprintln!(
                "{name}, {len} samples: loss {loss_error:.2e}, gradient {gradient_error:.2e} (relative)"
            );
            assert!(
                loss_error < 1e-6 && gradient_error < 1e-5,
                "{name}, {len} samples: loss error {loss_error:e}, gradient error {gradient_error:e}"
            );
            // Again after another candidate on the same job: nothing carries over.
            let (_, other) = quiet_target_loud_candidate(&mut rng, len);
            gpu_errors(&case.job, &case.x, &other);
            assert_eq!(gpu_errors(&case.job, &case.x, &case.y), case.errors);
        }
    }
}

#[test]
fn gpu_gradient_at_the_default_floor_is_as_good_as_its_conditioning() {
    // With the 1e-5 floor, bins near |Y| = 0 count, and their log-term
    // gradient magnifies any error in Y (reflect padding makes the first frame
    // symmetric, its spectrum real up to a linear phase, and real values pass
    // near zero far more often than complex ones): the relative gradient error
    // is 1e-5 to 1e-3 with a long tail, in f64 as in f32. So the bound is the
    // exact gradient's own sensitivity to f32-sized input noise (the GPU
    // measured 0.1x to 4x of it over 60 draws).
    let Some(ctx) = gpu("gpu_default_floor") else {
        return;
    };
    let mut rng = Rng::fresh("gpu_default_floor");
    let cfg = LossConfig::default();
    for len in lengths(&mut rng) {
        let case = GpuCase::new(ctx, &mut rng, len, &cfg);
        let (loss_error, gradient_error) = case.errors;
        let sensitivity = gradient_sensitivity(&mut rng, &case.x, &case.y, &cfg);
        eprintln!(
            "default, {len} samples: loss {loss_error:.2e}, gradient {gradient_error:.2e}, \
             sensitivity {sensitivity:.2e} (relative)"
        );
        assert!(
            loss_error < 1e-6 && gradient_error < 1e-5 + 20.0 * sensitivity,
            "{len} samples: loss error {loss_error:e}, gradient error {gradient_error:e}, \
             sensitivity {sensitivity:e}"
        );
    }
}

#[test]
fn gpu_loss_is_the_stft_distance_and_reads_device_buffers() {
    let Some(ctx) = gpu("gpu_metric") else {
        return;
    };
    let reference = load("metrics_ref.wav");
    let test = load("metrics_lowpass.wav");
    let job = LossJob::new(ctx, &reference, &LossConfig::stft_distance()).unwrap();
    let (loss, gradient) = job.eval(&test).unwrap();
    let metric = metrics::stft_distance(&reference, &test).unwrap();
    eprintln!("GPU loss {loss:.9}, metric {metric:.9}");
    assert!((loss - metric).abs() < 1e-5 * metric, "{loss} vs {metric}");
    let on_device = ctx.upload("test.candidate", &test).unwrap();
    let (loss_b, gradient_b) = job.eval_buffer(&on_device).unwrap();
    assert_eq!((loss_b, &gradient_b), (loss, &gradient));
    let (zero, zero_gradient) = job.eval(&reference).unwrap();
    assert!(zero < 1e-6, "the target against itself: {zero}");
    assert!(zero_gradient.iter().all(|g| g.is_finite()));
}

#[test]
fn bad_input_gives_clear_errors_on_the_gpu() {
    let Some(ctx) = gpu("gpu_bad_input") else {
        return;
    };
    let cfg = LossConfig::default();
    let x = vec![0.25f32; 3000];
    let mut nan = x.clone();
    nan[5] = f32::INFINITY;
    assert!(message(LossJob::new(ctx, &[], &cfg)).contains("empty"));
    assert!(message(LossJob::new(ctx, &nan, &cfg)).contains("non-finite target 5"));
    assert!(message(LossJob::new(ctx, &x[..1000], &cfg)).contains("too short"));
    let job = LossJob::new(ctx, &x, &cfg).unwrap();
    assert!(message(job.eval(&x[1..])).contains("2999 samples"));
    assert!(message(job.eval(&nan)).contains("non-finite candidate 5"));
    let small = ctx.upload("test.small", &x[..100]).unwrap();
    assert!(message(job.eval_buffer(&small)).contains("candidate buffer"));
    // The job still works after refusing.
    assert!(job.eval(&x).unwrap().0.abs() < 1e-6);
}
