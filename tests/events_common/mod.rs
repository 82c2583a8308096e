//! Random valid event lists over the whole field ranges, shared by the
//! event-file tests.
#![allow(dead_code)] // each test binary uses a different subset

use crate::common::Rng;
use wavesplat::atoms::{Atom, Envelope, FIELD_RANGES};
use wavesplat::events::EventList;

/// A value of field `k` anywhere in its range, ends and tiny values included.
pub fn random_field(rng: &mut Rng, k: usize) -> f32 {
    let r = FIELD_RANGES[k];
    let (lo, hi) = (f64::from(r.min), f64::from(r.max));
    let v = match rng.range(0, 9) {
        0 => lo,
        1 => hi,
        2 if lo == 0.0 => -0.0,
        _ if lo == 0.0 => hi * 1e-7f64.powf(rng.uniform()),
        _ => lo * (hi / lo).powf(rng.uniform()),
    };
    (v as f32).clamp(r.min, r.max)
}

/// A valid atom with every field drawn over its whole range.
pub fn random_atom(rng: &mut Rng) -> Atom {
    let fields = std::array::from_fn(|k| random_field(rng, k));
    let envelope = if rng.range(0, 1) == 0 {
        Envelope::Gaussian
    } else {
        Envelope::Gamma
    };
    let atom = Atom::from_fields(fields, envelope, rng.next_u64() as u32);
    atom.validate().unwrap();
    atom
}

pub fn random_list(rng: &mut Rng, count: usize) -> EventList {
    let events = (0..count).map(|_| random_atom(rng)).collect();
    let duration = (1.0 + 100.0 * rng.uniform()) as f32;
    EventList::new(rng.range(8_000, 192_000) as u32, duration, events)
}

/// The bits of everything in a list, to compare exactly (-0.0 vs 0.0 too).
pub fn bits(list: &EventList) -> Vec<u32> {
    let mut out = vec![list.rate, list.duration.to_bits()];
    for a in &list.events {
        out.extend(a.fields().map(f32::to_bits));
        out.extend([a.envelope.code(), a.seed]);
    }
    out
}
