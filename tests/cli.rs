//! The `wavesplat` binary end to end: outputs on the bundled clip, and bad
//! input that must give a clear error, a non-zero exit and no output file.

mod common;

use common::{assert_fails, scratch, stderr, wavesplat, write_float_wav};
use std::path::Path;
use wavesplat::npy;

const CLIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/piano_bach_chorale.wav");

#[test]
fn cpu_stft_writes_npy_and_png_of_the_bundled_clip() {
    let dir = scratch("cpu");
    let (npy_path, png_path) = (dir.join("clip.npy"), dir.join("clip.png"));
    let o = wavesplat(&[
        "stft",
        CLIP,
        "--backend",
        "cpu",
        "--n-fft",
        "1024",
        "--hop",
        "256",
        "-o",
        npy_path.to_str().unwrap(),
        "--png",
        png_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, data) = npy::read_f32(&npy_path).unwrap();
    // 10 s at 22050 Hz: 1 + 220500 / 256 frames of 513 bins.
    assert_eq!(shape, vec![1 + 220_500 / 256, 513]);
    assert!(data.iter().all(|v| v.is_finite() && *v >= 0.0));
    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn gpu_and_cpu_backends_agree_on_the_bundled_clip() {
    if common::gpu("cli_gpu").is_none() {
        return;
    }
    let dir = scratch("backends");
    let mut results = Vec::new();
    for backend in ["gpu", "cpu"] {
        let path = dir.join(format!("{backend}.npy"));
        let o = wavesplat(&[
            "stft",
            CLIP,
            "--backend",
            backend,
            "--out-format",
            "complex",
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        if backend == "gpu" {
            assert!(stderr(&o).contains("running on"), "the adapter is named");
        }
        let (shape, data) = npy::read_complex64(&path).unwrap();
        results.push((
            shape,
            data.iter()
                .flat_map(|c| [c[0] as f64, c[1] as f64])
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(results[0].0, results[1].0);
    let err = common::relative_error(&results[0].1, &results[1].1);
    assert!(err < 1e-5, "GPU vs CPU: {err:e}");
}

#[test]
fn info_names_the_adapter() {
    if common::gpu("cli_info").is_none() {
        return;
    }
    let o = wavesplat(&["info", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(v["max_compute_workgroup_storage_size"].as_u64().unwrap() >= 16384);
    // Generated FFTs use subgroups only of the one width the adapter has.
    let (least, most) = (
        v["subgroup_sizes"][0].as_u64().unwrap(),
        v["subgroup_sizes"][1].as_u64().unwrap(),
    );
    let fft = v["fft_subgroup"].as_u64().unwrap();
    assert!(least <= most, "{v}");
    assert!(fft == 0 || (fft == least && fft == most), "{v}");
    let text = wavesplat(&["info"]);
    let line = String::from_utf8_lossy(&text.stdout)
        .lines()
        .find(|l| l.starts_with("subgroups:"))
        .map(str::to_string);
    let expected = if least == 0 {
        "none".to_string()
    } else {
        least.to_string()
    };
    assert!(
        line.as_deref().is_some_and(|l| l.contains(&expected)),
        "{line:?}"
    );
}

#[test]
fn bad_input_gives_a_clear_error_and_no_output() {
    let dir = scratch("bad");
    let out = dir.join("out.npy");
    let o = out.to_str().unwrap();
    let missing = dir.join("missing.wav");
    assert_fails(
        &[
            "stft",
            missing.to_str().unwrap(),
            "--backend",
            "cpu",
            "-o",
            o,
        ],
        &out,
        &["missing.wav"],
    );
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert_fails(
        &["stft", empty.to_str().unwrap(), "--backend", "cpu", "-o", o],
        &out,
        &["empty.wav"],
    );
    let text = dir.join("notes.wav");
    std::fs::write(&text, b"these are not samples").unwrap();
    assert_fails(
        &["stft", text.to_str().unwrap(), "--backend", "cpu", "-o", o],
        &out,
        &["notes.wav"],
    );
    assert_fails(
        &["stft", CLIP, "--n-fft", "1000", "--backend", "cpu", "-o", o],
        &out,
        &["n_fft", "1000"],
    );
    assert_fails(
        &["stft", CLIP, "--hop", "0", "--backend", "cpu", "-o", o],
        &out,
        &["hop"],
    );
    assert_fails(
        &[
            "stft",
            CLIP,
            "--out-format",
            "phase",
            "--backend",
            "cpu",
            "-o",
            o,
        ],
        &out,
        &["phase"],
    );
    assert_fails(&["stft", CLIP, "--backend", "cpu"], &out, &["-o"]);

    let nan = dir.join("nan.wav");
    write_float_wav(&nan, 22050, &[0.0, 0.5, f32::NAN, 0.25]);
    assert_fails(
        &[
            "stft",
            nan.to_str().unwrap(),
            "--rate",
            "0",
            "--backend",
            "cpu",
            "-o",
            o,
        ],
        &out,
        &["nan.wav", "not finite"],
    );
    let short = dir.join("short.wav");
    write_float_wav(&short, 22050, &[0.1; 100]);
    assert_fails(
        &[
            "stft",
            short.to_str().unwrap(),
            "--rate",
            "0",
            "--backend",
            "cpu",
            "-o",
            o,
        ],
        &out,
        &["short.wav", "too short"],
    );
}

const SHORT_IR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ir_short.wav");

fn write_wav_channels(path: &Path, channels: &[Vec<f32>], rate: u32) {
    wavesplat::audio::write_wav(path, channels, rate, wavesplat::audio::WavFormat::Float32)
        .unwrap();
}

#[test]
fn convolve_makes_a_mono_input_stereo_through_a_stereo_ir() {
    let dir = scratch("convolve");
    let (input, ir, out) = (dir.join("in.wav"), dir.join("ir.wav"), dir.join("out.wav"));
    write_wav_channels(&input, &[vec![0.0, 1.0, 0.0, 0.0, 0.5, 0.0]], 22050);
    write_wav_channels(&ir, &[vec![1.0, 0.5], vec![0.25, 0.0]], 22050);
    for (mode, len) in [("full", 7), ("same", 6)] {
        let o = wavesplat(&[
            "convolve",
            input.to_str().unwrap(),
            ir.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--mode",
            mode,
            "--dry",
            "1",
            "--wet",
            "2",
            "--backend",
            "cpu",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let y = wavesplat::audio::read_audio(&out).unwrap();
        assert_eq!(y.channels.len(), 2);
        assert_eq!(y.channels[0].len(), len);
        // left: dry x + 2 (x * [1, 0.5]); right: dry x + 2 (x * [0.25]).
        let left = [0.0, 3.0, 1.0, 0.0, 1.5, 0.5, 0.0];
        let right = [0.0, 1.5, 0.0, 0.0, 0.75, 0.0, 0.0];
        for (got, want) in [
            (&y.channels[0], &left[..len]),
            (&y.channels[1], &right[..len]),
        ] {
            assert!(
                got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
                "{mode}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn convolve_on_the_gpu_matches_the_cpu() {
    if common::gpu("cli_convolve").is_none() {
        return;
    }
    let dir = scratch("convolve_gpu");
    let mut outputs = Vec::new();
    for backend in ["gpu", "cpu"] {
        let out = dir.join(format!("{backend}.wav"));
        let o = wavesplat(&[
            "convolve",
            CLIP,
            SHORT_IR,
            "-o",
            out.to_str().unwrap(),
            "--backend",
            backend,
            "--normalize",
        ]);
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        outputs.push(
            wavesplat::audio::read_audio(&out)
                .unwrap()
                .channels
                .remove(0),
        );
    }
    assert_eq!(outputs[0].len(), 220_500 + 2000 - 1);
    let err = common::relative_error(&common::widen(&outputs[0]), &common::widen(&outputs[1]));
    assert!(err < 1e-5, "GPU vs CPU: {err:e}");
}

#[test]
fn convolve_bad_input_gives_a_clear_error_and_no_output() {
    let dir = scratch("convolve_bad");
    let out = dir.join("out.wav");
    let o = out.to_str().unwrap();
    let empty = dir.join("empty_ir.wav");
    write_wav_channels(&empty, &[vec![]], 22050);
    assert_fails(
        &[
            "convolve",
            CLIP,
            empty.to_str().unwrap(),
            "-o",
            o,
            "--backend",
            "cpu",
        ],
        &out,
        &["empty_ir.wav"],
    );
    let slow = dir.join("one_hertz_ir.wav");
    write_wav_channels(&slow, &[vec![0.5, 0.25]], 1);
    assert_fails(
        &[
            "convolve",
            CLIP,
            slow.to_str().unwrap(),
            "-o",
            o,
            "--backend",
            "cpu",
        ],
        &out,
        &["one_hertz_ir.wav", "resample"],
    );
    let nan = dir.join("nan_ir.wav");
    write_float_wav(&nan, 22050, &[0.5, f32::NAN]);
    assert_fails(
        &[
            "convolve",
            CLIP,
            nan.to_str().unwrap(),
            "-o",
            o,
            "--backend",
            "cpu",
        ],
        &out,
        &["nan_ir.wav", "not finite"],
    );
    assert_fails(
        &[
            "convolve",
            CLIP,
            SHORT_IR,
            "-o",
            o,
            "--mode",
            "valid",
            "--backend",
            "cpu",
        ],
        &out,
        &["valid"],
    );
    assert_fails(
        &[
            "convolve",
            CLIP,
            SHORT_IR,
            "-o",
            o,
            "--partition",
            "100",
            "--backend",
            "cpu",
        ],
        &out,
        &["partition", "100"],
    );
    let three = dir.join("three.wav");
    write_wav_channels(
        &three,
        &[vec![0.1; 50], vec![0.1; 50], vec![0.1; 50]],
        22050,
    );
    let two = dir.join("two.wav");
    write_wav_channels(&two, &[vec![0.1; 5], vec![0.1; 5]], 22050);
    assert_fails(
        &[
            "convolve",
            three.to_str().unwrap(),
            two.to_str().unwrap(),
            "-o",
            o,
            "--backend",
            "cpu",
        ],
        &out,
        &["channels"],
    );
}

#[test]
fn an_output_that_cannot_be_written_fails_before_the_work() {
    let dir = scratch("unwritable");
    let missing = dir.join("no_such_folder");
    let path = |name: &str| missing.join(name).to_str().unwrap().to_string();
    let (npy, wav, splat) = (path("out.npy"), path("out.wav"), path("out.splat"));
    let folder = dir.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["stft", CLIP, "-o", &npy], &npy, "does not exist"),
        (vec!["stft", CLIP, "--png", folder], folder, "is a folder"),
        (
            vec!["convolve", CLIP, CLIP, "-o", &wav],
            &wav,
            "does not exist",
        ),
        (vec!["encode", CLIP, "-o", &splat], &splat, "does not exist"),
        (
            vec![
                "gp",
                "sample",
                "--kernel",
                "middle-c-after",
                "--seconds",
                "0.5",
                "-o",
                &wav,
            ],
            &wav,
            "does not exist",
        ),
    ];
    for (args, output, problem) in cases {
        let o = wavesplat(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(output) && err.contains(problem),
            "{args:?}: {err}"
        );
        // Refused before any adapter was opened or audio decoded.
        assert!(!err.contains("running on"), "{args:?}: {err}");
    }
    assert!(!missing.exists());
}
