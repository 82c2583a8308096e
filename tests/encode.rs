//! The encoder: scoring kernels against their CPU reference, the pursuit on
//! known atoms, segmentation, reproducibility and bad input.

mod common;

use common::Rng;
use wavesplat::atoms::{Atom, cpu};
use wavesplat::encode::cpu::{self as score_cpu, ScoreShape};
use wavesplat::encode::dictionary::Dictionary;
use wavesplat::encode::{self, Backend, Budget, EncodeOptions, WORKING_RATE};
use wavesplat::events::{EventList, Form};
use wavesplat::metrics;

const RATE: u32 = WORKING_RATE;

fn options(events_per_second: f64) -> EncodeOptions {
    EncodeOptions {
        budget: Budget::EventsPerSecond(events_per_second),
        ..Default::default()
    }
}

/// A few plucked tones and a noise burst, `seconds` long.
fn little_piece(seconds: f64) -> Vec<f32> {
    let mut atoms = vec![
        Atom {
            amplitude: 0.05,
            ..Atom::tone(0.1, 220.0)
        },
        Atom {
            amplitude: 0.03,
            ..Atom::tone(0.6, 330.0)
        },
        Atom {
            amplitude: 0.02,
            mix: 0.0,
            noise_centre: 3000.0,
            noise_width: 2000.0,
            length: 0.05,
            ..Atom::tone(1.1, 100.0)
        },
    ];
    atoms.push(Atom {
        amplitude: 0.04,
        ..Atom::tone(1.4, 440.0)
    });
    cpu::render(&atoms, RATE, (seconds * RATE as f64) as usize, 0).unwrap()
}

#[test]
fn gpu_scores_match_the_cpu_reference_on_random_residuals() {
    let Some(ctx) = common::gpu("gpu_scores_match_the_cpu_reference") else {
        return;
    };
    let mut rng = Rng::fresh("gpu_scores_match_the_cpu_reference");
    let dict = Dictionary::new(RATE);
    for _ in 0..2 {
        let frames = rng.range(3, 90);
        let bins = dict.bins();
        // Sparse-ish magnitudes: mostly small, some peaks.
        let residual: Vec<f32> = (0..frames * bins)
            .map(|_| {
                let u = rng.uniform();
                (if u < 0.05 { 10.0 * u } else { 0.01 * u }) as f32
            })
            .collect();
        let core_first = rng.range(0, frames - 1);
        let shape = ScoreShape {
            frames,
            bins,
            core_first,
            core_end: rng.range(core_first + 1, frames),
        };
        let h = score_cpu::project(&dict, &residual, &shape);
        let (best, _) = score_cpu::scan(&dict, &h, &shape);
        let want = score_cpu::reduce(
            &best,
            &score_cpu::scan(&dict, &h, &shape).1,
            dict.columns.len(),
            &shape,
        );
        let got = encode::gpu::score_stages(ctx, &dict, &residual, &shape).unwrap();
        assert_eq!(got.len(), frames);
        let columns = dict.columns.len();
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g.score.is_finite(), "frame {t}: {g:?}");
            if !(shape.core_first..shape.core_end).contains(&t) {
                assert_eq!(g.score, 0.0, "frame {t} is outside the core");
                continue;
            }
            let tolerance = 1e-4 * w.score.max(1e-12);
            assert!(
                (g.score - w.score).abs() <= tolerance,
                "frame {t}: {g:?} vs {w:?}"
            );
            // The GPU's choice is (within rounding) the CPU's best.
            let cpu_at_choice = best[t * columns + g.column as usize];
            assert!(
                (cpu_at_choice - w.score).abs() <= tolerance,
                "frame {t}: {g:?} vs {w:?}"
            );
        }
    }
}

#[test]
fn a_lone_tone_is_found_at_its_pitch_and_onset() {
    let tone = Atom {
        amplitude: 0.05,
        ..Atom::tone(0.3, 261.63)
    };
    let signal = cpu::render(&[tone], RATE, RATE as usize, 0).unwrap();
    let report = encode::encode(Backend::Cpu, &signal, RATE, &options(1.0)).unwrap();
    assert_eq!(report.events.events.len(), 1);
    let found = report.events.events[0];
    let cents = 1200.0 * (found.f0 / tone.f0).log2();
    assert!(cents.abs() < 15.0, "f0 {} Hz, {cents} cents off", found.f0);
    assert!(
        (found.onset - tone.onset).abs() <= 0.012,
        "onset {}",
        found.onset
    );
    let db = 20.0 * (found.amplitude / tone.amplitude).log10();
    assert!(db.abs() < 3.0, "level {db} dB off");
}

/// `seconds` of the bundled piano clip from 1 s on.
fn piano(seconds: f64) -> Vec<f32> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/piano_bach_chorale.wav");
    let clip = wavesplat::audio::load_mono(path.as_ref(), Some(RATE)).unwrap();
    clip.samples[RATE as usize..][..(seconds * RATE as f64) as usize].to_vec()
}

#[test]
fn more_events_explain_more_of_real_music() {
    let signal = piano(2.0);
    let mel = |rate: f64| {
        let report = encode::encode(Backend::Cpu, &signal, RATE, &options(rate)).unwrap();
        let out = cpu::render(&report.events.events, RATE, signal.len(), 0).unwrap();
        metrics::mel_distance(&signal, &out, RATE).unwrap()
    };
    let (few, many) = (mel(5.0), mel(60.0));
    assert!(many < few, "60 events/s {many} vs 5 events/s {few}");
    assert!(many < 0.6, "mel distance {many}");
}

#[test]
fn encoding_is_reproducible() {
    let signal = little_piece(1.5);
    let opts = options(30.0);
    let a = encode::encode(Backend::Cpu, &signal, RATE, &opts).unwrap();
    let b = encode::encode(Backend::Cpu, &signal, RATE, &opts).unwrap();
    for form in [Form::Compact, Form::Exact] {
        assert_eq!(
            a.events.to_bytes(form).unwrap(),
            b.events.to_bytes(form).unwrap()
        );
    }
    // The compact list is what a compact file decodes to, seeds included.
    let bytes = a.events.to_bytes(Form::Compact).unwrap();
    assert_eq!(EventList::from_bytes(&bytes).unwrap().0, a.events);
}

#[test]
fn the_bitrate_is_met_from_the_file_bytes() {
    let signal = little_piece(2.0);
    for kbps in [0.5, 2.0] {
        let opts = EncodeOptions {
            budget: Budget::Kbps(kbps),
            ..Default::default()
        };
        let report = encode::encode(Backend::Cpu, &signal, RATE, &opts).unwrap();
        let bytes = report.events.to_bytes(Form::Compact).unwrap().len();
        let real = metrics::bitrate_kbps(bytes as u64, 2.0).unwrap();
        assert!(real <= kbps, "{real} kbit/s over {kbps}");
        assert_eq!(report.bytes, bytes);
        assert!(
            report.events.events.len() >= report.budget_events * 9 / 10
                || report.events.events.len() >= 4
        );
    }
}

#[test]
fn segments_give_the_same_quality_and_no_seam() {
    let signal = piano(3.0);
    let run = |segment_seconds: f64| {
        let opts = EncodeOptions {
            segment_seconds,
            ..options(40.0)
        };
        let report = encode::encode(Backend::Cpu, &signal, RATE, &opts).unwrap();
        let out = cpu::render(&report.events.events, RATE, signal.len(), 0).unwrap();
        (report, out)
    };
    let (whole, whole_out) = run(10.0);
    let (parts, parts_out) = run(0.75);
    assert_eq!(whole.segments, 1);
    assert_eq!(parts.segments, 4);
    let mel_whole = metrics::mel_distance(&signal, &whole_out, RATE).unwrap();
    let mel_parts = metrics::mel_distance(&signal, &parts_out, RATE).unwrap();
    assert!(
        mel_parts < mel_whole + 0.05,
        "segments {mel_parts} vs whole {mel_whole}"
    );
    // Energy over 50 ms around each boundary against the original's: no dip
    // below the whole encoding's, and within 3 dB.
    let energy = |x: &[f32], at: usize| {
        let half = RATE as usize / 40;
        x[at - half..at + half]
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
    };
    for b in 1..4 {
        let at = b * RATE as usize * 3 / 4;
        let reference = energy(&signal, at);
        let whole_db = 10.0 * (energy(&whole_out, at) / reference).log10();
        let parts_db = 10.0 * (energy(&parts_out, at) / reference).log10();
        eprintln!("boundary {at}: whole {whole_db:.2} dB, segments {parts_db:.2} dB");
        assert!(
            parts_db > whole_db - 2.0 && parts_db.abs() < 3.0,
            "boundary {at}: {parts_db} dB"
        );
    }
}

#[test]
fn silence_gives_an_empty_list_and_a_valid_file() {
    let report = encode::encode(
        Backend::Cpu,
        &vec![0.0; RATE as usize],
        RATE,
        &options(50.0),
    )
    .unwrap();
    assert!(report.events.events.is_empty());
    for form in [Form::Compact, Form::Exact, Form::Json] {
        let bytes = report.events.to_bytes(form).unwrap();
        assert_eq!(EventList::from_bytes(&bytes).unwrap().0.events.len(), 0);
    }
}

#[test]
fn clipping_and_dc_offset_encode_fine() {
    let piece = little_piece(1.0);
    let peak = piece.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let clipped: Vec<f32> = piece
        .iter()
        .map(|v| (v * 4.0 / peak).clamp(-1.0, 1.0))
        .collect();
    let offset: Vec<f32> = piece.iter().map(|v| v + 0.3).collect();
    for signal in [&clipped, &offset] {
        let report = encode::encode(Backend::Cpu, signal, RATE, &options(20.0)).unwrap();
        assert!(!report.events.events.is_empty());
        report.events.validate().unwrap();
    }
    // The offset is removed, not encoded: the events are those of the piece.
    let plain = encode::encode(Backend::Cpu, &piece, RATE, &options(20.0)).unwrap();
    let shifted = encode::encode(Backend::Cpu, &offset, RATE, &options(20.0)).unwrap();
    assert_eq!(plain.events.events.len(), shifted.events.events.len());
}

#[test]
fn very_short_input_gives_a_tiny_valid_list_and_empty_input_an_error() {
    // Shorter than one analysis frame: zero-padded for analysis; the list
    // keeps the true duration.
    let tone = cpu::render(&[Atom::tone(0.0, 440.0)], RATE, 300, 0).unwrap();
    let report = encode::encode(Backend::Cpu, &tone, RATE, &options(1000.0)).unwrap();
    assert!((report.events.duration - 300.0 / RATE as f32).abs() < 1e-6);
    assert!(!report.events.events.is_empty());
    report.events.validate().unwrap();
    let e = encode::encode(Backend::Cpu, &[], RATE, &options(10.0)).unwrap_err();
    assert!(e.to_string().contains("no samples"), "{e}");
}

#[test]
fn other_rates_are_resampled_and_bad_options_refused() {
    let signal = little_piece(1.0);
    let at_16k = wavesplat::audio::resample(&signal, RATE, 16_000).unwrap();
    let report = encode::encode(Backend::Cpu, &at_16k, 16_000, &options(10.0)).unwrap();
    assert_eq!(report.events.rate, RATE);
    let e = encode::encode(Backend::Cpu, &signal, 1, &options(10.0)).unwrap_err();
    assert!(e.to_string().contains("resample"), "{e}");
    let refine = EncodeOptions {
        iterations: 100_000,
        ..options(10.0)
    };
    let e = encode::encode(Backend::Cpu, &signal, RATE, &refine).unwrap_err();
    assert!(e.to_string().contains("iterations"), "{e}");
    let json_kbps = EncodeOptions {
        form: Form::Json,
        ..Default::default()
    };
    assert!(encode::encode(Backend::Cpu, &signal, RATE, &json_kbps).is_err());
}

/// Gradient refinement lowers the loss it minimises and the mel distance on
/// real music, starting from the pursuit's atoms.
#[test]
fn refinement_improves_on_matching_pursuit() {
    let Some(ctx) = common::gpu("refinement_improves_on_matching_pursuit") else {
        return;
    };
    let signal = piano(1.5);
    let mel = |iterations: u32| {
        let opts = EncodeOptions {
            iterations,
            ..options(40.0)
        };
        let report = encode::encode(Backend::Gpu(ctx), &signal, RATE, &opts).unwrap();
        let decoded = cpu::render(&report.events.events, RATE, signal.len(), 0).unwrap();
        metrics::mel_distance(&signal, &decoded, RATE).unwrap()
    };
    let (before, after) = (mel(0), mel(15));
    eprintln!("mel distance {before:.3} -> {after:.3}");
    assert!(
        after < before - 0.01,
        "refinement did not help: {before} -> {after}"
    );
}

/// A second pursuit on top of existing atoms adds atoms where the residual
/// is largest: the tones the first pursuit left out, not copies of the ones it
/// found.
#[test]
fn pursuit_on_top_of_existing_atoms_finds_what_they_leave() {
    let signal = little_piece(1.8);
    let mut encoder = encode::Encoder::new(Backend::Cpu, &options(30.0)).unwrap();
    let mut source = encode::source::InMemory(signal);
    let first = encoder.initialise(&mut source, 1).unwrap();
    assert_eq!(first.len(), 1);
    let more = encoder.pursue(&mut source, 3, &first).unwrap();
    assert!(!more.is_empty());
    let near =
        |a: &Atom, b: &Atom| (a.onset - b.onset).abs() < 0.05 && (a.f0 / b.f0 - 1.0).abs() < 0.03;
    for m in &more {
        assert!(!near(m, &first[0]), "re-found the existing atom: {m:?}");
    }
    // The loudest tone (220 Hz at 0.1 s) comes first; the others follow.
    assert!(
        (first[0].f0 / 220.0 - 1.0).abs() < 0.02,
        "first pick {:?}",
        first[0]
    );
    let found_440 = more
        .iter()
        .any(|a| (a.f0 / 440.0 - 1.0).abs() < 0.02 && (a.onset - 1.4).abs() < 0.03);
    assert!(
        found_440,
        "the 440 Hz tone at 1.4 s was not added: {more:?}"
    );
}

/// Refinement keeps encoding reproducible (no atomics, fixed reduction orders).
#[test]
fn encoding_with_refinement_is_reproducible() {
    let Some(ctx) = common::gpu("encoding_with_refinement_is_reproducible") else {
        return;
    };
    let signal = piano(1.0);
    let opts = EncodeOptions {
        iterations: 4,
        ..options(30.0)
    };
    let a = encode::encode(Backend::Gpu(ctx), &signal, RATE, &opts).unwrap();
    let b = encode::encode(Backend::Gpu(ctx), &signal, RATE, &opts).unwrap();
    assert_eq!(
        a.events.to_bytes(Form::Compact).unwrap(),
        b.events.to_bytes(Form::Compact).unwrap()
    );
}
