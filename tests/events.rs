//! Event files: exact and JSON forms round-trip bit for bit, the compact form
//! within the precision FORMAT.md documents; files, form detection, edits and
//! random lists.

mod common;
mod events_common;

use common::Rng;
use events_common::{bits, random_list};
use wavesplat::atoms::{Atom, Envelope, FIELD_RANGES};
use wavesplat::events::compact::{self, QUANTISERS};
use wavesplat::events::{self, EventList, Form, edit};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wavesplat-events-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn exact_and_json_forms_round_trip_bit_for_bit() {
    let mut rng = Rng::fresh("exact_and_json_forms_round_trip_bit_for_bit");
    for count in [0, 1, 2, 7, 100, 1000] {
        let list = random_list(&mut rng, count);
        for form in [Form::Exact, Form::Json] {
            let bytes = list.to_bytes(form).unwrap();
            let (back, detected) = EventList::from_bytes(&bytes).unwrap();
            assert_eq!(detected, form);
            assert_eq!(bits(&back), bits(&list), "{form}, {count} events");
            assert_eq!(
                back.to_bytes(form).unwrap(),
                bytes,
                "{form} rewrites identically"
            );
        }
        let exact = list.to_bytes(Form::Exact).unwrap();
        assert_eq!(
            exact.len(),
            28 + 57 * count,
            "exact: 28-byte header, 57 bytes an event"
        );
    }
}

#[test]
fn json_keeps_awkward_f32_values_exactly() {
    let mut rng = Rng::fresh("json_keeps_awkward_f32_values_exactly");
    // Arbitrary bit patterns inside each range: every f32 the shortest
    // decimal must bring back, not only round numbers.
    let events: Vec<Atom> = (0..20_000)
        .map(|_| {
            let fields = std::array::from_fn(|k| {
                let r = FIELD_RANGES[k];
                loop {
                    let v = f32::from_bits(rng.next_u64() as u32);
                    if v >= r.min && v <= r.max {
                        break v;
                    }
                }
            });
            Atom::from_fields(fields, Envelope::Gamma, u32::MAX)
        })
        .collect();
    let list = EventList::new(22_050, 1.0e-30, events);
    let (back, _) = EventList::from_bytes(&list.to_bytes(Form::Json).unwrap()).unwrap();
    assert_eq!(bits(&back), bits(&list));
}

/// The largest error FORMAT.md allows a compact field, checked against the
/// original value: (field, covered lo, covered hi, bound, how the bound is measured).
enum Bound {
    /// |log2(quantised / clamped)| ≤ octaves; values under `zero_below` become 0.
    Octaves {
        lo: f64,
        hi: f64,
        octaves: f64,
        zero_below: f64,
    },
    /// |quantised - clamped| ≤ absolute.
    Absolute(f64),
    /// |sqrt(1 - quantised) - sqrt(1 - value)| ≤ this.
    Warped(f64),
}

/// The compact table of FORMAT.md, field by field (index in Atom::fields order).
fn documented_bound(k: usize) -> Bound {
    let oct = |lo: f64, hi: f64, octaves: f64| Bound::Octaves {
        lo,
        hi,
        octaves,
        zero_below: 0.0,
    };
    let db = |d: f64| d / 20.0 * 10f64.log2();
    match k {
        0 => Bound::Absolute(0.001),
        1 => Bound::Octaves {
            lo: 10f64.powf(-72.0 / 20.0),
            hi: 10f64.powf(21.0 / 20.0),
            octaves: db(0.75),
            zero_below: 10f64.powf(-72.75 / 20.0),
        },
        2 => oct(10.0, 24_000.0, 3.3 / 1200.0),
        3 => oct(0.0625, 4.0, 0.1),
        4 => Bound::Warped(1.0 / 30.0),
        5 => oct(0.005, 30.0, 0.203),
        6 => oct(40.0, 40_960.0, 1.0 / 3.0),
        7 => oct(0.01, 327.68, 0.5),
        8 => Bound::Octaves {
            lo: 46.875,
            hi: 24_000.0,
            octaves: 9.0 / 28.0,
            zero_below: 46.875 * (-9.0f64 / 28.0).exp2(),
        },
        9 => oct(20.0, 20_480.0, 5.0 / 7.0),
        10 => Bound::Octaves {
            lo: 0.001,
            hi: 1.0,
            octaves: 0.25 * 10f64.log2(),
            zero_below: 0.001 * 10f64.powf(-0.25),
        },
        11 => oct(0.0005, 5.0, 0.5 * 10_000f64.log2() / 15.0),
        12 => Bound::Absolute(1.0 / 14.0),
        _ => unreachable!(),
    }
}

/// Fails unless `got` is `want` within the documented precision of field `k`.
fn assert_within_precision(k: usize, want: f32, got: f32) {
    let name = FIELD_RANGES[k].name;
    let (v, q) = (f64::from(want), f64::from(got));
    // f32 rounding of the decoded value: a few parts in 10^7.
    let slack = 1e-6;
    match documented_bound(k) {
        Bound::Octaves {
            lo,
            hi,
            octaves,
            zero_below,
        } => {
            if v < zero_below * (1.0 - slack) {
                assert_eq!(q, 0.0, "{name}: {v} should become 0");
            } else if v > zero_below * (1.0 + slack) {
                let err = (q / v.clamp(lo, hi)).log2().abs();
                assert!(err <= octaves + slack, "{name}: {v} -> {q}: {err} octaves");
            }
        }
        Bound::Absolute(bound) => {
            let ulp = f64::from(want.abs()) * f64::from(f32::EPSILON);
            assert!((q - v).abs() <= bound + ulp + 1e-9, "{name}: {v} -> {q}");
        }
        Bound::Warped(bound) => {
            let err = ((1.0 - q).sqrt() - (1.0 - v).sqrt()).abs();
            assert!(err <= bound + slack, "{name}: {v} -> {q}");
        }
    }
}

#[test]
fn compact_round_trips_within_the_documented_precision() {
    let mut rng = Rng::fresh("compact_round_trips_within_the_documented_precision");
    for count in [0, 1, 3, 50, 2000] {
        let list = random_list(&mut rng, count);
        let bytes = list.to_bytes(Form::Compact).unwrap();
        let (back, form) = EventList::from_bytes(&bytes).unwrap();
        assert_eq!(form, Form::Compact);
        // Exactly what quantise_list promises, and stable from then on.
        assert_eq!(bits(&back), bits(&compact::quantise_list(&list)));
        assert_eq!(back.to_bytes(Form::Compact).unwrap(), bytes);
        // At most 64 bits an event, plus one gap record before an event
        // that follows a gap of 254 ms or more.
        let records = (bytes.len() - 28) / 8;
        assert!(records >= count && records <= 2 * count);
        // Match each decoded event to its original (the file is sorted by
        // onset; seeds are derived from the position).
        let mut originals = list.events.clone();
        let key = |a: &Atom| compact::quantise(a).onset;
        originals.sort_by(|a, b| key(a).total_cmp(&key(b)));
        for (i, (a, b)) in originals.iter().zip(&back.events).enumerate() {
            assert_eq!(b.seed, compact::seed_for_index(i));
            assert_eq!(a.envelope, b.envelope);
            for (k, (want, got)) in a.fields().into_iter().zip(b.fields()).enumerate() {
                let original = compact::quantise(a).fields()[k];
                assert_eq!(original, got, "{} of event {i}", FIELD_RANGES[k].name);
                assert_within_precision(k, want, got);
            }
        }
    }
}

#[test]
fn the_compact_table_fills_64_bits_and_decodes_inside_every_range() {
    let bits: u32 = QUANTISERS.iter().map(|q| q.bits).sum::<u32>()
        + compact::ONSET_BITS
        + compact::ENVELOPE_BITS;
    assert_eq!(bits, 64);
    for qz in &QUANTISERS {
        let r = FIELD_RANGES[qz.field];
        assert!(qz.codes <= 1 << qz.bits, "{}", qz.name());
        for code in 0..1 << qz.bits {
            match qz.decode(code) {
                Some(v) => {
                    assert!(v >= r.min && v <= r.max, "{} code {code}: {v}", qz.name());
                    assert_eq!(qz.encode(v), code, "{} code {code} is stable", qz.name());
                }
                None => assert!(code >= qz.codes, "{} code {code}", qz.name()),
            }
        }
    }
    // The documented steps.
    let step = |name: &str| QUANTISERS.iter().find(|q| q.name() == name).unwrap().step();
    assert!(
        (step("f0") * 1200.0 - 6.583).abs() < 0.001,
        "f0: 6.58 cents"
    );
    assert!(
        (step("amplitude") * 20.0 / 10f64.log2() - 1.5).abs() < 1e-5,
        "1.5 dB"
    );
    assert!((step("spacing") - 0.2).abs() < 1e-12);
    assert!((step("closing") - 1.0).abs() < 1e-12);
    // What must be exact: harmonic and odd-harmonic spectra, the ends of
    // rolloff and mix, unit amplitude to 1e-6, silence, zero attack.
    let exact = [
        ("spacing", 1.0),
        ("spacing", 2.0),
        ("spacing", 0.5),
        ("rolloff", 0.0),
        ("rolloff", 1.0),
        ("mix", 0.0),
        ("mix", 1.0),
        ("amplitude", 0.0),
        ("attack", 0.0),
        ("noise_centre", 0.0),
    ];
    for (name, v) in exact {
        let qz = QUANTISERS.iter().find(|q| q.name() == name).unwrap();
        assert_eq!(qz.quantise(v), v, "{name} {v}");
    }
    let amplitude = QUANTISERS.iter().find(|q| q.name() == "amplitude").unwrap();
    assert!((amplitude.quantise(1.0) - 1.0).abs() < 1e-6);
}

#[test]
fn compact_onsets_are_deltas_with_gap_records_for_long_gaps() {
    let onsets = [0.0, 0.0, 0.252, 0.506, 10.0, 10.001, 80_000.0];
    let events = onsets.iter().map(|&t| Atom::tone(t, 440.0)).collect();
    let list = EventList::new(22_050, 86_400.0, events);
    let bytes = list.to_bytes(Form::Compact).unwrap();
    // In 2 ms units: 0.252 s is 126 after 0, the longest direct difference;
    // 0.506 s is 127 after it, a gap record; so are 10 s and 80 000 s.
    assert_eq!(bytes.len(), 28 + 8 * (7 + 3));
    let (back, _) = EventList::from_bytes(&bytes).unwrap();
    for (t, b) in onsets.iter().zip(&back.events) {
        assert!(
            (t - b.onset).abs() <= 0.001 + t * f32::EPSILON,
            "{t} -> {}",
            b.onset
        );
    }
    // Unsorted input is stored sorted, ties in input order.
    let mut shuffled = list.clone();
    shuffled.events.reverse();
    shuffled.events[0].f0 = 1000.0;
    let (back, _) = EventList::from_bytes(&shuffled.to_bytes(Form::Compact).unwrap()).unwrap();
    assert!(back.events.windows(2).all(|w| w[0].onset <= w[1].onset));
    assert!((back.events[6].f0 - 1000.0).abs() < 3.0);
}

#[test]
fn files_are_read_in_the_form_they_were_written() {
    let mut rng = Rng::fresh("files_are_read_in_the_form_they_were_written");
    let dir = scratch("files");
    let list = random_list(&mut rng, 25);
    for (name, form) in [
        ("a.splat", Form::Exact),
        ("b.splat", Form::Compact),
        ("c.json", Form::Json),
    ] {
        let path = dir.join(name);
        events::write(&path, &list, form).unwrap();
        let (back, detected) = events::read_with_form(&path).unwrap();
        assert_eq!(detected, form);
        let want = if form == Form::Compact {
            compact::quantise_list(&list)
        } else {
            list.clone()
        };
        assert_eq!(bits(&back), bits(&want), "{name}");
    }
    assert_eq!(Form::for_path("x.JSON".as_ref()), Some(Form::Json));
    assert_eq!(Form::for_path("x.splat".as_ref()), None);
}

#[test]
fn invalid_lists_are_not_written() {
    let dir = scratch("invalid");
    let path = dir.join("bad.splat");
    let mut list = EventList::new(22_050, 1.0, vec![Atom::tone(0.1, 440.0); 3]);
    list.events[2].f0 = f32::NAN;
    for form in [Form::Exact, Form::Compact, Form::Json] {
        let err = events::write(&path, &list, form).unwrap_err().to_string();
        assert!(
            err.contains("bad.splat") && err.contains("event 2") && err.contains("f0"),
            "{err}"
        );
        assert!(!path.exists());
    }
    for (rate, duration, words) in [
        (100, 1.0, "sample rate 100"),
        (22_050, 0.0, "duration 0"),
        (22_050, f32::INFINITY, "duration inf"),
    ] {
        let list = EventList::new(rate, duration, vec![]);
        let err = list.to_bytes(Form::Exact).unwrap_err().to_string();
        assert!(err.contains(words), "{err}");
    }
}

#[test]
fn edits_scale_the_right_fields_and_clamp_to_the_ranges() {
    let tone = Atom::tone(1.0, 440.0);
    let mut list = EventList::new(22_050, 2.0, vec![tone, Atom::tone(0.5, 20_000.0)]);
    let clamped = edit::transpose(&mut list, 12.0).unwrap();
    assert_eq!(list.events[0].f0, 880.0);
    assert_eq!(list.events[0].brightness, 8000.0);
    assert_eq!(list.events[0].noise_centre, 4000.0);
    assert_eq!(list.events[1].f0, 24_000.0, "clamped");
    assert_eq!(clamped, 1);
    assert_eq!(list.events[0].t60, tone.t60);

    assert_eq!(edit::stretch(&mut list, 2.0).unwrap(), 0);
    assert_eq!(list.duration, 4.0);
    let a = list.events[0];
    assert_eq!(
        [a.onset, a.t60, a.closing, a.attack, a.length],
        [2.0, 2.0, 2.0, 0.004, 0.02]
    );
    assert_eq!(a.f0, 880.0);
    assert!(edit::stretch(&mut list, 0.0).is_err());
    assert!(edit::stretch(&mut list, f32::NAN).is_err());

    edit::gain(&mut list, -20.0).unwrap();
    assert!((list.events[0].amplitude - 0.01).abs() < 1e-8);
    assert_eq!(edit::gain(&mut list, 200.0).unwrap(), 2, "clamped to 1000");
    assert_eq!(list.events[0].amplitude, 1000.0);

    list.events[1].amplitude = 0.001; // -60 dB
    assert_eq!(edit::drop_below(&mut list, -59.0).unwrap(), 1);
    assert_eq!(list.events.len(), 1);
    assert_eq!(list.events[0].f0, 880.0);
    list.validate().unwrap();
}

#[test]
fn random_lists_are_valid_and_deterministic() {
    let a = events::random::random(500, 10.0, 22_050, 7).unwrap();
    let b = events::random::random(500, 10.0, 22_050, 7).unwrap();
    let c = events::random::random(500, 10.0, 22_050, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    a.validate().unwrap();
    assert!(a.events.windows(2).all(|w| w[0].onset <= w[1].onset));
    assert!(
        a.events
            .iter()
            .all(|e| e.onset <= 10.0 && (40.0..=4000.0).contains(&e.f0))
    );
    assert!(events::random::random(1, 0.0, 22_050, 1).is_err());
}
