//! Random event lists with musically plausible parameters, for benchmarks and
//! tests: deterministic for a given seed.

use super::EventList;
use crate::atoms::{MAX_ONSET, random_atoms};
use crate::error::{Error, Result};

/// `count` random valid atoms over `seconds` s at `rate` Hz, sorted by onset
/// ([`random_atoms`]: the benchmarks' distribution).
pub fn random(count: usize, seconds: f32, rate: u32, seed: u64) -> Result<EventList> {
    if !(seconds > 0.0 && seconds <= MAX_ONSET) {
        return Err(Error::invalid(
            "seconds",
            format!("{seconds}: use a duration in (0, {MAX_ONSET}] s"),
        ));
    }
    let events = random_atoms(count, f64::from(seconds), seed);
    let list = EventList::new(rate, seconds, events);
    list.validate()?;
    Ok(list)
}
