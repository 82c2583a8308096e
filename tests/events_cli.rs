//! `wavesplat events show | random | edit` end to end, and bad input that
//! must give a clear error, exit code 1 and no output file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wavesplat::events::{self, Form};

fn wavesplat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wavesplat"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wavesplat-events-cli-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_ok(args: &[&str]) -> Output {
    let o = wavesplat(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    o
}

fn assert_fails(args: &[&str], out: &Path, words: &[&str]) {
    let o = wavesplat(args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: expected {w:?} in:\n{err}");
    }
    assert!(!out.exists(), "{args:?} left {}", out.display());
}

/// `events random` with 40 events over 4 s, seed 9, to `out`.
fn random(out: &Path, extra: &[&str]) {
    random_seeded(out, "9", extra);
}

fn random_seeded(out: &Path, seed: &str, extra: &[&str]) {
    let o = out.to_str().unwrap();
    let mut args = vec!["events", "random", "--count", "40", "--seconds", "4"];
    args.extend(["--seed", seed, "-o", o]);
    args.extend(extra);
    run_ok(&args);
}

#[test]
fn random_is_deterministic_and_show_summarises_it() {
    let dir = scratch("random");
    let (a, b, c) = (
        dir.join("a.splat"),
        dir.join("b.splat"),
        dir.join("c.splat"),
    );
    random(&a, &[]);
    random(&b, &[]);
    random_seeded(&c, "10", &[]);
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap(), "same seed, same file");
    assert_ne!(bytes, std::fs::read(&c).unwrap());
    assert_eq!(bytes.len(), 28 + 40 * 57);

    let o = run_ok(&["events", "show", a.to_str().unwrap()]);
    let out = text(&o.stdout);
    // 2308 bytes * 8 / 4 s = 4.616 kbit/s.
    for w in [
        "exact form",
        "40 events over 4 s",
        "10.0 events/s",
        "22050 Hz",
        "2308 bytes",
        "4.616 kbit/s",
        "f0 Hz",
    ] {
        assert!(out.contains(w), "expected {w:?} in:\n{out}");
    }
    assert_eq!(
        out.lines().count(),
        2 + 40,
        "summary, heading, a row an event"
    );

    let o = run_ok(&["events", "show", a.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "wavesplat-events");
    assert_eq!(v["events"].as_array().unwrap().len(), 40);
    assert!(text(&o.stderr).contains("40 events"));
    // What show --json prints is a JSON event file equal to the original.
    let json = dir.join("a.json");
    std::fs::write(&json, &o.stdout).unwrap();
    assert_eq!(events::read(&json).unwrap(), events::read(&a).unwrap());
}

#[test]
fn random_writes_the_form_asked_for() {
    let dir = scratch("forms");
    for (name, extra, form, size) in [
        ("c.splat", &["--compact"][..], Form::Compact, None),
        ("f.splat", &["--form", "compact"][..], Form::Compact, None),
        ("j.json", &[][..], Form::Json, None),
        (
            "e.json",
            &["--form", "exact"][..],
            Form::Exact,
            Some(28 + 40 * 57),
        ),
    ] {
        let path = dir.join(name);
        random(&path, extra);
        let (list, got) = events::read_with_form(&path).unwrap();
        assert_eq!(got, form, "{name}");
        assert_eq!(list.events.len(), 40);
        if let Some(size) = size {
            assert_eq!(std::fs::read(&path).unwrap().len(), size);
        }
    }
    // Compact: 8 bytes an event (and one more record per gap of 254 ms or more).
    let compact = std::fs::read(dir.join("c.splat")).unwrap().len();
    assert!((28 + 40 * 8..=28 + 80 * 8).contains(&compact), "{compact}");
}

#[test]
fn edit_transposes_stretches_changes_gain_and_drops() {
    let dir = scratch("edit");
    let (input, out) = (dir.join("in.splat"), dir.join("out.splat"));
    random(&input, &[]);
    let before = events::read(&input).unwrap();
    let o = run_ok(&[
        "events",
        "edit",
        input.to_str().unwrap(),
        "--transpose",
        "-12",
        "--stretch",
        "0.5",
        "--gain",
        "6",
        "--drop-below",
        "-25",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(text(&o.stderr).contains("drop-below: removed"));
    let (after, form) = events::read_with_form(&out).unwrap();
    assert_eq!(form, Form::Exact, "the input's form");
    assert_eq!(after.duration, 2.0);
    let gain = 10f32.powf(6.0 / 20.0);
    let kept: Vec<_> = before
        .events
        .iter()
        .filter(|a| 20.0 * (a.amplitude * gain).log10() >= -25.0)
        .collect();
    assert!(!kept.is_empty() && kept.len() < before.events.len());
    assert_eq!(kept.len(), after.events.len());
    for (a, b) in kept.iter().zip(&after.events) {
        assert!((b.f0 - a.f0 / 2.0).abs() <= a.f0 * 1e-6);
        assert!((b.onset - a.onset * 0.5).abs() <= 1e-6);
        assert!((b.amplitude - a.amplitude * gain).abs() <= a.amplitude * 1e-5);
        assert_eq!(b.seed, a.seed);
    }
    // A compact input stays compact; a .json output is JSON.
    let (compact, json) = (dir.join("c.splat"), dir.join("c.json"));
    random(&compact, &["--compact"]);
    run_ok(&[
        "events",
        "edit",
        compact.to_str().unwrap(),
        "--gain",
        "-3",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(events::read_with_form(&out).unwrap().1, Form::Compact);
    run_ok(&[
        "events",
        "edit",
        compact.to_str().unwrap(),
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(events::read_with_form(&json).unwrap().1, Form::Json);
}

#[test]
fn bad_input_gives_a_clear_error_and_no_output() {
    let dir = scratch("bad");
    let out = dir.join("out.splat");
    let o = out.to_str().unwrap();
    let good = dir.join("good.splat");
    random(&good, &[]);
    let g = good.to_str().unwrap();
    let good_bytes = std::fs::read(&good).unwrap();
    let mut corrupt = good_bytes.clone();
    corrupt[100] ^= 4;

    let missing = dir.join("missing.splat");
    assert_fails(
        &["events", "show", missing.to_str().unwrap()],
        &out,
        &["missing.splat"],
    );
    let bad_files: [(&str, &[u8], &str); 3] = [
        (
            "truncated.splat",
            &good_bytes[..100],
            "truncated: header says 40 events (2280 bytes), 72 bytes follow",
        ),
        ("corrupt.splat", &corrupt, "checksum"),
        (
            "notes.json",
            b"{\"format\": \"something else\"}",
            "something else",
        ),
    ];
    for (name, contents, words) in bad_files {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        let p = path.to_str().unwrap();
        assert_fails(&["events", "show", p], &out, &[name, words]);
        assert_fails(&["events", "edit", p, "-o", o], &out, &[name, words]);
    }

    let bad_args: [(&[&str], &str); 5] = [
        (&["edit", g, "--stretch", "-1"], "stretch"),
        (&["edit", g, "--stretch", "1e30"], "stretch"),
        (&["edit", g, "--gain", "NaN"], "gain"),
        (&["random", "--count", "3", "--seconds", "0"], "seconds"),
        (
            &["random", "--count", "3", "--seconds", "1", "--rate", "100"],
            "sample rate 100",
        ),
    ];
    for (args, words) in bad_args {
        let mut full = vec!["events"];
        full.extend(args);
        full.extend(["-o", o]);
        assert_fails(&full, &out, &[words]);
    }
}
