//! The JSON form: a header object and one object an event, with the atom's
//! fields by name. Numbers are written as the shortest decimal that reads back
//! to the same f32, so the form round-trips exactly.

use super::{EventList, VERSION, check_event, check_header};
use crate::atoms::{Atom, Envelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The value of the `format` key.
pub(crate) const FORMAT: &str = "wavesplat-events";

/// An event as JSON: [`Atom`]'s fields, nothing else allowed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    onset: f32,
    amplitude: f32,
    f0: f32,
    spacing: f32,
    rolloff: f32,
    t60: f32,
    brightness: f32,
    closing: f32,
    noise_centre: f32,
    noise_width: f32,
    attack: f32,
    length: f32,
    mix: f32,
    envelope: Envelope,
    seed: u32,
}

impl From<&Atom> for JsonEvent {
    fn from(a: &Atom) -> Self {
        JsonEvent {
            onset: a.onset,
            amplitude: a.amplitude,
            f0: a.f0,
            spacing: a.spacing,
            rolloff: a.rolloff,
            t60: a.t60,
            brightness: a.brightness,
            closing: a.closing,
            noise_centre: a.noise_centre,
            noise_width: a.noise_width,
            attack: a.attack,
            length: a.length,
            mix: a.mix,
            envelope: a.envelope,
            seed: a.seed,
        }
    }
}

impl From<JsonEvent> for Atom {
    fn from(e: JsonEvent) -> Self {
        Atom {
            onset: e.onset,
            amplitude: e.amplitude,
            f0: e.f0,
            spacing: e.spacing,
            rolloff: e.rolloff,
            t60: e.t60,
            brightness: e.brightness,
            closing: e.closing,
            noise_centre: e.noise_centre,
            noise_width: e.noise_width,
            attack: e.attack,
            length: e.length,
            mix: e.mix,
            envelope: e.envelope,
            seed: e.seed,
        }
    }
}

/// The top-level object, events still unparsed (so errors can name the event).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFile {
    #[allow(dead_code)] // checked before this struct is parsed
    format: String,
    #[allow(dead_code)] // checked before this struct is parsed
    version: u64,
    sample_rate: u32,
    duration: f32,
    events: Vec<Value>,
}

/// The JSON form of a valid list: the header keys, then one event a line.
pub(crate) fn encode(list: &EventList) -> Result<Vec<u8>, String> {
    let number = |v: f32| serde_json::to_string(&v).expect("finite f32 serialises");
    let mut out = format!(
        "{{\n  \"format\": \"{FORMAT}\",\n  \"version\": {VERSION},\n  \"sample_rate\": {},\n  \"duration\": {},\n  \"events\": [",
        list.rate,
        number(list.duration)
    );
    for (i, atom) in list.events.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        let event = serde_json::to_string(&JsonEvent::from(atom)).expect("an event serialises");
        out.push_str(&event);
    }
    out.push_str(if list.events.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    });
    Ok(out.into_bytes())
}

/// Checks `format` and `version` before anything else, so a newer file is
/// reported as newer rather than as holding unknown keys.
fn check_format(value: &Value) -> Result<(), String> {
    let object = value
        .as_object()
        .ok_or("the JSON is not an object with \"format\", \"version\", ...")?;
    match object.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => return Err(format!("format is {other:?}, not \"{FORMAT}\"")),
        None => return Err(format!("no \"format\": \"{FORMAT}\" key")),
    }
    match object.get("version").and_then(Value::as_u64) {
        Some(v) if v > u64::from(VERSION) => Err(format!(
            "version {v} is newer than this reader ({VERSION}): update wavesplat"
        )),
        Some(0) => Err("version 0 is not a wavesplat event file version".to_string()),
        Some(_) => Ok(()),
        None => Err("no \"version\" key with a whole number".to_string()),
    }
}

/// Decodes the JSON form.
pub(crate) fn decode(bytes: &[u8]) -> Result<EventList, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    check_format(&value)?;
    let file: JsonFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    check_header(file.sample_rate, file.duration)?;
    // Grown event by event: a long array of non-events fails at its first.
    let mut events = Vec::new();
    for (index, event) in file.events.into_iter().enumerate() {
        let event: JsonEvent =
            serde_json::from_value(event).map_err(|e| format!("event {index}: {e}"))?;
        let atom = Atom::from(event);
        check_event(index, &atom)?;
        events.push(atom);
    }
    Ok(EventList::new(file.sample_rate, file.duration, events))
}
