//! Gaussian processes: kernels and their text/JSON forms, validity, and the
//! samplers (circulant CPU/GPU, state-space, dense Cholesky) checked against
//! each other and against the kernels by statistics that can fail.
//!
//! Statistical tests use fixed seeds (deterministic, no flakes) and each
//! shows its statistic rejects a deliberately wrong kernel; GPU-vs-CPU
//! comparisons use fresh random inputs (`RNG_SEED` replays them).

mod common;

use common::{Rng, gpu, gpu_with, relative_error, widen};
use wavesplat::Error;
use wavesplat::gp::circulant::{self, Embedding};
use wavesplat::gp::presets::{self, MIDDLE_C_PERIOD};
use wavesplat::gp::{
    self, Draws, Kernel, Model, SampleConfig, cpu, dense, kernel_from_spec, parse_kernel,
};
use wavesplat::gpu::GpuOptions;

// ---------------------------------------------------------------------------
// Kernels, syntax, JSON
// ---------------------------------------------------------------------------

#[test]
fn expressions_parse_to_the_kernels_they_name() {
    let k = parse_kernel("2 * se(ell=10ms) + matern12(var=0.5, ell=0.1) - 0.25").unwrap();
    let expect = |tau: f64| {
        2.0 * (-0.5 * (tau / 0.01f64).powi(2)).exp() + 0.5 * (-tau.abs() / 0.1).exp() - 0.25
    };
    for tau in [0.0, 0.003, -0.02, 0.5] {
        assert!((k.eval(tau) - expect(tau)).abs() < 1e-14, "tau {tau}");
    }
    let sm = parse_kernel("sm(weight=2, freq=0.44kHz, width=20Hz)").unwrap();
    assert_eq!(
        sm,
        Kernel::SpectralMixture {
            weight: 2.0,
            freq: 440.0,
            width: 20.0
        }
    );
    let p = parse_kernel("(cos(freq=100) / 2)^3").unwrap();
    assert!((p.eval(0.001) - (0.5 * (0.2 * std::f64::consts::PI).cos()).powi(3)).abs() < 1e-15);
    // The display form reads back to the same kernel, for every kind.
    for text in [
        "se(ell=0.01)",
        "periodic(var=2, ell=0.7, period=3.7868ms)",
        "matern32(ell=1e-3) * matern52(var=3, ell=2.5e-2)",
        "osc(decay=12.5, freq=261.6) + cos(var=0.1, freq=523.2) - 1",
        "-(sm(freq=100, width=5) + 2)^2",
    ] {
        let k = parse_kernel(text).unwrap();
        assert_eq!(parse_kernel(&k.to_string()).unwrap(), k, "{text} -> {k}");
    }
    for preset in [
        "middle-c-after",
        "middle-c-before",
        "middle-c-before-unclamped",
    ] {
        let k = kernel_from_spec(preset).unwrap();
        let back = parse_kernel(&k.to_string()).unwrap();
        for tau in [0.0, 1e-3, 0.01, 0.3] {
            assert!((back.eval(tau) - k.eval(tau)).abs() < 1e-12, "{preset}");
        }
    }
}

#[test]
fn syntax_errors_name_the_character_position() {
    for (text, position, words) in [
        ("se(ell=1", 9, "expected ',' or ')'"),
        ("se(ell=1) +", 12, "found the end"),
        ("se(ell=1) $ 2", 11, "unexpected '$'"),
        ("gauss(ell=1)", 1, "unknown kernel \"gauss\""),
        ("se(l=1)", 4, "no parameter \"l\""),
        ("se(ell=1, ell=2)", 11, "given twice"),
        ("se(var=2)", 1, "needs ell"),
        ("se(ell=3Hz)", 8, "no unit \"Hz\""),
        ("se(ell=1)^0", 11, "exponent"),
        (
            "se(ell=1) / se(ell=2)",
            13,
            "divide only by a non-zero number",
        ),
        ("", 1, "empty"),
    ] {
        let e = parse_kernel(text).unwrap_err();
        match &e {
            Error::KernelSyntax { position: p, .. } => assert_eq!(*p, position, "{text}: {e}"),
            other => panic!("{text}: not a syntax error: {other}"),
        }
        let message = e.to_string();
        assert!(
            message.contains(words) && message.contains(&format!("character {position}")),
            "{text}: {message}"
        );
    }
}

#[test]
fn bad_parameters_are_refused_in_text_and_json() {
    let e = parse_kernel("matern12(ell=1) + se(ell=-0.5)")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("character 19") && e.contains("ell must be a positive number"),
        "{e}"
    );
    let e = parse_kernel("periodic(ell=1, period=0)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("period must be a positive number"), "{e}");
    let e = parse_kernel("osc(decay=-1, freq=1)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("decay must be a number >= 0"), "{e}");
    let e = kernel_from_spec(r#"{"type": "sum", "terms": [{"type": "se", "ell": -1}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("se: ell must be a positive number"), "{e}");
    let e = kernel_from_spec(r#"{"type": "se", "lengthscale": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a kernel in JSON") && e.contains("lengthscale"),
        "{e}"
    );
    let e = kernel_from_spec("middle-c").unwrap_err().to_string();
    assert!(e.contains("non-stationary"), "{e}");
}

#[test]
fn json_and_text_forms_are_the_same_kernel() {
    let json = r#"{"type": "product", "factors": [
        {"type": "matern12", "ell": 0.386},
        {"type": "sum", "terms": [
            {"type": "periodic", "ell": 1, "period": 0.0037868},
            {"type": "constant", "value": -0.5},
            {"type": "power", "exponent": 2, "base": {"type": "cos", "freq": 264.07}}
        ]}
    ]}"#;
    let from_json = kernel_from_spec(json).unwrap();
    let from_text = parse_kernel(
        "matern12(ell=0.386) * (periodic(ell=1, period=0.0037868) - 0.5 + cos(freq=264.07)^2)",
    )
    .unwrap();
    assert_eq!(from_json, from_text);
    let back: Kernel = serde_json::from_str(&serde_json::to_string(&from_json).unwrap()).unwrap();
    assert_eq!(back, from_json);
}

#[test]
fn oscillator_forms_equal_their_kernels() {
    for text in [
        "matern12(var=2, ell=0.01)",
        "periodic(ell=0.3, period=2ms)",
        "periodic(var=3, ell=2, period=0.01) * matern12(ell=0.05)",
        "osc(decay=30, freq=200) * cos(freq=50) + 0.5 * matern12(ell=0.2)",
        "(1 - cos(freq=100))^4 / 16",
        "middle-c-after",
        "middle-c-before",
        "middle-c-before-unclamped",
    ] {
        let k = kernel_from_spec(text).unwrap();
        let terms = k.oscillators().expect(text);
        for i in 0..200 {
            let tau = i as f64 * 1.37e-4;
            let sum: f64 = terms
                .iter()
                .map(|t| {
                    t.weight
                        * (-t.decay * tau).exp()
                        * (2.0 * std::f64::consts::PI * t.freq * tau).cos()
                })
                .sum();
            assert!(
                (sum - k.eval(tau)).abs() < 1e-10 * k.eval(0.0).abs().max(1.0),
                "{text} at {tau}: {sum} vs {}",
                k.eval(tau)
            );
        }
    }
    for text in [
        "se(ell=1)",
        "matern32(ell=1)",
        "sm(freq=1, width=1)",
        "cos(freq=1) * matern52(ell=1)",
    ] {
        assert!(
            parse_kernel(text).unwrap().oscillators().is_none(),
            "{text}"
        );
    }
}

#[test]
fn middle_c_cores_are_what_the_design_says() {
    // Before: a0 = 2 e^-1 I0(1) - 1 + 0.25 * 70/256 = -1.214e-4.
    let a0 = presets::middle_c_before_constant_term();
    assert!((a0 + 1.214e-4).abs() < 1e-7, "a0 = {a0:e}");
    let negative = |k: &Kernel| {
        k.oscillators()
            .unwrap()
            .iter()
            .filter(|t| t.weight < -1e-12)
            .count()
    };
    assert_eq!(negative(&presets::middle_c_before_unclamped()), 1);
    assert_eq!(negative(&presets::middle_c_before()), 0);
    assert_eq!(negative(&presets::middle_c_after()), 0);
    // Clamping changes the kernel by at most |a0|.
    for i in 0..500 {
        let tau = i as f64 * 1e-3;
        let d =
            presets::middle_c_before().eval(tau) - presets::middle_c_before_unclamped().eval(tau);
        assert!(d.abs() <= a0.abs() * 1.000001);
    }
    // The post's kernel at 44.1 kHz: k(0) = 1, period 167 samples.
    let after = presets::middle_c_after();
    assert!((after.eval(0.0) - 1.0).abs() < 1e-12);
    assert!((MIDDLE_C_PERIOD * 44_100.0 - 167.0).abs() < 1e-9);
    let post = |t: f64| {
        let x = std::f64::consts::PI * t / 167.0;
        (-t.abs() / (102.0 * 167.0)).exp()
            * (2.0 * (-5.0 * x.sin().powi(2)).exp() - 1.0
                + 1.7 * (std::f64::consts::FRAC_PI_2 + x).cos().powi(8))
    };
    for t in [0.0, 1.0, 50.0, 83.5, 167.0, 1000.0, 40_000.0] {
        assert!(
            (after.eval(t / 44_100.0) - post(t)).abs() < 1e-12,
            "t = {t}"
        );
    }
}

// ---------------------------------------------------------------------------
// Validity and embedding
// ---------------------------------------------------------------------------

#[test]
fn the_unclamped_before_core_is_reported_invalid() {
    let v = circulant::check_kernel(&presets::middle_c_before_unclamped(), 44_100.0, 5000).unwrap();
    assert!(!v.valid, "{v}");
    assert!(v.tried.iter().all(|t| !t.non_negative), "{v}");
    assert!(
        v.verdict.contains("NOT positive definite") && v.verdict.contains("negative term"),
        "{v}"
    );
    assert_eq!(v.negative_terms.len(), 1);
    assert_eq!(v.negative_terms[0].freq, 0.0);
    for k in [presets::middle_c_before(), presets::middle_c_after()] {
        let v = circulant::check_kernel(&k, 44_100.0, 5000).unwrap();
        assert!(v.valid && v.embedding <= Some(1 << 18), "{v}");
    }
    // Sampling it is an error naming why, on every sampler.
    let model = Model::stationary(presets::middle_c_before_unclamped());
    let cfg = SampleConfig::new(2450.0, 0.4, 2, 1).unwrap();
    for e in [
        cpu::circulant_sample(&model, &cfg, 1).unwrap_err(),
        cpu::state_space_sample(&model, &cfg, 1).unwrap_err(),
        dense::cholesky_sample(&model, &cfg, 0).unwrap_err(),
    ] {
        let text = e.to_string();
        assert!(
            text.contains("not valid") || text.contains("not positive definite"),
            "{text}"
        );
    }
}

#[test]
fn the_embedding_grows_until_no_eigenvalue_is_negative() {
    // A smooth kernel much longer than its grid: the smallest embedding has
    // negative eigenvalues, a larger one does not.
    let k = parse_kernel("matern52(ell=40)").unwrap();
    let v = circulant::check_kernel(&k, 1.0, 100).unwrap();
    assert!(v.valid, "{v}");
    assert!(v.tried.len() > 1 && !v.tried[0].non_negative, "{v}");
    assert_eq!(v.embedding, Some(v.tried.last().unwrap().m));
    let e = Embedding::new(&Model::stationary(k.clone()), 1.0, 100).unwrap();
    assert_eq!(e.m, v.tried.last().unwrap().m);
    // A kernel that never decays (a cosine that does not fit the circle):
    // refused, with the reason.
    let k = parse_kernel("cos(freq=0.0123)").unwrap();
    let Err(e) = Embedding::new(&Model::stationary(k), 1.0, 1000) else {
        panic!("embedded a cosine");
    };
    let e = e.to_string();
    assert!(e.contains("not valid") && e.contains("not decayed"), "{e}");
}

#[test]
fn the_middle_c_grid_embeds_on_2_pow_18_points() {
    let e = Embedding::new(&presets::middle_c(), 44_100.0, 90_001).unwrap();
    assert_eq!(e.m, 1 << 18);
    assert_eq!(e.components(), 2);
}

#[test]
fn grids_too_large_for_memory_are_refused() {
    let e = SampleConfig::new(44_100.0, 1e6, 1, 0).unwrap_err();
    assert!(matches!(e, Error::OutOfMemory(_)), "{e}");
    assert!(e.to_string().contains("too large"), "{e}");
    let e = SampleConfig::new(44_100.0, 10.0, 10_000, 0).unwrap_err();
    assert!(e.to_string().contains("fewer draws"), "{e}");
    let model = Model::stationary(parse_kernel("matern12(ell=0.01)").unwrap());
    let cfg = SampleConfig::new(1000.0, 20.0, 1, 0).unwrap();
    let e = dense::cholesky_sample(&model, &cfg, 0).unwrap_err();
    assert!(e.to_string().contains("dense Cholesky takes"), "{e}");
}

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/// Each draw's estimate of the lag-h covariance: mean_t x_t x_{t+h}.
fn per_draw_covariance(draws: &Draws, h: usize) -> Vec<f64> {
    (0..draws.draws)
        .map(|d| {
            let x = draws.draw(d);
            let s: f64 = (0..draws.n - h)
                .map(|t| x[t] as f64 * x[t + h] as f64)
                .sum();
            s / (draws.n - h) as f64
        })
        .collect()
}

/// Per-lag z-scores of the empirical covariance of stationary draws against
/// `k(lag)`: the draws' mean estimate is compared with k(h) in units of its
/// standard error (the draws are independent).
fn covariance_z(draws: &Draws, lags: &[usize], k: impl Fn(usize) -> f64) -> Vec<f64> {
    lags.iter()
        .map(|&h| {
            let (mean, se) = mean_and_se(&per_draw_covariance(draws, h));
            (mean - k(h)) / se
        })
        .collect()
}

/// Asserts the draws' covariance matches kernel `right` at every lag of
/// LAGS (|z| < 5) and that the same statistic rejects kernel `wrong` (|z| > 8).
fn assert_covariance_is(draws: &Draws, right: &str, wrong: &str) {
    let lag_kernel = |text: &str| {
        let k = parse_kernel(text).unwrap();
        move |h: usize| k.eval(h as f64 / draws.rate)
    };
    let z = covariance_z(draws, &LAGS, lag_kernel(right));
    assert!(max_abs(&z) < 5.0, "{right}: z = {z:.2?}");
    let z_bad = covariance_z(draws, &LAGS, lag_kernel(wrong));
    assert!(
        max_abs(&z_bad) > 8.0,
        "{wrong} not rejected: z = {z_bad:.2?}"
    );
}

fn mean_and_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

const LAGS: [usize; 12] = [0, 1, 2, 3, 5, 8, 12, 17, 25, 40, 60, 90];

/// The kernels the statistics run on (rate 1 kHz, 256 samples), each with a
/// deliberately wrong variant the same statistic must reject.
fn statistical_kernels() -> Vec<(&'static str, &'static str)> {
    vec![
        ("se(ell=8ms)", "se(ell=10ms)"),
        ("matern32(var=2, ell=15ms)", "matern32(var=2, ell=19ms)"),
        ("matern52(ell=10ms)", "matern52(ell=10ms) * 1.15"),
        (
            "sm(freq=60, width=10) + sm(weight=0.5, freq=200, width=30)",
            "sm(freq=60, width=10) + sm(weight=0.5, freq=190, width=30)",
        ),
        (
            "periodic(ell=1, period=25ms) * matern12(ell=0.1)",
            "periodic(ell=1, period=27ms) * matern12(ell=0.1)",
        ),
        (
            "osc(decay=20, freq=50) + matern12(var=0.5, ell=5ms)",
            "osc(decay=20, freq=55) + matern12(var=0.5, ell=5ms)",
        ),
    ]
}

fn lag_kernel(k: &Kernel, rate: f64) -> impl Fn(usize) -> f64 + '_ {
    move |h| k.eval(h as f64 / rate)
}

#[test]
fn circulant_draws_have_the_kernels_covariance() {
    let rate = 1000.0;
    for (right, wrong) in statistical_kernels() {
        let k = parse_kernel(right).unwrap();
        let cfg = SampleConfig {
            rate,
            n: 256,
            draws: 2000,
            seed: 7,
        };
        let draws = cpu::circulant_sample(&Model::stationary(k), &cfg, 0).unwrap();
        assert_covariance_is(&draws, right, wrong);
    }
}

/// Two-sample z-scores between the covariance estimates of two sets of draws.
fn two_sample_z(a: &Draws, b: &Draws, lags: &[usize]) -> Vec<f64> {
    lags.iter()
        .map(|&h| {
            let (ma, sa) = mean_and_se(&per_draw_covariance(a, h));
            let (mb, sb) = mean_and_se(&per_draw_covariance(b, h));
            (ma - mb) / (sa * sa + sb * sb).sqrt()
        })
        .collect()
}

/// Mean of z^2 and of z_i z_{i+1} over whitened draws, in units of their
/// standard errors (both 0 for draws of the kernel the factor came from).
fn whiteness(l: &[f64], n: usize, draws: &Draws) -> (f64, f64) {
    let (mut sq, mut lag1) = (Vec::new(), Vec::new());
    for d in 0..draws.draws {
        let z = dense::whiten(l, n, &widen(draws.draw(d)));
        sq.extend(z.iter().map(|v| v * v - 1.0));
        lag1.extend(z.windows(2).map(|w| w[0] * w[1]));
    }
    let (m1, s1) = mean_and_se(&sq);
    let (m2, s2) = mean_and_se(&lag1);
    (m1 / s1, m2 / s2)
}

#[test]
fn state_space_circulant_and_cholesky_agree_in_distribution() {
    let rate = 1000.0;
    let n = 160;
    for (right, wrong) in [
        (
            "osc(decay=20, freq=50) + matern12(var=0.5, ell=5ms)",
            "osc(decay=20, freq=50) + matern12(var=0.5, ell=7ms)",
        ),
        (
            "periodic(ell=1, period=25ms) * matern12(ell=0.1)",
            "periodic(ell=1, period=26ms) * matern12(ell=0.1)",
        ),
    ] {
        let model = Model::stationary(parse_kernel(right).unwrap());
        let cfg = SampleConfig {
            rate,
            n,
            draws: 600,
            seed: 11,
        };
        let circ = cpu::circulant_sample(&model, &cfg, 0).unwrap();
        let ss = cpu::state_space_sample(&model, &cfg, 0).unwrap();
        let chol = dense::cholesky_sample(&model, &cfg, 0).unwrap();
        let k = &model.components[0].kernel;
        for (name, draws) in [
            ("circulant", &circ),
            ("state-space", &ss),
            ("cholesky", &chol),
        ] {
            let z = covariance_z(draws, &LAGS, lag_kernel(k, rate));
            assert!(max_abs(&z) < 5.0, "{right} {name}: z = {z:.2?}");
        }
        for (a, b) in [(&ss, &circ), (&ss, &chol), (&circ, &chol)] {
            let z = two_sample_z(a, b, &LAGS);
            assert!(max_abs(&z) < 5.0, "{right}: two-sample z = {z:.2?}");
        }
        // Whitening by the true factor leaves white noise; by a wrong one, not.
        let mut l = dense::covariance_matrix(&model, rate, n, 0.0).unwrap();
        dense::cholesky(&mut l, n, 0).unwrap();
        let bad_model = Model::stationary(parse_kernel(wrong).unwrap());
        let mut bad = dense::covariance_matrix(&bad_model, rate, n, 0.0).unwrap();
        dense::cholesky(&mut bad, n, 0).unwrap();
        for (name, draws) in [
            ("circulant", &circ),
            ("state-space", &ss),
            ("cholesky", &chol),
        ] {
            let (a, b) = whiteness(&l, n, draws);
            assert!(
                a.abs() < 5.0 && b.abs() < 5.0,
                "{right} {name}: whiteness z = {a:.2}, {b:.2}"
            );
            let (a, b) = whiteness(&bad, n, draws);
            assert!(
                a.abs().max(b.abs()) > 8.0,
                "{wrong} not rejected for {name}: z = {a:.2}, {b:.2}"
            );
        }
    }
}

#[test]
fn the_state_space_sampler_refuses_kernels_without_an_oscillator_form() {
    let model = Model::stationary(parse_kernel("se(ell=0.01)").unwrap());
    let cfg = SampleConfig::new(1000.0, 0.1, 1, 0).unwrap();
    let e = cpu::state_space_sample(&model, &cfg, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sum of damped oscillators"), "{e}");
}

#[test]
fn seeds_are_reproducible_and_distinct() {
    let model = Model::stationary(parse_kernel("matern32(ell=5ms)").unwrap());
    let cfg = SampleConfig::new(1000.0, 0.3, 3, 42).unwrap();
    let a = cpu::circulant_sample(&model, &cfg, 1).unwrap();
    let b = cpu::circulant_sample(&model, &cfg, 2).unwrap();
    assert_eq!(a, b, "thread count changes nothing");
    let c = cpu::circulant_sample(&model, &SampleConfig { seed: 43, ..cfg }, 1).unwrap();
    assert!(relative_error(&widen(&a.data), &widen(&c.data)) > 0.5);
    // Draw i does not depend on how many draws were asked for.
    let one = cpu::circulant_sample(&model, &SampleConfig { draws: 1, ..cfg }, 1).unwrap();
    assert_eq!(one.draw(0), a.draw(0));
}

// ---------------------------------------------------------------------------
// GPU against CPU
// ---------------------------------------------------------------------------

fn random_model(rng: &mut Rng) -> Model {
    let ell = 2.0 + 20.0 * rng.uniform();
    let kernels = [
        format!("matern32(var=1.5, ell={ell}ms)"),
        format!("se(ell={ell}ms) + 0.3 * matern12(ell={}ms)", 2.0 * ell),
        format!("sm(freq={}, width=15)", 50.0 + 100.0 * rng.uniform()),
        format!("periodic(ell=0.8, period={ell}ms) * matern12(ell=0.05)"),
    ];
    Model::stationary(parse_kernel(&kernels[rng.range(0, 3)]).unwrap())
}

#[test]
fn gpu_noise_kernel_matches_its_cpu_mirror() {
    let Some(ctx) = gpu("gp_noise") else { return };
    let mut rng = Rng::fresh("gp_noise");
    for (m, components, pairs) in [(64, 1, 3), (1024, 2, 2), (4096, 3, 1), (256, 2, 5)] {
        let spectrum: Vec<f32> = (0..m * components).map(|_| rng.uniform() as f32).collect();
        let seed = rng.next_u64();
        let first = rng.range(0, 1000);
        let got = gp::gpu::noise_on_gpu(ctx, &spectrum, m, seed, first, pairs).unwrap();
        let want = cpu::noise_spectrum(&widen(&spectrum), m, seed, first, pairs);
        let got: Vec<f64> = got
            .iter()
            .flat_map(|c| [c[0] as f64, c[1] as f64])
            .collect();
        let want: Vec<f64> = want.iter().flatten().copied().collect();
        let err = relative_error(&got, &want);
        eprintln!("noise m {m} x {components} x {pairs}: relative error {err:.2e}");
        assert!(err < 1e-5, "m {m}: {err:e}");
    }
}

#[test]
fn gpu_combine_kernel_matches_its_cpu_mirror() {
    let Some(ctx) = gpu("gp_combine") else { return };
    let mut rng = Rng::fresh("gp_combine");
    for (m, n, components, pairs) in [
        (64, 1, 1, 1),
        (64, 33, 2, 3),
        (1024, 513, 3, 2),
        (4096, 4000, 1, 2),
    ] {
        let values: Vec<[f32; 2]> = (0..components * pairs * m)
            .map(|_| [rng.uniform() as f32 - 0.5, rng.uniform() as f32 - 0.5])
            .collect();
        let amplitudes = rng.signal(components * n);
        let got = gp::gpu::combine_on_gpu(ctx, &values, &amplitudes, m, n, pairs).unwrap();
        let wide: Vec<[f64; 2]> = values.iter().map(|c| [c[0] as f64, c[1] as f64]).collect();
        let want = cpu::combine(&wide, &widen(&amplitudes), m, n, pairs);
        let err = relative_error(&widen(&got), &want);
        assert!(err < 1e-6, "m {m} n {n}: {err:e}");
    }
}

#[test]
fn gpu_and_cpu_circulant_give_the_same_draws_for_the_same_seed() {
    let Some(ctx) = gpu("gp_same_draws") else {
        return;
    };
    let mut rng = Rng::fresh("gp_same_draws");
    for _ in 0..3 {
        let model = random_model(&mut rng);
        let n = rng.range(50, 3000);
        let cfg = SampleConfig {
            rate: 1000.0,
            n,
            draws: rng.range(1, 7),
            seed: rng.next_u64(),
        };
        let g = gp::gpu::circulant_sample(ctx, &model, &cfg).unwrap();
        let c = cpu::circulant_sample(&model, &cfg, 0).unwrap();
        let err = relative_error(&widen(&g.data), &widen(&c.data));
        eprintln!(
            "{} n {n} draws {}: GPU vs CPU {err:.2e}",
            model.name, cfg.draws
        );
        assert!(err < 1e-4, "{}: {err:e}", model.name);
    }
    // The middle C model (two components, amplitude and mixing) at a low rate.
    let cfg = SampleConfig::new(4410.0, presets::MIDDLE_C_SECONDS, 4, rng.next_u64()).unwrap();
    let g = gp::gpu::circulant_sample(ctx, &presets::middle_c(), &cfg).unwrap();
    let c = cpu::circulant_sample(&presets::middle_c(), &cfg, 0).unwrap();
    let err = relative_error(&widen(&g.data), &widen(&c.data));
    assert!(err < 1e-4, "middle C: {err:e}");
}

#[test]
fn draws_split_over_several_submissions_are_the_same() {
    let options = GpuOptions {
        max_binding: Some(64 * 1024),
        ..GpuOptions::from_env()
    };
    let Some(ctx) = gpu_with("gp_chunks", options) else {
        return;
    };
    let mut rng = Rng::fresh("gp_chunks");
    let model = random_model(&mut rng);
    let cfg = SampleConfig {
        rate: 1000.0,
        n: 1000,
        draws: 9,
        seed: rng.next_u64(),
    };
    let e = Embedding::new(&model, cfg.rate, cfg.n).unwrap();
    assert!(
        gp::gpu::pairs_per_submission(&ctx, &e) < 5,
        "several submissions"
    );
    let g = gp::gpu::circulant_sample(&ctx, &model, &cfg).unwrap();
    let c = cpu::circulant_sample(&model, &cfg, 0).unwrap();
    assert!(relative_error(&widen(&g.data), &widen(&c.data)) < 1e-4);
}

#[test]
fn gpu_draws_have_the_kernels_covariance() {
    let Some(ctx) = gpu("gp_gpu_covariance") else {
        return;
    };
    let rate = 1000.0;
    for (right, wrong) in statistical_kernels().into_iter().take(3) {
        let k = parse_kernel(right).unwrap();
        let cfg = SampleConfig {
            rate,
            n: 256,
            draws: 2000,
            seed: 5,
        };
        let draws = gp::gpu::circulant_sample(ctx, &Model::stationary(k), &cfg).unwrap();
        assert_covariance_is(&draws, right, wrong);
    }
}

// ---------------------------------------------------------------------------
// Middle C
// ---------------------------------------------------------------------------

/// Normalised autocorrelation of `x` at `lag`.
fn autocorrelation(x: &[f32], lag: usize) -> f64 {
    let num: f64 = (0..x.len() - lag)
        .map(|t| x[t] as f64 * x[t + lag] as f64)
        .sum();
    let den: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
    num / den
}

#[test]
fn a_middle_c_draw_rings_at_167_samples_and_follows_sigma() {
    let Some(ctx) = gpu("gp_middle_c") else {
        return;
    };
    let cfg = SampleConfig::new(44_100.0, presets::MIDDLE_C_SECONDS, 16, 2024).unwrap();
    assert_eq!(cfg.n, 90_001);
    let draws = gp::gpu::circulant_sample(ctx, &presets::middle_c(), &cfg).unwrap();
    // Same draws on the CPU path.
    let cpu_draws = cpu::circulant_sample(&presets::middle_c(), &cfg, 0).unwrap();
    let err = relative_error(&widen(&draws.data), &widen(&cpu_draws.data));
    assert!(err < 1e-4, "GPU vs CPU at 90001 samples: {err:e}");

    // After the switch (t >= 50000), the autocorrelation peaks at lag 167.
    for d in 0..draws.draws {
        let after = &draws.draw(d)[50_000..];
        let best = (84..=250)
            .max_by(|&a, &b| autocorrelation(after, a).total_cmp(&autocorrelation(after, b)))
            .unwrap();
        assert_eq!(best, 167, "draw {d}");
        assert!(autocorrelation(after, 167) > 0.8, "draw {d}");
    }

    // The RMS over draws follows sigma(t) (Var f(t) = sigma(t)^2, k(0) = 1 for both cores).
    let windows: Vec<(usize, usize)> = (0..10)
        .map(|i| (i * 500, i * 500 + 500))
        .chain((1..18).map(|i| (i * 5000, i * 5000 + 5000)))
        .collect();
    for (a, b) in windows {
        let mut power = 0.0;
        for d in 0..draws.draws {
            power += draws.draw(d)[a..b]
                .iter()
                .map(|&v| (v as f64).powi(2))
                .sum::<f64>();
        }
        let rms = (power / (draws.draws * (b - a)) as f64).sqrt();
        let sigma = ((a..b)
            .map(|t| presets::middle_c_sigma(t as f64 / 44_100.0).powi(2))
            .sum::<f64>()
            / (b - a) as f64)
            .sqrt();
        assert!(
            (rms / sigma - 1.0).abs() < 0.3,
            "window {a}..{b}: RMS {rms:.1} vs sigma {sigma:.1}"
        );
    }

    // Its spectrum's strongest peak is a harmonic of 264.07 Hz.
    let x = widen(&draws.draw(0)[45_000..90_000]);
    let f0 = 44_100.0 / 167.0;
    let peak = strongest_frequency(&x, 44_100.0);
    let harmonic = (peak / f0).round();
    assert!(
        harmonic >= 1.0 && (peak - harmonic * f0).abs() < 3.0,
        "peak at {peak:.1} Hz is not near a harmonic of {f0:.2} Hz"
    );
}

/// Frequency (Hz) of the largest periodogram bin of `x`.
fn strongest_frequency(x: &[f64], rate: f64) -> f64 {
    use rustfft::num_complex::Complex;
    let n = x.len();
    let mut buf: Vec<Complex<f64>> = x.iter().map(|&v| Complex::new(v, 0.0)).collect();
    rustfft::FftPlanner::new()
        .plan_fft_forward(n)
        .process(&mut buf);
    let (k, _) = buf[1..n / 2]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.norm().total_cmp(&b.1.norm()))
        .unwrap();
    (k + 1) as f64 * rate / n as f64
}

#[test]
fn the_counter_based_noise_is_white_standard_normal() {
    use wavesplat::gp::noise::gaussian_pair;
    let count = 100_000;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..count as u32 {
        let g = gaussian_pair(0x1234_5678_9abc_def0, i % 7, i % 3, i / 21);
        a.push(g[0]);
        b.push(g[1]);
    }
    let n = count as f64;
    let mean = a.iter().chain(&b).sum::<f64>() / (2.0 * n);
    let var = a.iter().chain(&b).map(|x| x * x).sum::<f64>() / (2.0 * n);
    let kurtosis = a.iter().chain(&b).map(|x| x.powi(4)).sum::<f64>() / (2.0 * n);
    let cross = a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() / n;
    let lag = a.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / n;
    let se = (1.0 / (2.0 * n)).sqrt();
    assert!(mean.abs() < 5.0 * se, "mean {mean}");
    assert!(
        (var - 1.0).abs() < 5.0 * (2.0f64 / (2.0 * n)).sqrt(),
        "variance {var}"
    );
    assert!(
        (kurtosis - 3.0).abs() < 5.0 * (96.0f64 / (2.0 * n)).sqrt(),
        "E x^4 {kurtosis}"
    );
    assert!(
        cross.abs() < 5.0 / n.sqrt() && lag.abs() < 5.0 / n.sqrt(),
        "{cross} {lag}"
    );
    // Seed, stream, component and index each change the value.
    let base = gaussian_pair(1, 2, 3, 4);
    for other in [
        gaussian_pair(2, 2, 3, 4),
        gaussian_pair(1 << 40, 2, 3, 4),
        gaussian_pair(1, 3, 3, 4),
        gaussian_pair(1, 2, 4, 4),
        gaussian_pair(1, 2, 3, 5),
    ] {
        assert_ne!(base, other);
    }
}
