//! `wavesplat render` and `wavesplat events plot` end to end.

mod common;

use common::{scratch, stderr, wavesplat};
use wavesplat::atoms::{Atom, cpu};
use wavesplat::events::{self, EventList, Form};

fn read_wav(path: &std::path::Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).unwrap();
    reader.samples::<f32>().map(Result::unwrap).collect()
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn render_writes_the_events_on_either_backend() {
    let dir = scratch("render_backends");
    let list = EventList::new(
        16_000,
        1.5,
        vec![Atom::tone(0.25, 330.0), Atom::tone(0.9, 495.0)],
    );
    let input = dir.join("two.json");
    events::write(&input, &list, Form::Json).unwrap();
    let (gpu, cpu_out) = (dir.join("gpu.wav"), dir.join("cpu.wav"));
    let o = wavesplat(&["render", s(&input), "-o", s(&gpu)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = wavesplat(&["render", s(&input), "--backend", "cpu", "-o", s(&cpu_out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = cpu::render(&list.events, 16_000, 24_000, 0).unwrap();
    for path in [&gpu, &cpu_out] {
        let got = read_wav(path);
        assert_eq!(got.len(), 24_000, "{path:?}: 1.5 s at 16 kHz");
        let diff: f64 = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum();
        let norm: f64 = expected.iter().map(|b| (*b as f64).powi(2)).sum();
        assert!(
            (diff / norm).sqrt() < 1e-4,
            "{path:?} differs from the reference"
        );
    }
}

#[test]
fn render_through_a_room_and_plot_the_events() {
    let dir = scratch("render_room_plot");
    let input = dir.join("random.splat");
    let o = wavesplat(&[
        "events",
        "random",
        "--count",
        "30",
        "--seconds",
        "1",
        "--seed",
        "5",
        "-o",
        s(&input),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dry = dir.join("dry.wav");
    let wet = dir.join("wet.wav");
    let ir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ir_short.wav");
    assert!(
        wavesplat(&["render", s(&input), "--backend", "cpu", "-o", s(&dry)])
            .status
            .success()
    );
    let o = wavesplat(&[
        "render",
        s(&input),
        "--backend",
        "cpu",
        "--ir",
        ir,
        "-o",
        s(&wet),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (dry, wet) = (read_wav(&dry), read_wav(&wet));
    assert_eq!(dry.len(), wet.len());
    assert_ne!(dry, wet, "the room changed nothing");
    let png = dir.join("events.png");
    let o = wavesplat(&[
        "events",
        "plot",
        s(&input),
        "--backend",
        "cpu",
        "-o",
        s(&png),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    assert!(info.width >= 480 && info.height >= 384);
}

#[test]
fn render_refuses_bad_event_files_and_writes_nothing() {
    let dir = scratch("render_bad");
    let out = dir.join("out.wav");
    let corrupt = dir.join("corrupt.splat");
    std::fs::write(&corrupt, b"WSPL\x01\x00garbage").unwrap();
    for (input, needle) in [
        (dir.join("missing.splat"), "missing.splat"),
        (corrupt.clone(), "corrupt.splat"),
    ] {
        let o = wavesplat(&["render", s(&input), "--backend", "cpu", "-o", s(&out)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(!out.exists(), "an output was written for {input:?}");
    }
}
