//! Event files: an [`EventList`] (sample rate, duration, atoms) on disk.
//!
//! Three forms, specified byte by byte in `FORMAT.md`:
//! - [`Form::Exact`]: binary, every field as its f32; round-trips bit for bit;
//! - [`Form::Compact`]: binary, 64 bits an event of quantised fields (see
//!   [`compact`] for what precision each keeps);
//! - [`Form::Json`]: text for people and other tools; round-trips exactly.
//!
//! Readers detect the form from the content, check the header, the checksum
//! and every field against [`FIELD_RANGES`](crate::atoms::FIELD_RANGES), and
//! fail with the file and the problem named; they never allocate more than the
//! file's size justifies. Writers check the list first and write atomically.

mod binary;
pub mod compact;
pub mod edit;
mod json;
pub mod random;

use crate::atoms::{Atom, MAX_ONSET};
use crate::error::{Error, Result};
use std::path::Path;

/// The version this crate writes, and the newest it reads.
pub const VERSION: u16 = 1;

/// Sample rates an event file may carry, Hz (as the renderer accepts).
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// A list of atoms with the sample rate and duration it was made for.
#[derive(Clone, Debug, PartialEq)]
pub struct EventList {
    /// Sample rate of the audio the events describe, Hz.
    pub rate: u32,
    /// Length of that audio, s: the denominator of the bitrate.
    pub duration: f32,
    /// The events, in any order (a compact file stores them sorted by onset).
    pub events: Vec<Atom>,
}

/// How an event file is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Form {
    /// Binary, f32 fields: bit-for-bit round trips.
    Exact,
    /// Binary, 64 bits an event, quantised fields.
    Compact,
    /// JSON text.
    Json,
}

impl Form {
    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Form::Exact => "exact",
            Form::Compact => "compact",
            Form::Json => "json",
        }
    }

    /// JSON for a `.json` path, else `None` (binary: the caller picks the form).
    pub fn for_path(path: &Path) -> Option<Form> {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        json.then_some(Form::Json)
    }
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl EventList {
    /// A list; see [`EventList::validate`] for what a file may hold.
    pub fn new(rate: u32, duration: f32, events: Vec<Atom>) -> Self {
        EventList {
            rate,
            duration,
            events,
        }
    }

    /// Events per second of audio.
    pub fn events_per_second(&self) -> f64 {
        self.events.len() as f64 / f64::from(self.duration)
    }

    /// Fails unless the list can be written: a rate in [`RATE_RANGE`], a
    /// duration in (0, [`MAX_ONSET`]] s, every atom field in its range.
    pub fn validate(&self) -> Result<()> {
        self.check()
            .map_err(|reason| Error::invalid("event list", reason))
    }

    /// What [`EventList::validate`] finds wrong, as a message.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        check_header(self.rate, self.duration)?;
        if self.events.len() > u32::MAX as usize {
            return Err(format!(
                "{} events: at most {}",
                self.events.len(),
                u32::MAX
            ));
        }
        match self
            .events
            .iter()
            .enumerate()
            .find_map(|(i, a)| a.out_of_range().map(|m| format!("event {i}: {m}")))
        {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    /// The file contents in `form`. Fails if the list is invalid.
    pub fn to_bytes(&self, form: Form) -> Result<Vec<u8>> {
        self.validate()?;
        let bytes = match form {
            Form::Exact => binary::encode_exact(self),
            Form::Compact => compact::encode(self),
            Form::Json => json::encode(self),
        };
        bytes.map_err(|reason| Error::invalid("event list", reason))
    }

    /// Decodes file contents of any form (detected from the content).
    pub fn from_bytes(bytes: &[u8]) -> Result<(EventList, Form)> {
        decode(bytes).map_err(|reason| Error::Events {
            path: "<bytes>".into(),
            reason,
        })
    }
}

/// The header fields every form carries, checked.
pub(crate) fn check_header(rate: u32, duration: f32) -> std::result::Result<(), String> {
    if !RATE_RANGE.contains(&rate) {
        return Err(format!(
            "sample rate {rate} Hz is outside {}..={}",
            RATE_RANGE.start(),
            RATE_RANGE.end()
        ));
    }
    if !(duration > 0.0 && duration <= MAX_ONSET) {
        return Err(format!("duration {duration} s is outside (0, {MAX_ONSET}]"));
    }
    Ok(())
}

/// Checks a decoded atom, naming the event.
pub(crate) fn check_event(index: usize, atom: &Atom) -> std::result::Result<(), String> {
    atom.out_of_range()
        .map_or(Ok(()), |m| Err(format!("event {index}: {m}")))
}

/// Decodes any form, detected from the first bytes.
fn decode(bytes: &[u8]) -> std::result::Result<(EventList, Form), String> {
    if bytes.starts_with(&binary::MAGIC) {
        return binary::decode(bytes);
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => json::decode(bytes).map(|list| (list, Form::Json)),
        None => Err("the file is empty".to_string()),
        Some(_) => {
            let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
            Err(format!(
                "not a wavesplat event file: it starts with bytes {} (binary files start with \"WSPL\", JSON ones with '{{')",
                head.join(" ")
            ))
        }
    }
}

/// Reads an event file of any form.
pub fn read(path: &Path) -> Result<EventList> {
    read_with_form(path).map(|(list, _)| list)
}

/// Reads an event file and says which form it was in.
pub fn read_with_form(path: &Path) -> Result<(EventList, Form)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes).map_err(|reason| Error::Events {
        path: path.to_path_buf(),
        reason,
    })
}

/// Writes `list` to `path` in `form`, atomically. Fails, writing nothing, if
/// the list is invalid.
pub fn write(path: &Path, list: &EventList, form: Form) -> Result<()> {
    let bytes = list.to_bytes(form).map_err(|e| match e {
        Error::InvalidParameter { reason, .. } => Error::Events {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    crate::fsutil::write_atomically(path, |w| {
        std::io::Write::write_all(w, &bytes).map_err(|e| Error::io(path, e))
    })
}
