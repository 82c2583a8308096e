//! Edits on whole event lists: transpose, time-stretch, gain, dropping quiet
//! events. A scaled field that would leave its range is clamped to it; each
//! edit returns how many values it clamped, so a caller can say so.

use super::EventList;
use crate::atoms::{Atom, FIELD_RANGES, MAX_ONSET};
use crate::error::{Error, Result};

/// Field indices (in [`Atom::fields`] order) that move with pitch.
const PITCH_FIELDS: [usize; 3] = [2, 6, 8]; // f0, brightness, noise_centre
/// Field indices that are times: onset, t60, closing, attack, length.
const TIME_FIELDS: [usize; 5] = [0, 5, 7, 10, 11];
/// Index of amplitude.
const AMPLITUDE: usize = 1;

/// Multiplies `fields` of every event by `factor`, clamping to the ranges;
/// returns how many values were clamped.
fn scale_fields(list: &mut EventList, fields: &[usize], factor: f32) -> usize {
    let mut clamped = 0;
    for atom in &mut list.events {
        let mut values = atom.fields();
        for &k in fields {
            let r = FIELD_RANGES[k];
            let scaled = values[k] * factor;
            values[k] = scaled.clamp(r.min, r.max);
            clamped += usize::from(values[k] != scaled);
        }
        *atom = Atom::from_fields(values, atom.envelope, atom.seed);
    }
    clamped
}

fn finite(name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("{value}: give a finite number"),
        ))
    }
}

/// Transposes by `semitones`: f0, brightness and noise centre × 2^(s/12).
/// Returns how many values were clamped to their ranges.
pub fn transpose(list: &mut EventList, semitones: f32) -> Result<usize> {
    finite("transpose", semitones)?;
    let factor = (semitones / 12.0).exp2();
    Ok(scale_fields(list, &PITCH_FIELDS, factor))
}

/// Stretches time by `factor`: onsets, t60, closing, attack, length and the
/// duration. Returns how many values were clamped to their ranges.
pub fn stretch(list: &mut EventList, factor: f32) -> Result<usize> {
    finite("stretch", factor)?;
    let duration = list.duration * factor;
    if !(factor > 0.0 && duration > 0.0 && duration <= MAX_ONSET) {
        return Err(Error::invalid(
            "stretch",
            format!(
                "{factor}: the factor must be positive and keep the duration ({} s) within (0, {MAX_ONSET}] s",
                list.duration
            ),
        ));
    }
    list.duration = duration;
    Ok(scale_fields(list, &TIME_FIELDS, factor))
}

/// Changes every amplitude by `db` decibels. Returns how many were clamped.
pub fn gain(list: &mut EventList, db: f32) -> Result<usize> {
    finite("gain", db)?;
    let factor = 10f32.powf(db / 20.0);
    Ok(scale_fields(list, &[AMPLITUDE], factor))
}

/// Level of an amplitude in dB re 1.0 (-inf for 0).
pub fn amplitude_db(amplitude: f32) -> f32 {
    20.0 * amplitude.log10()
}

/// Removes events whose amplitude is below `db` decibels re 1.0 (a silent
/// event is at -inf dB). Returns how many were removed.
pub fn drop_below(list: &mut EventList, db: f32) -> Result<usize> {
    if db.is_nan() {
        return Err(Error::invalid("drop-below", "NaN: give a level in dB"));
    }
    let before = list.events.len();
    list.events.retain(|a| amplitude_db(a.amplitude) >= db);
    Ok(before - list.events.len())
}
