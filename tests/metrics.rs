//! Quality metrics: agreement with `../shared/tools/audio_metrics.py` on the
//! fixture pairs of tests/data/metrics_reference.json (made by
//! tests/data/make_metrics_fixtures.py, see tests/data/README.md), and
//! properties that hold whatever the script says.

mod common;

use serde_json::Value;
use std::path::Path;
use wavesplat::audio;
use wavesplat::metrics::{self, Backend, MelFilterbank, Metrics};
use wavesplat::stft::{StftConfig, cpu::stft_reference};
use wavesplat::{Error, Result};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
/// Agreement asked of the Rust metrics against the numpy script.
const TOLERANCE: f64 = 1e-3;

fn load(name: &str) -> Vec<f32> {
    audio::load_mono(&Path::new(DATA).join(name), None)
        .unwrap()
        .samples
}

fn reference_json() -> Value {
    let text = std::fs::read_to_string(Path::new(DATA).join("metrics_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The test signal of a case, derived from `reference` as the python script does.
fn derive(kind: &str, reference: &[f32]) -> Vec<f32> {
    if let Some(gain) = kind.strip_prefix("gain:") {
        let gain: f32 = gain.parse().unwrap();
        return reference.iter().map(|x| x * gain).collect();
    }
    if let Some(delay) = kind.strip_prefix("delay:") {
        let mut out = vec![0.0; delay.parse().unwrap()];
        out.extend_from_slice(reference);
        return out;
    }
    if let Some(head) = kind.strip_prefix("head:") {
        return reference[..head.parse::<usize>().unwrap()].to_vec();
    }
    if kind == "zeros" {
        return vec![0.0; reference.len()];
    }
    load(kind)
}

/// The script's value for `key`; `null` stands for a non-finite number.
fn expected(case: &Value, key: &str) -> f64 {
    case[key].as_f64().unwrap_or(f64::NEG_INFINITY)
}

/// Largest |rust - python| over the four metrics of every case, checked per value.
fn check_cases(evaluate: impl Fn(&[f32], &[f32], u32) -> Result<Metrics>) -> f64 {
    let json = reference_json();
    let reference = load(json["reference"].as_str().unwrap());
    let mut worst = 0.0f64;
    for case in json["cases"].as_array().unwrap() {
        let kind = case["test"].as_str().unwrap();
        let rate = case["rate"].as_u64().unwrap() as u32;
        let m = evaluate(&reference, &derive(kind, &reference), rate).unwrap();
        let got = [m.mel_distance, m.stft_distance, m.lsd_db, m.snr_db];
        for (key, got) in ["mel_dist", "stft_dist", "lsd_db", "snr_db"]
            .iter()
            .zip(got)
        {
            let want = expected(case, key);
            let diff = if want == got { 0.0 } else { (got - want).abs() };
            eprintln!(
                "{kind:>22} @ {rate}: {key:9} rust {got:>20.12} python {want:>20.12} diff {diff:.2e}"
            );
            assert!(
                diff <= TOLERANCE,
                "{kind} @ {rate} {key}: rust {got}, python {want}"
            );
            worst = worst.max(diff);
        }
    }
    worst
}

#[test]
fn cpu_metrics_agree_with_audio_metrics_py() {
    let worst = check_cases(metrics::evaluate);
    eprintln!("largest |rust - python|: {worst:.3e}");
}

#[test]
fn gpu_spectra_give_the_same_metrics() {
    let Some(ctx) = common::gpu("metrics_gpu") else {
        return;
    };
    let worst = check_cases(|r, t, rate| metrics::evaluate_with(r, t, rate, Backend::Gpu(ctx)));
    eprintln!("largest |rust gpu - python|: {worst:.3e}");
}

#[test]
fn single_metric_functions_equal_evaluate() {
    let reference = load("metrics_ref.wav");
    let test = load("metrics_noise.wav");
    let all =
        metrics::evaluate_with(&reference, &test, 22050, Backend::Cpu { threads: 1 }).unwrap();
    assert_eq!(
        metrics::mel_distance(&reference, &test, 22050).unwrap(),
        all.mel_distance
    );
    assert_eq!(
        metrics::stft_distance(&reference, &test).unwrap(),
        all.stft_distance
    );
    assert_eq!(
        metrics::log_spectral_distance(&reference, &test).unwrap(),
        all.lsd_db
    );
    assert_eq!(metrics::snr_db(&reference, &test).unwrap(), all.snr_db);
}

#[test]
fn mel_filterbanks_match_the_python_construction() {
    let json = reference_json();
    for fb_json in json["filterbanks"].as_array().unwrap() {
        let get = |k: &str| fb_json[k].as_u64().unwrap() as usize;
        let (rate, n_fft, n_mels) = (get("rate") as u32, get("n_fft"), get("n_mels"));
        let fb = MelFilterbank::new(rate, n_fft, n_mels).unwrap();
        assert_eq!(fb.bins(), get("bins"));
        let rows = fb_json["rows"].as_array().unwrap();
        assert_eq!(rows.len(), n_mels);
        for (m, row) in rows.iter().enumerate() {
            let mut want = vec![0.0; fb.bins()];
            if !row.is_null() {
                let first = row["first"].as_u64().unwrap() as usize;
                for (i, w) in row["weights"].as_array().unwrap().iter().enumerate() {
                    want[first + i] = w.as_f64().unwrap();
                }
            }
            for (k, want) in want.iter().enumerate() {
                let got = fb.weight(m, k);
                assert!(
                    (got - want).abs() < 1e-12,
                    "mel_fb({rate}, {n_fft}, {n_mels}) row {m} bin {k}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn mel_filterbank_has_unit_peaks_on_the_mel_grid() {
    // 128 bands over 4097 bins: every triangle spans several bins, so the
    // largest weight of each row is close to 1 and rows overlap by halves.
    let fb = MelFilterbank::new(44100, 8192, 128).unwrap();
    for m in 0..128 {
        let (first, weights) = fb.row(m);
        let peak = weights.iter().cloned().fold(0.0, f64::max);
        assert!(peak > 0.5 && peak <= 1.0, "row {m}: peak {peak}");
        assert!(weights.iter().all(|w| (0.0..=1.0).contains(w)));
        if m > 0 {
            assert!(
                first <= fb.row(m - 1).0 + fb.row(m - 1).1.len(),
                "row {m} leaves a gap"
            );
        }
    }
    let mel = metrics::hz_to_mel(1000.0);
    assert!(
        (mel - 999.985_6).abs() < 1e-3,
        "HTK: 1000 Hz is about 1000 mel, got {mel}"
    );
    assert!((metrics::mel_to_hz(mel) - 1000.0).abs() < 1e-9);
}

#[test]
fn identical_signals_give_zero_distances_and_the_floored_snr() {
    let mut rng = common::Rng::fresh("metrics_identical");
    let len = rng.range(1025, 6000);
    let x = rng.signal(len);
    let m = metrics::evaluate(&x, &x, 16000).unwrap();
    assert_eq!((m.mel_distance, m.stft_distance, m.lsd_db), (0.0, 0.0, 0.0));
    let energy: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    let floored = 200.0 + 10.0 * energy.log10();
    assert!(
        (m.snr_db - floored).abs() < 1e-9,
        "{} vs {floored}",
        m.snr_db
    );
    assert_eq!(
        (m.samples, m.reference_samples, m.test_samples),
        (x.len(), x.len(), x.len())
    );
}

#[test]
fn a_gain_change_gives_the_analytic_log_term() {
    // test = g x: |Y| = g |X| in every bin, so where |X|^2 and g^2 |X|^2 stay
    // above the 1e-5 floor the log term is 2 |log10 g| and the magnitude term
    // |1 - g| mean |X|. Full-scale noise has |X|^2 around 64..256; a bin under
    // the floor is rare and moves the mean by under 2e-5.
    let mut rng = common::Rng::fresh("metrics_gain");
    let len = rng.range(4000, 12000);
    let x = rng.signal(len);
    let gain = 0.25 + rng.uniform() as f32;
    let y: Vec<f32> = x.iter().map(|v| v * gain).collect();
    let terms = metrics::stft_distance_terms(&x, &y).unwrap();
    let gain_exact = f64::from(gain);
    for t in &terms {
        let log_term = 2.0 * gain_exact.log10().abs();
        assert!(
            (t.log_power - log_term).abs() < 1e-4,
            "{t:?}: log term {log_term}"
        );
        let cfg = StftConfig::new(t.n_fft, t.n_fft / 4);
        let spectrum = stft_reference(&[&x], &cfg).unwrap();
        let mean_mag = spectrum.iter().map(|c| c.norm()).sum::<f64>() / spectrum.len() as f64;
        let magnitude_term = (1.0 - gain_exact).abs() * mean_mag;
        assert!(
            (t.magnitude - magnitude_term).abs() < 1e-6 * magnitude_term.max(1.0),
            "{t:?}: magnitude term {magnitude_term}"
        );
    }
    let windows: Vec<usize> = terms.iter().map(|t| t.n_fft).collect();
    assert_eq!(windows, metrics::STFT_WINDOWS);
    // The SNR of a pure gain is -20 log10 |1 - g|.
    let snr = metrics::snr_db(&x, &y).unwrap();
    assert!(
        (snr + 20.0 * (1.0 - gain_exact).abs().log10()).abs() < 1e-6,
        "snr {snr}"
    );
}

#[test]
fn silence_gives_floored_logs_and_an_infinite_snr() {
    let silence = vec![0.0f32; 3000];
    let m = metrics::evaluate(&silence, &silence, 22050).unwrap();
    assert_eq!((m.mel_distance, m.stft_distance, m.lsd_db), (0.0, 0.0, 0.0));
    assert_eq!(m.snr_db, f64::NEG_INFINITY, "0 / 1e-20: no signal energy");
    let json = serde_json::to_value(m).unwrap();
    assert!(json["snr_db"].is_null(), "{json}");
    assert!(json.get("bitrate_kbps").is_none(), "{json}");
}

#[test]
fn the_longer_signal_is_truncated() {
    let mut rng = common::Rng::fresh("metrics_truncate");
    let x = rng.signal(5000);
    let y = rng.signal(7000);
    let long = metrics::evaluate(&x, &y, 22050).unwrap();
    let cut = metrics::evaluate(&x, &y[..5000], 22050).unwrap();
    assert_eq!(long.mel_distance, cut.mel_distance);
    assert_eq!(long.snr_db, cut.snr_db);
    assert_eq!(
        (long.samples, long.reference_samples, long.test_samples),
        (5000, 5000, 7000)
    );
}

#[test]
fn bad_signals_give_clear_errors() {
    let good = vec![0.1f32; 4000];
    let mut nan = good.clone();
    nan[1234] = f32::NAN;
    match metrics::evaluate(&good, &nan, 22050) {
        Err(Error::NonFinite { what, index, .. }) => {
            assert_eq!((what.as_str(), index), ("test", 1234))
        }
        other => panic!("NaN test: {other:?}"),
    }
    let text = metrics::evaluate(&[], &good, 22050)
        .unwrap_err()
        .to_string();
    assert!(text.contains("reference signal is empty"), "{text}");
    let text = metrics::snr_db(&good, &[]).unwrap_err().to_string();
    assert!(text.contains("test signal is empty"), "{text}");
    let text = metrics::evaluate(&good, &good[..1024], 22050)
        .unwrap_err()
        .to_string();
    assert!(text.contains("at least 1025 samples"), "{text}");
    assert!(metrics::evaluate(&good, &good[..1025], 22050).is_ok());
    let text = metrics::evaluate(&good, &good, 0).unwrap_err().to_string();
    assert!(text.contains("0 Hz"), "{text}");
}

#[test]
fn bitrate_counts_bits_per_second_of_reference() {
    assert_eq!(metrics::bitrate_kbps(1000, 2.0).unwrap(), 4.0);
    assert!(metrics::bitrate_kbps(1000, 0.0).is_err());
    assert!(metrics::bitrate_kbps(1000, f64::NAN).is_err());
    let x = vec![0.2f32; 44100];
    let m = metrics::evaluate(&x, &x[..30000], 22050)
        .unwrap()
        .with_bitrate(2500)
        .unwrap();
    // 2 s of reference (not the 1.36 s compared): 2500 * 8 / 2 / 1000.
    assert_eq!(m.bitrate_kbps, Some(10.0));
    let json = serde_json::to_value(m).unwrap();
    assert_eq!(json["bitrate_kbps"], 10.0);
}
