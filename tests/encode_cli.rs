//! `wavesplat encode`, `decode` and `demo` end to end.

mod common;

use common::{scratch, stderr, wavesplat, write_float_wav};
use wavesplat::events;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Two seconds of the bundled clip as a 44.1 kHz file (the encoder resamples it).
fn excerpt(dir: &std::path::Path) -> std::path::PathBuf {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/piano_bach_chorale.wav");
    let clip = wavesplat::audio::load_mono(path.as_ref(), Some(44_100)).unwrap();
    let out = dir.join("excerpt.wav");
    write_float_wav(&out, 44_100, &clip.samples[44_100..3 * 44_100]);
    out
}

#[test]
fn encode_then_decode_round_trips_within_the_bitrate() {
    let dir = scratch("encode_decode");
    let input = excerpt(&dir);
    let splat = dir.join("x.splat");
    let o = wavesplat(&[
        "encode",
        s(&input),
        "-o",
        s(&splat),
        "--kbps",
        "3",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bytes = std::fs::metadata(&splat).unwrap().len();
    assert_eq!(summary["bytes"], bytes);
    assert!(summary["bitrate_kbps"].as_f64().unwrap() <= 3.0);
    assert_eq!(summary["form"], "compact");
    let mel = summary["metrics"]["mel_dist"].as_f64().unwrap();
    assert!(mel > 0.0 && mel < 1.0, "mel distance {mel}");
    assert!(summary["realtime_factor"].as_f64().unwrap() > 0.0);
    let list = events::read(&splat).unwrap();
    assert_eq!(list.rate, 22_050);
    assert!((list.duration - 2.0).abs() < 1e-3);
    assert_eq!(
        list.events.len() as u64,
        summary["events"].as_u64().unwrap()
    );

    let wav = dir.join("x.wav");
    let o = wavesplat(&["decode", s(&splat), "-o", s(&wav), "--backend", "cpu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let decoded = wavesplat::audio::load_mono(&wav, None).unwrap();
    assert_eq!(decoded.sample_rate, 22_050);
    assert_eq!(decoded.samples.len(), 44_100);

    // The same settings give the same bytes.
    let again = dir.join("again.splat");
    let o = wavesplat(&[
        "encode",
        s(&input),
        "-o",
        s(&again),
        "--kbps",
        "3",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&splat).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn encode_refuses_what_it_cannot_do() {
    let dir = scratch("encode_errors");
    let input = excerpt(&dir);
    let out = dir.join("x.splat");
    for (args, expect) in [
        (vec!["--iterations", "100000"], "iterations"),
        (vec!["--kbps", "0"], "positive"),
        (vec!["--kbps", "4", "--form", "json"], "binary form"),
        (vec!["--segment-seconds", "0.1"], "segment length"),
        (vec!["--memory-mb", "0"], "memory-mb"),
        (vec!["--memory-mb", "NaN"], "memory-mb"),
    ] {
        let mut all = vec!["encode", s(&input), "-o", s(&out), "--backend", "cpu"];
        all.extend(args.iter().copied());
        let o = wavesplat(&all);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
    }
    assert!(!out.exists(), "no file is written on error");
    let o = wavesplat(&["encode", s(&dir.join("missing.wav")), "-o", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("missing.wav"), "{}", stderr(&o));
    // Silence: an empty list, a valid file.
    let silent = dir.join("silent.wav");
    write_float_wav(&silent, 22_050, &vec![0.0; 22_050]);
    let o = wavesplat(&["encode", s(&silent), "-o", s(&out), "--backend", "cpu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(events::read(&out).unwrap().events.is_empty());
}

#[test]
fn a_file_over_the_memory_budget_is_streamed_to_the_same_events() {
    let dir = scratch("encode_streamed");
    let input = excerpt(&dir); // 2 s: 0.5 MiB held whole
    // Encodes to `out` with `extra` options; returns what it printed.
    let encode = |out: &std::path::Path, extra: &[&str]| {
        let mut all = vec!["encode", s(&input), "-o", s(out), "--kbps", "3"];
        all.extend(["--backend", "cpu"]);
        all.extend(extra);
        let o = wavesplat(&all);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        o.stdout
    };
    let json = |stdout: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&stdout).unwrap();
    let whole = dir.join("whole.splat");
    let summary = json(encode(&whole, &["--memory-mb", "1", "--json"]));
    assert_eq!(summary["streamed"], false);
    assert!(summary["metrics"].is_object());

    let streamed = dir.join("streamed.splat");
    let summary = json(encode(&streamed, &["--memory-mb", "0.25", "--json"]));
    assert_eq!(summary["streamed"], true);
    assert!(
        summary["metrics"].is_null(),
        "metrics need the whole signal"
    );
    assert!((summary["seconds"].as_f64().unwrap() - 2.0).abs() < 1e-3);
    assert_eq!(
        std::fs::read(&whole).unwrap(),
        std::fs::read(&streamed).unwrap(),
        "streaming changes nothing in the events"
    );

    let stdout = encode(&streamed, &["--memory-mb", "0.25"]);
    let text = String::from_utf8_lossy(&stdout);
    assert!(text.contains("skipped: the file was streamed"), "{text}");
}

#[test]
fn demo_writes_the_encoding_and_its_decoding() {
    let dir = scratch("demo");
    let o = wavesplat(&[
        "demo",
        "--out-dir",
        s(&dir),
        "--kbps",
        "1",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for word in [
        "events",
        "kbit/s",
        "mel distance",
        "STFT distance",
        "realtime",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
    let list = events::read(&dir.join("demo.splat")).unwrap();
    assert!(!list.events.is_empty());
    let wav = wavesplat::audio::load_mono(&dir.join("demo.wav"), None).unwrap();
    assert_eq!(
        wav.samples.len(),
        (list.duration * 22_050.0).round() as usize
    );
}
