//! `wavesplat encode DIR -o OUTDIR`: the collection scheduler end to end on
//! the CPU backend (the GPU's batched scoring is in tests/collection_gpu.rs).

mod common;

use common::{Rng, scratch, stderr, wavesplat, write_float_wav};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wavesplat::encode::collection::{self, Shard};
use wavesplat::events::Form;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `seconds` of a few random decaying tones over a little noise, at 22.05 kHz.
fn write_clip(path: &Path, rng: &mut Rng, seconds: f64) {
    let rate = 22_050;
    let n = (seconds * rate as f64) as usize;
    let tones: Vec<(f64, f64, f64)> = (0..4)
        .map(|_| {
            let onset = rng.uniform() * seconds * 0.7;
            let f0 = 110.0 * 2f64.powf(rng.uniform() * 3.0);
            (onset, f0, 0.1 + 0.2 * rng.uniform())
        })
        .collect();
    let samples: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let noise = 0.002 * (rng.uniform() - 0.5);
            let sum: f64 = tones
                .iter()
                .filter(|(onset, _, _)| t >= *onset)
                .map(|(onset, f0, a)| {
                    let tau = t - onset;
                    a * (-3.0 * tau).exp() * (std::f64::consts::TAU * f0 * tau).sin()
                })
                .sum();
            (sum + noise) as f32
        })
        .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    write_float_wav(path, rate, &samples);
}

/// `seconds` of the bundled piano clip from a random point after its first
/// second, at 22.05 kHz: music the codec is built for, where a quality bound
/// holds whatever the draw (random sine bursts at 3 kbit/s land near it).
fn write_piano(path: &Path, rng: &mut Rng, seconds: f64) {
    let rate = 22_050;
    let clip = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/piano_bach_chorale.wav");
    let clip = wavesplat::audio::load_mono(clip.as_ref(), Some(rate)).unwrap();
    let n = (seconds * f64::from(rate)) as usize;
    let first = rate as usize;
    let start = first + (rng.uniform() * (clip.samples.len() - n - first) as f64) as usize;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    write_float_wav(path, rate, &clip.samples[start..start + n]);
}

/// A scratch folder's `in` and `out`, and a fresh generator, for test `name`.
fn folders(name: &str) -> (PathBuf, PathBuf, Rng) {
    let dir = scratch(name);
    (dir.join("in"), dir.join("out"), Rng::fresh(name))
}

/// The summary's rows by input, as JSON values.
fn summary_rows(out: &Path) -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["input"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// `written` (by a folder run) holds the bytes that `wavesplat encode input
/// --backend cpu` with `extra` options writes for the file alone.
fn assert_same_as_alone(input: &Path, written: &Path, extra: &[&str]) {
    let alone = written.with_extension("alone.splat");
    let mut args = vec!["encode", s(input), "-o", s(&alone), "--backend", "cpu"];
    args.extend_from_slice(extra);
    let o = wavesplat(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&alone).unwrap(),
        std::fs::read(written).unwrap()
    );
    std::fs::remove_file(&alone).unwrap();
}

/// Every file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_below(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn bad_files_are_reported_by_name_and_the_good_ones_finish() {
    let (input, out, mut rng) = folders("collection_bad");
    write_piano(&input.join("good one.wav"), &mut rng, 1.5);
    write_piano(&input.join("nested/deeper/good two.wav"), &mut rng, 1.5);
    // Corrupt: a real WAV cut short inside its data chunk.
    let whole = std::fs::read(input.join("good one.wav")).unwrap();
    std::fs::write(input.join("corrupt.wav"), &whole[..whole.len() / 3]).unwrap();
    std::fs::write(input.join("empty.flac"), b"").unwrap();
    std::fs::write(input.join("notes.mp3"), b"these are notes, not audio\n").unwrap();
    std::fs::write(input.join("README.txt"), b"ignored: not an audio name").unwrap();

    let o = wavesplat(&[
        "encode",
        s(&input),
        "-o",
        s(&out),
        "--backend",
        "cpu",
        "--jobs",
        "2",
        "--kbps",
        "3",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("3 of 5 file(s) not encoded"), "{err}");
    let report = String::from_utf8_lossy(&o.stdout);
    for bad in ["corrupt.wav", "empty.flac", "notes.mp3"] {
        assert!(
            report.contains(&format!("failed: {bad}")),
            "{bad}: {report}"
        );
    }

    let rows = summary_rows(&out);
    assert_eq!(rows.len(), 5, "{rows:?}");
    for good in ["good one.wav", "nested/deeper/good two.wav"] {
        let row = &rows[good];
        assert_eq!(row["status"], "encoded", "{row}");
        let output = PathBuf::from(row["output"].as_str().unwrap());
        assert_eq!(output, out.join(good).with_extension("splat"));
        let list = wavesplat::events::read(&output).unwrap();
        assert!(!list.events.is_empty());
        assert_eq!(row["events"], list.events.len());
        assert!((row["seconds"].as_f64().unwrap() - 1.5).abs() < 1e-3);
        assert!(row["kbps"].as_f64().unwrap() <= 3.0);
        assert!(row["mel_distance"].as_f64().unwrap() < 1.0, "{row}");
    }
    for (bad, words) in [
        ("corrupt.wav", "truncated"),
        ("empty.flac", "no audio"),
        ("notes.mp3", "unsupported"),
    ] {
        let row = &rows[bad];
        assert_eq!(row["status"], "failed", "{row}");
        let error = row["error"].as_str().unwrap();
        assert!(
            error.contains(bad) && error.contains(words),
            "{bad}: {error}"
        );
        assert!(!Path::new(row["output"].as_str().unwrap()).exists());
    }
    // The CSV has the same rows, the errors quoted where they hold commas.
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("corrupt.wav,") && l.contains(",failed,"))
    );
}

#[test]
fn a_killed_run_resumes_and_encodes_every_file_exactly_once() {
    let (input, out, mut rng) = folders("collection_kill");
    let names: Vec<String> = (0..8).map(|i| format!("take{i}.wav")).collect();
    for name in &names {
        write_clip(&input.join(name), &mut rng, 1.5);
    }
    let args = [
        "encode",
        s(&input),
        "-o",
        s(&out),
        "--backend",
        "cpu",
        "--jobs",
        "1",
        "--no-metrics",
        "--quiet",
    ];
    // Kill the first run once two files are done.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wavesplat"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .spawn()
        .unwrap();
    let journal = out.join("journal.jsonl");
    let clock = Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count()) < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(clock.elapsed() < Duration::from_secs(600), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done_first = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert!(done_first < names.len(), "the kill came too late to test");
    // What a kill during a write leaves: a temporary name, never the output's.
    let torn = out.join(format!("take7.splat.{}.tmp", 4_000_000));
    std::fs::write(&torn, b"half a file").unwrap();

    let o = wavesplat(&args);
    assert!(o.status.success(), "{}", stderr(&o));

    // Every file encoded exactly once over both runs, none half written.
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut encoded: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["status"], "encoded");
        *encoded
            .entry(row["input"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(encoded.len(), names.len(), "{encoded:?}");
    assert!(encoded.values().all(|&n| n == 1), "{encoded:?}");
    let leftovers: Vec<_> = files_below(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let rows = summary_rows(&out);
    let already = rows
        .values()
        .filter(|r| r["status"] == "already-done")
        .count();
    assert_eq!(already, done_first);
    for name in &names {
        let output = out.join(name).with_extension("splat");
        wavesplat::events::read(&output).unwrap();
    }
    // A batch run writes what encoding the file alone writes.
    assert_same_as_alone(&input.join("take7.wav"), &out.join("take7.splat"), &[]);

    // A third run has nothing to do; --force does it all again.
    let o = wavesplat(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap().lines().count(),
        names.len()
    );
    assert!(
        summary_rows(&out)
            .values()
            .all(|r| r["status"] == "already-done")
    );
}

#[test]
fn force_re_encodes_and_shards_split_the_files() {
    let (input, out, mut rng) = folders("collection_force");
    write_clip(&input.join("a.wav"), &mut rng, 1.0);
    write_clip(&input.join("b.wav"), &mut rng, 1.0);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "encode",
            s(&input),
            "-o",
            s(&out),
            "--backend",
            "cpu",
            "--quiet",
            "--no-metrics",
        ];
        args.extend_from_slice(extra);
        let o = wavesplat(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    };
    // Two shards of two: each writes its own files and its own summary.
    run(&["--shard", "0/2"]);
    run(&["--shard", "1/2"]);
    let mut encoded = BTreeSet::new();
    for k in 0..2 {
        let text =
            std::fs::read_to_string(out.join(format!("summary-shard-{k}-of-2.json"))).unwrap();
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        for row in report["files"].as_array().unwrap() {
            assert_eq!(row["status"], "encoded");
            assert!(encoded.insert(row["input"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(encoded.len(), 2);
    // The whole folder now finds both done; --force encodes both again.
    run(&[]);
    assert!(
        summary_rows(&out)
            .values()
            .all(|r| r["status"] == "already-done")
    );
    run(&["--force"]);
    assert!(
        summary_rows(&out)
            .values()
            .all(|r| r["status"] == "encoded")
    );

    let o = wavesplat(&["encode", s(&input.join("a.wav")), "-o", s(&out), "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("for folder inputs"), "{}", stderr(&o));
    for bad in ["2/2", "1/0", "x/3", "3"] {
        let o = wavesplat(&["encode", s(&input), "-o", s(&out), "--shard", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("I/N"), "{bad}: {}", stderr(&o));
    }
}

#[test]
fn shards_are_disjoint_cover_everything_and_ignore_other_files() {
    let dir = scratch("collection_shards");
    let input = dir.join("in");
    let mut all = BTreeSet::new();
    for i in 0..60 {
        let name = format!(
            "set{}/piece {i:02}.{}",
            i % 4,
            ["wav", "FLAC", "ogg", "mp3"][i % 4]
        );
        let path = input.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        all.insert(PathBuf::from(name));
    }
    std::fs::write(input.join("set0/labels.csv"), b"start,end").unwrap();
    let out = input.join("events"); // inside the input: never walked
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("stale.wav"), b"").unwrap();

    // Two recordings that would share an output keep their whole names.
    std::fs::write(input.join("set0/piece 00.mp3"), b"").unwrap();
    all.insert(PathBuf::from("set0/piece 00.mp3"));
    let whole = collection::plan(&input, &out, Form::Compact, None).unwrap();
    let outputs: BTreeSet<_> = whole.items.iter().map(|i| i.output.clone()).collect();
    assert_eq!(outputs.len(), 61, "two inputs share an output");
    assert!(outputs.contains(&out.join("set0/piece 00.wav.splat")));
    assert!(outputs.contains(&out.join("set0/piece 00.mp3.splat")));
    assert!(outputs.contains(&out.join("set1/piece 01.splat")));
    assert_eq!(whole.items.len(), 61);
    assert_eq!(whole.ignored, 1);
    let sorted: Vec<_> = whole.items.iter().map(|i| i.relative.clone()).collect();
    assert_eq!(sorted, all.iter().cloned().collect::<Vec<_>>());
    assert_eq!(
        whole.items[2].output,
        out.join("set0/piece 04.splat"),
        "outputs mirror the input's folders"
    );
    let mut seen = BTreeSet::new();
    for index in 0..3 {
        let shard: Shard = format!("{index}/3").parse().unwrap();
        let part = collection::plan(&input, &out, Form::Json, Some(shard)).unwrap();
        assert!(
            part.items.len() >= 10,
            "an uneven split: {}",
            part.items.len()
        );
        assert_eq!(part.items.len() + part.other_shards, 61);
        for item in part.items {
            assert!(item.output.extension().unwrap() == "json");
            assert!(seen.insert(item.relative), "in two shards");
        }
    }
    assert_eq!(seen, all);
    for bad in ["3/3", "1/0", "-1/2", "1", "a/b"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn a_file_bigger_than_the_memory_budget_is_streamed_to_the_same_events() {
    let (input, out, mut rng) = folders("collection_stream");
    // 8 s at 22.05 kHz: 0.7 MB decoded, 2.1 MB with its copies; the budget is 1 MiB.
    write_clip(&input.join("long.wav"), &mut rng, 8.0);
    write_clip(&input.join("short.wav"), &mut rng, 1.0);
    let o = wavesplat(&[
        "encode",
        s(&input),
        "-o",
        s(&out),
        "--backend",
        "cpu",
        "--memory-mb",
        "1",
        "--segment-seconds",
        "2",
        "--quiet",
        "-v",
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("long.wav") && err.contains("streaming it"),
        "{err}"
    );
    let rows = summary_rows(&out);
    assert!(
        rows["long.wav"]["mel_distance"].is_null(),
        "streamed: no metrics"
    );
    assert!(rows["short.wav"]["mel_distance"].is_number());
    assert_same_as_alone(
        &input.join("long.wav"),
        &out.join("long.splat"),
        &["--segment-seconds", "2"],
    );
}
