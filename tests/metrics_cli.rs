//! `wavesplat eval` end to end: its JSON against the audio_metrics.py numbers
//! of tests/data/metrics_reference.json, the bitrate options, and bad input
//! that must give a clear error and a non-zero exit.

mod common;

use common::{scratch, stderr, wavesplat};
use serde_json::Value;
use std::path::Path;
use wavesplat::audio::{self, WavFormat};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn data(name: &str) -> String {
    format!("{DATA}/{name}")
}

/// Runs an eval that must succeed with --json and returns its JSON.
fn eval_json(args: &[&str]) -> Value {
    let mut all = vec!["eval", "--json"];
    all.extend_from_slice(args);
    let o = wavesplat(&all);
    assert!(o.status.success(), "{all:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

/// Runs an eval that must fail: exit code 1, the expected words, no panic, no stdout.
fn assert_fails(args: &[&str], words: &[&str]) {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    let o = wavesplat(&all);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{all:?}: {err}");
    assert!(!err.contains("panicked"), "{all:?} panicked:\n{err}");
    for w in words {
        assert!(err.contains(w), "{all:?}: expected {w:?} in:\n{err}");
    }
    assert!(o.stdout.is_empty(), "{all:?} printed metrics");
}

fn python_case(test: &str) -> Value {
    let text = std::fs::read_to_string(data("metrics_reference.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["test"] == test && c["rate"] == 22050)
        .cloned()
        .unwrap()
}

#[test]
fn json_output_agrees_with_audio_metrics_py() {
    for test in [
        "metrics_lowpass.wav",
        "metrics_noise.wav",
        "metrics_quantised.wav",
    ] {
        for backend in ["cpu", "gpu"] {
            let got = eval_json(&[&data("metrics_ref.wav"), &data(test), "--backend", backend]);
            let want = python_case(test);
            for key in ["mel_dist", "stft_dist", "lsd_db", "snr_db"] {
                let (g, w) = (got[key].as_f64().unwrap(), want[key].as_f64().unwrap());
                assert!((g - w).abs() < 1e-3, "{test} {backend} {key}: {g} vs {w}");
            }
            assert_eq!(got["samples"], 22050);
            assert!(
                got.get("bitrate_kbps").is_none(),
                "no bitrate without a size"
            );
        }
    }
}

#[test]
fn bitrate_comes_from_bytes_or_the_event_file_size() {
    let (reference, test) = (data("metrics_ref.wav"), data("metrics_noise.wav"));
    // The reference lasts 1 s: 3000 bytes are 24 kbit/s.
    let json = eval_json(&[&reference, &test, "--bytes", "3000"]);
    assert_eq!(json["bitrate_kbps"], 24.0);
    let events = scratch("bitrate").join("clip.splat");
    std::fs::write(&events, vec![0u8; 1250]).unwrap();
    let json = eval_json(&[&reference, &test, "--events", events.to_str().unwrap()]);
    assert_eq!(json["bitrate_kbps"], 10.0);
    let o = wavesplat(&["eval", &reference, &test, "--bytes", "3000"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "mel distance",
        "STFT distance",
        "log-spectral distance",
        "SNR",
        "24.0000 kbit/s",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

#[test]
fn different_lengths_are_truncated_with_a_note() {
    let dir = scratch("lengths");
    let reference = audio::load_mono(Path::new(&data("metrics_ref.wav")), None).unwrap();
    let head = dir.join("head.wav");
    let samples = &reference.samples[..15000];
    audio::write_wav(&head, &[samples], 22050, WavFormat::Float32).unwrap();
    let o = wavesplat(&[
        "eval",
        "--json",
        &data("metrics_ref.wav"),
        head.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("comparing the first 15000"),
        "{}",
        stderr(&o)
    );
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (json["samples"].as_u64(), json["test_samples"].as_u64()),
        (Some(15000), Some(15000))
    );
    assert_eq!(json["reference_samples"], 22050);
    assert_eq!(json["mel_dist"], 0.0);
}

#[test]
fn rate_mismatch_is_an_error_unless_resampled() {
    let dir = scratch("rates");
    let fast = dir.join("fast.wav");
    let reference = audio::load_mono(Path::new(&data("metrics_ref.wav")), Some(44100)).unwrap();
    audio::write_mono_wav(&fast, &reference, WavFormat::Float32).unwrap();
    let fast = fast.to_str().unwrap();
    assert_fails(
        &[&data("metrics_ref.wav"), fast],
        &["22050 Hz", "44100 Hz", "--resample"],
    );
    let json = eval_json(&[&data("metrics_ref.wav"), fast, "--resample"]);
    // Up and back down through the resampler: close, not identical.
    assert!(json["mel_dist"].as_f64().unwrap() < 0.05, "{json}");
    assert_eq!(json["sample_rate"], 22050);
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = scratch("bad");
    let reference = data("metrics_ref.wav");
    let missing = dir.join("missing.wav");
    let missing = missing.to_str().unwrap();
    assert_fails(&[&reference, missing], &["missing.wav", "No such file"]);
    assert_fails(&[missing, &reference], &["missing.wav", "No such file"]);
    assert_fails(
        &[&reference, &reference, "--events", missing],
        &["missing.wav"],
    );

    let nan = dir.join("nan.wav");
    common::write_float_wav(&nan, 22050, &[0.0, 0.5, f32::NAN, 0.25]);
    assert_fails(
        &[&reference, nan.to_str().unwrap()],
        &["nan.wav", "sample 2 is not finite"],
    );

    let empty = dir.join("empty.wav");
    common::write_float_wav(&empty, 22050, &[]);
    assert_fails(
        &[empty.to_str().unwrap(), &reference],
        &["empty.wav", "no audio samples"],
    );

    let short = dir.join("short.wav");
    common::write_float_wav(&short, 22050, &[0.1; 1000]);
    assert_fails(
        &[&reference, short.to_str().unwrap()],
        &["at least 1025 samples"],
    );
    // A usage error: clap's exit code 2.
    let o = wavesplat(&[
        "eval", &reference, &reference, "--bytes", "1", "--events", "x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}
