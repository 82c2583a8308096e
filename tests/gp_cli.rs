//! `wavesplat gp ...` end to end: outputs, and bad input that must give a
//! clear error, exit code 1 and no output file.

mod common;

use common::{assert_fails, scratch, stderr, wavesplat};
use wavesplat::npy;

#[test]
fn kernel_writes_the_lags() {
    let dir = scratch("kernel");
    let out = dir.join("k.npy");
    let o = wavesplat(&[
        "gp",
        "kernel",
        "--kernel",
        "matern12(var=2, ell=10ms)",
        "--lags",
        "50",
        "--rate",
        "1000",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, k) = npy::read_f32(&out).unwrap();
    assert_eq!(shape, vec![50]);
    for (i, v) in k.iter().enumerate() {
        let want = 2.0 * (-(i as f64) / 10.0).exp();
        assert!((*v as f64 - want).abs() < 1e-6, "lag {i}");
    }
}

#[test]
fn check_tells_valid_from_invalid() {
    let o = wavesplat(&[
        "gp",
        "check",
        "--kernel",
        "middle-c-after",
        "--seconds",
        "0.2",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("VALID"),
        "{text}{}",
        stderr(&o)
    );
    let o = wavesplat(&[
        "gp",
        "check",
        "--kernel",
        "middle-c-before-unclamped",
        "--seconds",
        "0.2",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text.contains("NOT positive definite") && text.contains("negative term"),
        "{text}"
    );
    assert!(stderr(&o).contains("is not valid"), "{}", stderr(&o));
    let o = wavesplat(&[
        "gp",
        "check",
        "--kernel",
        "se(ell=5ms)",
        "--rate",
        "1000",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["n"], 1000);
}

#[test]
fn sample_writes_npy_and_wav_on_the_cpu_samplers() {
    let dir = scratch("sample");
    let npy_path = dir.join("draws.npy");
    for sampler in ["cpu", "state-space", "cholesky"] {
        let o = wavesplat(&[
            "gp",
            "sample",
            "--kernel",
            "osc(decay=50, freq=440) + 0.1 * matern12(ell=1ms)",
            "--rate",
            "8000",
            "--seconds",
            "0.25",
            "--draws",
            "3",
            "--seed",
            "9",
            "--sampler",
            sampler,
            "-o",
            npy_path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{sampler}: {}", stderr(&o));
        let (shape, data) = npy::read_f32(&npy_path).unwrap();
        assert_eq!(shape, vec![3, 2000], "{sampler}");
        assert!(data.iter().all(|v| v.is_finite()) && data.iter().any(|v| *v != 0.0));
    }
    let wav = dir.join("note.wav");
    let o = wavesplat(&[
        "gp",
        "sample",
        "--kernel",
        "middle-c",
        "--rate",
        "8000",
        "--seconds",
        "0.5",
        "--draws",
        "2",
        "--sampler",
        "cpu",
        "-o",
        wav.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let audio = wavesplat::audio::read_audio(&wav).unwrap();
    assert_eq!(audio.sample_rate, 8000);
    assert_eq!(
        audio.channels[0].len(),
        2 * 4000,
        "two draws one after another"
    );
    let peak = audio.channels[0].iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!((peak - 0.9).abs() < 1e-3, "normalised: peak {peak}");
}

#[test]
fn gpu_and_cpu_samplers_write_the_same_draws() {
    if common::gpu("gp_cli_gpu").is_none() {
        return;
    }
    let dir = scratch("gpu");
    let mut results = Vec::new();
    for sampler in ["gpu", "cpu"] {
        let path = dir.join(format!("{sampler}.npy"));
        let o = wavesplat(&[
            "gp",
            "sample",
            "--kernel",
            "middle-c",
            "--rate",
            "4410",
            "--draws",
            "2",
            "--seed",
            "77",
            "--sampler",
            sampler,
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{sampler}: {}", stderr(&o));
        let (shape, data) = npy::read_f32(&path).unwrap();
        assert_eq!(shape, vec![2, 9000]);
        results.push(common::widen(&data));
    }
    let err = common::relative_error(&results[0], &results[1]);
    assert!(err < 1e-4, "GPU vs CPU: {err:e}");
}

#[test]
fn bad_input_gives_a_clear_error_and_no_output() {
    let dir = scratch("bad");
    let out = dir.join("out.npy");
    let o = out.to_str().unwrap();
    let sample = |kernel: &'static str| -> Vec<&str> {
        vec![
            "gp",
            "sample",
            "--sampler",
            "cpu",
            "--kernel",
            kernel,
            "-o",
            o,
        ]
    };
    assert_fails(
        &sample("se(ell=1ms) + "),
        &out,
        &["character 15", "found the end"],
    );
    assert_fails(
        &sample("se(ell=-1ms)"),
        &out,
        &["ell must be a positive number"],
    );
    assert_fails(
        &sample("middle-c-before-unclamped"),
        &out,
        &["is not valid", "NOT positive definite"],
    );
    let json = dir.join("k.json");
    std::fs::write(&json, r#"{"type": "se", "ell": "long"}"#).unwrap();
    assert_fails(
        &["gp", "sample", "--kernel", json.to_str().unwrap(), "-o", o],
        &out,
        &["k.json", "not a kernel in JSON"],
    );
    assert_fails(
        &["gp", "sample", "--kernel", "missing.json", "-o", o],
        &out,
        &["missing.json"],
    );
    let mut args = sample("se(ell=1ms)");
    args.extend(["--seconds", "1000"]);
    assert_fails(&args, &out, &["too large"]);
    let mut args = sample("se(ell=1ms)");
    args.extend(["--seconds", "2", "--draws", "100000"]);
    assert_fails(&args, &out, &["fewer draws"]);
    let mut args = sample("se(ell=1ms)");
    args.extend(["--rate", "0"]);
    assert_fails(&args, &out, &["rate"]);
    let txt = dir.join("out.txt");
    assert_fails(
        &[
            "gp",
            "sample",
            "--kernel",
            "se(ell=1ms)",
            "-o",
            txt.to_str().unwrap(),
        ],
        &txt,
        &[".wav or .npy"],
    );
    assert_fails(
        &[
            "gp", "kernel", "--kernel", "middle-c", "--lags", "10", "-o", o,
        ],
        &out,
        &["non-stationary"],
    );
    assert_fails(
        &[
            "gp",
            "sample",
            "--kernel",
            "se(ell=1ms)",
            "--sampler",
            "state-space",
            "-o",
            o,
        ],
        &out,
        &["sum of damped oscillators"],
    );
}
