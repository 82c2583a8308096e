//! Encoding a file read span by span (`encode::source::Streamed`) gives the
//! list that encoding it whole does, holding only a window's worth of samples;
//! and the span render that refinement and analysis share equals a render of
//! everything.

mod common;

use std::path::{Path, PathBuf};
use wavesplat::atoms::{self, random_atoms};
use wavesplat::audio::{WavFormat, load_mono, write_wav};
use wavesplat::encode::source::{InMemory, SignalSource, Streamed};
use wavesplat::encode::{
    self, Backend, Budget, EncodeOptions, EncodeReport, Encoder, WORKING_RATE, templates,
};

const FILE_RATE: u32 = 44100;

/// Tones that change every second and a little noise, `seconds` long at 44.1 kHz.
fn tones_and_noise(seconds: f64) -> Vec<f32> {
    let mut rng = common::Rng::fresh("tones_and_noise");
    let len = (seconds * f64::from(FILE_RATE)) as usize;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(FILE_RATE);
            let f = 200.0 * (1.0 + (t.floor() % 7.0));
            let decay = (-4.0 * t.fract()).exp();
            let noise = rng.uniform() - 0.5;
            (0.3 * decay * (std::f64::consts::TAU * f * t).sin() + 0.02 * noise + 0.01) as f32
        })
        .collect()
}

fn write_fixture(name: &str, seconds: f64) -> PathBuf {
    let path = common::scratch("files").join(name);
    let x = tones_and_noise(seconds);
    write_wav(&path, &[&x], FILE_RATE, WavFormat::Pcm16).unwrap();
    path
}

fn options(iterations: u32) -> EncodeOptions {
    EncodeOptions {
        budget: Budget::EventsPerSecond(4.0),
        iterations,
        segment_seconds: 10.0,
        ..Default::default()
    }
}

/// Encodes `path` whole (load_mono, then `run`) and streamed (`run_source`);
/// returns both reports and the streamed source's peak buffer.
fn encode_both(path: &Path, opts: &EncodeOptions) -> (EncodeReport, EncodeReport, usize) {
    let clip = load_mono(path, Some(WORKING_RATE)).unwrap();
    let whole = encode::encode(Backend::Cpu, &clip.samples, WORKING_RATE, opts).unwrap();
    let mut source = Streamed::open(path).unwrap();
    assert_eq!(source.len(), clip.samples.len());
    let streamed = Encoder::new(Backend::Cpu, opts)
        .unwrap()
        .run_source(&mut source)
        .unwrap();
    (whole, streamed, source.peak_buffered())
}

#[test]
fn a_long_file_encodes_the_same_streamed_with_a_window_in_memory() {
    let path = write_fixture("long.wav", 50.0);
    let (whole, streamed, peak) = encode_both(&path, &options(0));
    assert!(whole.segments >= 5, "{} windows", whole.segments);
    assert!(!whole.events.events.is_empty());
    assert_eq!(streamed.events, whole.events);
    assert_eq!(streamed.bytes, whole.bytes);
    let len = (50.0 * f64::from(WORKING_RATE)) as usize;
    // One window (10 s core, 1.5 s margins) and a read block, not the file.
    assert!(peak < len / 3, "held {peak} of {len} samples");
    assert!(streamed.timings.prepare > 0.0);
    let _ = std::fs::remove_file(path);
}

#[test]
fn refinement_streamed_gives_the_same_list() {
    let path = write_fixture("refine.wav", 14.0);
    let (whole, streamed, _) = encode_both(&path, &options(2));
    assert!(!whole.events.events.is_empty());
    assert!(whole.timings.refinement > 0.0);
    assert_eq!(streamed.events, whole.events);
    let _ = std::fs::remove_file(path);
}

#[test]
fn span_render_equals_the_render_of_everything() {
    let rate = WORKING_RATE;
    let atoms = random_atoms(40, 6.0, 7);
    let total = 6 * rate as usize;
    let everything = atoms::cpu::render(&atoms, rate, total, 0).unwrap();
    for span in [0..total, 30_000..50_000, 100_000..total, 70_000..70_001] {
        let part = templates::render_span(&Backend::Cpu, &atoms, rate, span.clone())
            .unwrap()
            .expect("atoms sound in the span");
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(&part) == bits(&everything[span.clone()]), "{span:?}");
    }
    let early = random_atoms(5, 0.5, 8);
    assert!(
        templates::render_span(&Backend::Cpu, &early, rate, 20 * total..20 * total + 10)
            .unwrap()
            .is_none()
    );
}

#[test]
fn in_memory_spans_are_slices() {
    let mut source = InMemory((0..100).map(|i| i as f32).collect());
    source.rewind().unwrap();
    assert_eq!(source.span(10..13).unwrap(), vec![10.0, 11.0, 12.0]);
    assert!(source.span(90..101).is_err());
}
