//! The event-file parser against hostile input: random byte strings and
//! mutations of valid files in every form (bit flips, truncations,
//! insertions, deletions, header fields set to absurd values, NaN fields,
//! with and without a repaired checksum) must give Ok or a clean error,
//! never a panic, and never an allocation out of proportion to the input.
//! Then the named failure cases, one by one, with their messages.

mod common;
mod events_common;

use common::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use wavesplat::atoms::Atom;
use wavesplat::events::{self, EventList, Form};

/// Records the largest allocation made on each thread.
struct Tracking;

thread_local! {
    static BIGGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // try_with: allocations during thread teardown are not tracked.
    let _ = BIGGEST.try_with(|b| b.set(b.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Decodes `bytes`, returning the result and the largest allocation made.
fn parse(bytes: &[u8]) -> (wavesplat::Result<(EventList, Form)>, usize) {
    BIGGEST.with(|b| b.set(0));
    let result = EventList::from_bytes(bytes);
    (result, BIGGEST.with(Cell::get))
}

/// The checks every outcome must pass; returns the error message, if any.
fn check_outcome(bytes: &[u8], what: &str) -> Option<String> {
    let outcome = std::panic::catch_unwind(|| parse(bytes));
    let head: Vec<String> = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
    let (result, biggest) =
        outcome.unwrap_or_else(|_| panic!("{what}: the parser panicked on {}", head.join("")));
    let limit = 64 * bytes.len() + 64 * 1024;
    assert!(
        biggest <= limit,
        "{what}: allocated {biggest} bytes for a {}-byte input",
        bytes.len()
    );
    match result {
        Ok((list, form)) => {
            // Whatever is accepted is valid and survives a rewrite.
            list.validate().unwrap();
            let again = list.to_bytes(form).unwrap();
            let (back, _) = EventList::from_bytes(&again).unwrap();
            assert_eq!(
                events_common::bits(&back),
                events_common::bits(&list),
                "{what}"
            );
            None
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with("<bytes>: ") && message.len() > 12,
                "{what}: {message}"
            );
            Some(message)
        }
    }
}

/// Rewrites the checksum of a binary file so a mutation reaches the decoder.
fn repair_checksum(bytes: &mut [u8]) {
    if bytes.len() >= 28 && bytes.starts_with(b"WSPL") {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&bytes[..24]);
        hasher.update(&bytes[28..]);
        let crc = hasher.finalize();
        bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Values that break parsers: zero, ones, signs, NaN and infinity bits.
const AWKWARD: [u32; 10] = [
    0,
    1,
    57,
    0x7FFF_FFFF,
    0x8000_0000,
    u32::MAX,
    0x7FC0_0000, // NaN
    0x7F80_0000, // inf
    0xFF80_0000, // -inf
    0x0000_0001, // smallest subnormal
];

/// Text that breaks JSON readers.
const AWKWARD_TEXT: [&str; 12] = [
    "NaN",
    "1e999",
    "-1",
    "null",
    "\"x\"",
    "{}",
    "[]",
    "1e39",
    "-0",
    "4294967296",
    ",",
    "\"f0\":1,",
];

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    let at = |rng: &mut Rng| rng.range(0, len.max(1) - 1);
    match rng.range(0, 8) {
        0 if len > 0 => {
            let i = at(rng);
            bytes[i] ^= 1 << rng.range(0, 7);
        }
        1 if len > 0 => {
            let i = at(rng);
            bytes[i] = rng.next_u64() as u8;
        }
        2 => bytes.truncate(rng.range(0, len)),
        3 => {
            let extra: Vec<u8> = (0..rng.range(1, 64))
                .map(|_| rng.next_u64() as u8)
                .collect();
            let i = rng.range(0, len);
            bytes.splice(i..i, extra);
        }
        4 if len > 0 => {
            let i = at(rng);
            let j = rng.range(i, len);
            bytes.drain(i..j);
        }
        5 if len >= 28 => {
            // A header field (version, form, flags, rate, duration, count, size).
            let field = [4, 6, 7, 8, 12, 16, 20][rng.range(0, 6)];
            let value = AWKWARD[rng.range(0, AWKWARD.len() - 1)];
            let width = if field == 4 {
                2
            } else if field < 8 {
                1
            } else {
                4
            };
            bytes[field..field + width].copy_from_slice(&value.to_le_bytes()[..width]);
        }
        6 if len >= 4 => {
            // Any four bytes: a payload field, perhaps an f32.
            let i = rng.range(0, len - 4);
            let value = AWKWARD[rng.range(0, AWKWARD.len() - 1)];
            bytes[i..i + 4].copy_from_slice(&value.to_le_bytes());
        }
        7 => {
            let text = AWKWARD_TEXT[rng.range(0, AWKWARD_TEXT.len() - 1)];
            let i = rng.range(0, len);
            let j = rng.range(i, len.min(i + 12));
            bytes.splice(i..j, text.bytes());
        }
        _ => {
            let (i, j) = (rng.range(0, len), rng.range(0, len));
            let chunk = bytes[i.min(j)..i.max(j)].to_vec();
            bytes.splice(i..i, chunk);
        }
    }
}

#[test]
fn mutated_and_random_files_give_ok_or_a_clean_error() {
    let mut rng = Rng::fresh("mutated_and_random_files_give_ok_or_a_clean_error");
    let started = std::time::Instant::now();
    let mut seeds = Vec::new();
    for count in [0, 1, 2, 5, 20, 60] {
        let list = events_common::random_list(&mut rng, count);
        for form in [Form::Exact, Form::Compact, Form::Json] {
            seeds.push(list.to_bytes(form).unwrap());
        }
    }
    // A compact file with gap records.
    let spread = (0..8).map(|i| Atom::tone(i as f32 * 7.5, 440.0)).collect();
    seeds.push(
        EventList::new(22_050, 60.0, spread)
            .to_bytes(Form::Compact)
            .unwrap(),
    );
    let cases = 100_000;
    // How often each kind of outcome came up: the mutations must reach every
    // layer (header, checksum, payload, fields, JSON), not stop at the first.
    let kinds = [
        "accepted",
        "not a wavesplat",
        "truncated",
        "checksum",
        "header says",
        "version",
        "event ",
        "JSON",
    ];
    let mut seen = [0usize; 8];
    for case in 0..cases {
        let mut bytes = if case % 10 == 0 {
            // Random bytes, half of them behind the magic.
            let mut b: Vec<u8> = (0..rng.range(0, 200))
                .map(|_| rng.next_u64() as u8)
                .collect();
            if case % 20 == 0 {
                b.splice(0..0, *b"WSPL");
            }
            b
        } else {
            seeds[rng.range(0, seeds.len() - 1)].clone()
        };
        for _ in 0..rng.range(1, 4) {
            mutate(&mut rng, &mut bytes);
        }
        if rng.range(0, 1) == 0 {
            repair_checksum(&mut bytes);
        }
        let kind = match check_outcome(&bytes, &format!("case {case}")) {
            None => Some(0),
            Some(message) => kinds.iter().position(|k| message.contains(k)),
        };
        if let Some(k) = kind {
            seen[k] += 1;
        }
    }
    let tally: Vec<String> = kinds
        .iter()
        .zip(seen)
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    eprintln!(
        "{cases} cases in {:?}: {}",
        started.elapsed(),
        tally.join(", ")
    );
    assert!(seen.iter().all(|&n| n > 0), "an outcome never came up");
}

fn exact_file(events: usize) -> Vec<u8> {
    let list = EventList::new(22_050, 10.0, vec![Atom::tone(1.0, 440.0); events]);
    list.to_bytes(Form::Exact).unwrap()
}

fn error_of(bytes: &[u8]) -> String {
    let (result, biggest) = parse(bytes);
    assert!(
        biggest <= 64 * bytes.len() + 64 * 1024,
        "allocated {biggest}"
    );
    result.expect_err("must fail").to_string()
}

fn assert_error(bytes: &[u8], words: &[&str]) {
    let message = error_of(bytes);
    for w in words {
        assert!(message.contains(w), "expected {w:?} in {message:?}");
    }
}

#[test]
fn truncated_files_say_how_much_is_missing() {
    let file = exact_file(10);
    assert_eq!(file.len(), 28 + 570);
    assert_error(
        &file[..500],
        &[
            "truncated",
            "header says 10 events (570 bytes), 472 bytes follow",
        ],
    );
    assert_error(
        &file[..20],
        &["truncated", "header needs 28 bytes, the file has 20"],
    );
    assert_error(&file[..3], &["not a wavesplat event file"]);
    assert_error(b"", &["empty"]);
    let mut longer = file.clone();
    longer.extend_from_slice(b"tail");
    assert_error(&longer, &["4 bytes of unknown data"]);
}

#[test]
fn corrupt_files_fail_their_checksum() {
    let mut file = exact_file(3);
    file[40] ^= 0x10;
    assert_error(&file, &["checksum mismatch", "corrupt"]);
    let mut file = exact_file(3);
    file[8] ^= 1; // the sample rate: the checksum covers the header too
    assert_error(&file, &["checksum mismatch"]);
}

#[test]
fn newer_and_unknown_versions_forms_and_flags_are_refused() {
    let mut file = exact_file(1);
    file[4] = 9;
    assert_error(&file, &["version 9 is newer than this reader (1)"]);
    file[4] = 0;
    assert_error(&file, &["version 0"]);
    let mut file = exact_file(1);
    file[6] = 7;
    assert_error(&file, &["unknown form code 7"]);
    let mut file = exact_file(1);
    file[7] = 0x80;
    assert_error(&file, &["unknown flags 0x80"]);
    let json = r#"{"format":"wavesplat-events","version":2,"sample_rate":22050,"duration":1,"events":[],"new":1}"#;
    assert_error(
        json.as_bytes(),
        &["version 2 is newer than this reader (1)"],
    );
}

#[test]
fn absurd_counts_fail_before_anything_is_allocated() {
    let file = exact_file(2);
    for (count, size) in [
        (u32::MAX, 114),
        (u32::MAX, u32::MAX),
        (75_000_000, 75_000_000 * 57),
        (3, 114),
    ] {
        let mut bad = file.clone();
        bad[16..20].copy_from_slice(&count.to_le_bytes());
        bad[20..24].copy_from_slice(&size.to_le_bytes());
        repair_checksum(&mut bad);
        let message = error_of(&bad);
        assert!(
            message.contains(&format!("header says {count}")),
            "{message}"
        );
    }
    // A compact header claiming more events than records.
    let list = EventList::new(22_050, 10.0, vec![Atom::tone(0.1, 440.0); 4]);
    let mut compact = list.to_bytes(Form::Compact).unwrap();
    compact[16..20].copy_from_slice(&1_000_000u32.to_le_bytes());
    repair_checksum(&mut compact);
    assert_error(
        &compact,
        &["header says 1000000 compact events but a 32-byte payload"],
    );
}

#[test]
fn nan_and_out_of_range_fields_are_named() {
    let mut file = exact_file(5);
    // Event 3's f0 (the third f32 of its record), set to NaN.
    let at = 28 + 3 * 57 + 2 * 4;
    file[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    repair_checksum(&mut file);
    assert_error(&file, &["event 3: f0 = NaN Hz is outside 10..=24000"]);
    let mut file = exact_file(5);
    file[28 + 57 + 52] = 2; // event 1's envelope code
    repair_checksum(&mut file);
    assert_error(&file, &["event 1: envelope code 2"]);
    let mut file = exact_file(1);
    file[12..16].copy_from_slice(&f32::NAN.to_le_bytes()); // duration
    repair_checksum(&mut file);
    assert_error(&file, &["duration NaN"]);

    // Compact: spacing code 31 is unused.
    let list = EventList::new(22_050, 10.0, vec![Atom::tone(0.1, 440.0); 2]);
    let mut compact = list.to_bytes(Form::Compact).unwrap();
    let word = u64::from_le_bytes(compact[36..44].try_into().unwrap()) | 31 << 24;
    compact[36..44].copy_from_slice(&word.to_le_bytes());
    repair_checksum(&mut compact);
    assert_error(&compact, &["event 1: spacing code 31 is unused"]);

    // JSON: NaN cannot be written; null, overflow and out-of-range can.
    let json = |f0: &str| {
        format!(
            r#"{{"format":"wavesplat-events","version":1,"sample_rate":22050,"duration":1,"events":[{}]}}"#,
            serde_json::to_string(&Atom::tone(0.0, 440.0))
                .unwrap()
                .replace("\"f0\":440.0", &format!("\"f0\":{f0}"))
        )
    };
    assert_error(json("null").as_bytes(), &["event 0", "null"]);
    assert_error(json("NaN").as_bytes(), &["not valid JSON"]);
    assert_error(
        json("1e39").as_bytes(),
        &["event 0: f0 = inf Hz is outside"],
    );
    assert_error(
        json("5").as_bytes(),
        &["event 0: f0 = 5 Hz is outside 10..=24000"],
    );
    assert_error(
        json("440, \"colour\": 1").as_bytes(),
        &["event 0", "unknown field `colour`"],
    );
    assert!(EventList::from_bytes(json("440").as_bytes()).is_ok());
}

#[test]
fn errors_from_files_name_the_file() {
    let dir = std::env::temp_dir().join(format!("wavesplat-events-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.splat");
    std::fs::write(&path, &exact_file(4)[..100]).unwrap();
    let message = events::read(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}: truncated", path.display())),
        "{message}"
    );
    let missing = dir.join("missing.splat");
    assert!(
        events::read(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing.splat")
    );
}
