//! The compact form: every event in one 64-bit record of quantised fields.
//!
//! Events are stored sorted by onset, each onset as the difference from the
//! previous one in [`ONSET_UNIT`] steps; a gap too long for the
//! [`ONSET_BITS`]-bit difference is a gap record of its own. The other fields
//! are quantised as [`QUANTISERS`] says (the table, with what precision each
//! keeps and whether that is audible, is in `FORMAT.md`); values outside a
//! quantiser's covered range are clamped to it on write. Seeds are not stored:
//! event `i` of a compact file gets [`seed_for_index`]`(i)`.
//!
//! [`quantise`] gives an atom as a compact write and read gives it back, so
//! an encoder can optimise against the values it will really store;
//! [`quantise_list`] does the same for a whole list (sorted, seeds derived).

use super::{EventList, Form, binary, check_event};
use crate::atoms::{Atom, Envelope, FIELD_RANGES, MAX_ONSET};

/// Onsets are stored on a grid of this many seconds (error at most half of it).
pub const ONSET_UNIT: f64 = 0.002;
/// Bits of an event's onset difference; the all-ones value marks a gap record.
pub const ONSET_BITS: u32 = 7;
/// The onset-difference value that marks a gap record.
pub const GAP_CODE: u64 = (1 << ONSET_BITS) - 1;
/// Bits of a record.
pub const RECORD_BITS: u32 = 64;

/// How a quantiser's codes map to values (`n` codes, range `lo..=hi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Code `c` is `lo (hi/lo)^(c/(n-1))`: equal ratios.
    Log,
    /// Code 0 is 0; code `c ≥ 1` is `lo (hi/lo)^((c-1)/(n-2))`. Values below
    /// half a step under `lo` are written as 0.
    LogOrZero,
    /// Code `c` is `lo + (hi - lo) c/(n-1)`.
    Linear,
    /// Code `c` is `1 - (1 - c/(n-1))²` (`lo` 0, `hi` 1): finer near 1.
    Warped,
}

/// How one f32 field of an atom is coded in a compact record.
#[derive(Clone, Copy, Debug)]
pub struct Quantiser {
    /// Index of the field in [`Atom::fields`] / [`FIELD_RANGES`].
    pub field: usize,
    /// Bits of the field in a record.
    pub bits: u32,
    /// Codes in use (at most `2^bits`; larger codes are rejected on read).
    pub codes: u32,
    pub scale: Scale,
    /// The covered range: values outside it are clamped on write.
    pub lo: f32,
    pub hi: f32,
}

const fn q(field: usize, bits: u32, codes: u32, scale: Scale, lo: f32, hi: f32) -> Quantiser {
    Quantiser {
        field,
        bits,
        codes,
        scale,
        lo,
        hi,
    }
}

/// The quantisers of the fields after the onset, in record (and field) order.
pub const QUANTISERS: [Quantiser; 12] = [
    // amplitude: 1.5 dB steps from -72 dB to +21 dB re 1.0, and 0.
    q(1, 6, 64, Scale::LogOrZero, 2.511_886_4e-4, 11.220_185),
    // f0: 10 Hz to 24 kHz in 2047 equal steps of 6.58 cents.
    q(2, 11, 2048, Scale::Log, 10.0, 24_000.0),
    // spacing: fifth-octave steps from 1/16 to 4; 1, 2, 1/2 exact.
    q(3, 5, 31, Scale::Log, 0.0625, 4.0),
    // rolloff: 1 - (1 - c/15)².
    q(4, 4, 16, Scale::Warped, 0.0, 1.0),
    // t60: 5 ms to 30 s in 31 steps of 0.405 octave.
    q(5, 5, 32, Scale::Log, 0.005, 30.0),
    // brightness: 40 Hz to 40.96 kHz in two-thirds of an octave.
    q(6, 4, 16, Scale::Log, 40.0, 40_960.0),
    // closing: 10 ms to 327.68 s an octave, in octaves.
    q(7, 4, 16, Scale::Log, 0.01, 327.68),
    // noise_centre: 0, or 46.875 Hz to 24 kHz in 14 steps of 0.643 octave.
    q(8, 4, 16, Scale::LogOrZero, 46.875, 24_000.0),
    // noise_width: 20 Hz to 20.48 kHz in 7 steps of 1.43 octaves.
    q(9, 3, 8, Scale::Log, 20.0, 20_480.0),
    // attack: 0, or 1 ms to 1 s in 6 steps of a half decade.
    q(10, 3, 8, Scale::LogOrZero, 0.001, 1.0),
    // length: 0.5 ms to 5 s in 15 steps of 0.886 octave.
    q(11, 4, 16, Scale::Log, 0.0005, 5.0),
    // mix: sevenths: 0, 1/7, ..., 1.
    q(12, 3, 8, Scale::Linear, 0.0, 1.0),
];

/// Bits of the envelope (the record's top bit).
pub const ENVELOPE_BITS: u32 = 1;

const fn total_bits() -> u32 {
    let mut bits = ONSET_BITS + ENVELOPE_BITS;
    let mut i = 0;
    while i < QUANTISERS.len() {
        bits += QUANTISERS[i].bits;
        i += 1;
    }
    bits
}
const _: () = assert!(total_bits() == RECORD_BITS, "the fields must fill a record");

impl Quantiser {
    /// The field's name.
    pub fn name(&self) -> &'static str {
        FIELD_RANGES[self.field].name
    }

    /// The step between neighbouring codes: octaves for log scales, the
    /// field's unit for linear ones, the step of `1 - sqrt(1 - value)` for the
    /// warped one.
    pub fn step(&self) -> f64 {
        let (lo, hi) = (f64::from(self.lo), f64::from(self.hi));
        match self.scale {
            Scale::Log => (hi / lo).log2() / f64::from(self.codes - 1),
            Scale::LogOrZero => (hi / lo).log2() / f64::from(self.codes - 2),
            Scale::Linear => (hi - lo) / f64::from(self.codes - 1),
            Scale::Warped => 1.0 / f64::from(self.codes - 1),
        }
    }

    /// The code for `value` (clamped to the covered range first).
    pub fn encode(&self, value: f32) -> u32 {
        let (lo, hi, v) = (f64::from(self.lo), f64::from(self.hi), f64::from(value));
        let last = f64::from(self.codes - 1);
        let code = match self.scale {
            Scale::Log => ((v.clamp(lo, hi) / lo).log2() / self.step()).round(),
            Scale::LogOrZero => {
                if v < lo * (-self.step() / 2.0).exp2() {
                    0.0
                } else {
                    1.0 + ((v.clamp(lo, hi) / lo).log2() / self.step()).round()
                }
            }
            Scale::Linear => ((v.clamp(lo, hi) - lo) / self.step()).round(),
            Scale::Warped => ((1.0 - (1.0 - v.clamp(0.0, 1.0)).sqrt()) * last).round(),
        };
        // NaN (never in a valid atom) becomes code 0 rather than a panic.
        code.clamp(0.0, last) as u32
    }

    /// The value of `code`, or `None` for a code the quantiser does not use.
    pub fn decode(&self, code: u32) -> Option<f32> {
        if code >= self.codes {
            return None;
        }
        let (lo, hi, c) = (f64::from(self.lo), f64::from(self.hi), f64::from(code));
        let v = match self.scale {
            Scale::Log => lo * (c * self.step()).exp2(),
            Scale::LogOrZero if code == 0 => return Some(0.0),
            Scale::LogOrZero => lo * ((c - 1.0) * self.step()).exp2(),
            Scale::Linear => lo + c * self.step(),
            Scale::Warped => 1.0 - (1.0 - c * self.step()).powi(2),
        };
        Some(v.clamp(lo, hi) as f32)
    }

    /// `value` as written and read back.
    pub fn quantise(&self, value: f32) -> f32 {
        self.decode(self.encode(value))
            .expect("encode gives a used code")
    }
}

/// The seed a compact file gives its event `index` (in file order):
/// `index × 2654435769 mod 2³²`.
pub fn seed_for_index(index: usize) -> u32 {
    (index as u32).wrapping_mul(0x9E37_79B9)
}

/// The onset's position on the [`ONSET_UNIT`] grid.
fn onset_code(onset: f32) -> u64 {
    (f64::from(onset).clamp(0.0, f64::from(MAX_ONSET)) / ONSET_UNIT).round() as u64
}

fn onset_of(code: u64) -> f32 {
    (code as f64 * ONSET_UNIT) as f32
}

/// `atom` as a compact write and read give it back, but for the seed (which
/// the file derives from the event's position, see [`quantise_list`]).
pub fn quantise(atom: &Atom) -> Atom {
    let mut fields = atom.fields();
    fields[0] = onset_of(onset_code(atom.onset));
    for qz in &QUANTISERS {
        fields[qz.field] = qz.quantise(fields[qz.field]);
    }
    Atom::from_fields(fields, atom.envelope, atom.seed)
}

/// The order a compact file stores `events` in: by onset code, ties in
/// their given order.
fn file_order(events: &[Atom]) -> Vec<(u64, &Atom)> {
    let mut order: Vec<(u64, &Atom)> = events.iter().map(|a| (onset_code(a.onset), a)).collect();
    order.sort_by_key(|(code, _)| *code);
    order
}

/// `list` as a compact write and read give it back: events sorted by
/// (quantised) onset, fields quantised, seeds from [`seed_for_index`].
pub fn quantise_list(list: &EventList) -> EventList {
    let events = file_order(&list.events)
        .into_iter()
        .enumerate()
        .map(|(i, (_, atom))| Atom {
            seed: seed_for_index(i),
            ..quantise(atom)
        })
        .collect();
    EventList::new(list.rate, list.duration, events)
}

/// Whether a compact payload of `len` bytes can hold `count` events: whole
/// records, one per event and at most one gap record before each.
pub(crate) fn payload_size_fits(count: usize, len: usize) -> bool {
    let records = len as u64 / 8;
    len.is_multiple_of(8) && records >= count as u64 && records <= 2 * count as u64
}

/// [`payload_size_fits`] in words.
pub(crate) fn payload_size_rule(count: usize) -> String {
    format!(
        "a multiple of 8 bytes from {} to {}",
        count as u64 * 8,
        count as u64 * 16
    )
}

fn record(atom: &Atom, delta: u64) -> u64 {
    let fields = atom.fields();
    let mut word = delta;
    let mut shift = ONSET_BITS;
    for qz in &QUANTISERS {
        word |= u64::from(qz.encode(fields[qz.field])) << shift;
        shift += qz.bits;
    }
    word | u64::from(atom.envelope.code()) << shift
}

/// The compact form of a valid list.
pub(crate) fn encode(list: &EventList) -> Result<Vec<u8>, String> {
    let mut payload = Vec::with_capacity(list.events.len() * 8);
    let mut previous = 0;
    for (code, atom) in file_order(&list.events) {
        let mut delta = code - previous;
        if delta >= GAP_CODE {
            payload.extend_from_slice(&(GAP_CODE | delta << ONSET_BITS).to_le_bytes());
            delta = 0;
        }
        payload.extend_from_slice(&record(atom, delta).to_le_bytes());
        previous = code;
    }
    binary::assemble(list, Form::Compact, &payload)
}

/// One field out of a record, by bit offset and width.
fn bits_at(word: u64, shift: u32, bits: u32) -> u32 {
    ((word >> shift) & ((1 << bits) - 1)) as u32
}

fn decode_record(word: u64, onset: f32, index: usize) -> Result<Atom, String> {
    let mut fields = [0.0f32; 13];
    fields[0] = onset;
    let mut shift = ONSET_BITS;
    for qz in &QUANTISERS {
        let code = bits_at(word, shift, qz.bits);
        fields[qz.field] = qz.decode(code).ok_or_else(|| {
            format!(
                "event {index}: {} code {code} is unused (0..={})",
                qz.name(),
                qz.codes - 1
            )
        })?;
        shift += qz.bits;
    }
    let envelope = Envelope::from_code(bits_at(word, shift, ENVELOPE_BITS)).expect("one bit");
    let atom = Atom::from_fields(fields, envelope, seed_for_index(index));
    check_event(index, &atom)?;
    Ok(atom)
}

/// Decodes a compact payload whose size [`payload_size_fits`] `count`.
pub(crate) fn decode(payload: &[u8], count: usize) -> Result<Vec<Atom>, String> {
    let mut events = Vec::with_capacity(count);
    let mut time: u64 = 0;
    let mut after_gap = false;
    for (r, bytes) in payload.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        let delta = word & GAP_CODE;
        time = time.saturating_add(if delta == GAP_CODE {
            word >> ONSET_BITS
        } else {
            delta
        });
        if delta == GAP_CODE {
            if after_gap {
                return Err(format!("record {r}: a gap record follows a gap record"));
            }
            after_gap = true;
            continue;
        }
        after_gap = false;
        if events.len() == count {
            return Err(format!(
                "header says {count} events, the payload holds more"
            ));
        }
        events.push(decode_record(word, onset_of(time), events.len())?);
    }
    if after_gap {
        return Err("the last record is a gap record: a gap must precede an event".to_string());
    }
    if events.len() != count {
        return Err(format!(
            "header says {count} events, the payload holds {}",
            events.len()
        ));
    }
    Ok(events)
}
