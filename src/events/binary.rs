//! The binary container: the header both binary forms share, and the exact
//! form's payload. Layout in `FORMAT.md`; everything little-endian.

use super::{EventList, Form, VERSION, check_event, check_header, compact};
use crate::atoms::{Atom, Envelope};

/// First four bytes of every binary event file.
pub(crate) const MAGIC: [u8; 4] = *b"WSPL";
/// Bytes before the payload.
pub(crate) const HEADER_BYTES: usize = 28;
/// Bytes of one exact event: 13 f32 fields, the envelope code, the seed.
pub(crate) const EXACT_EVENT_BYTES: usize = 13 * 4 + 1 + 4;
/// Where the checksum sits in the header (it covers what is before and the payload).
const CRC_AT: usize = 24;

/// The header's form codes.
fn form_code(form: Form) -> u8 {
    match form {
        Form::Exact => 0,
        Form::Compact => 1,
        Form::Json => unreachable!("JSON has no binary header"),
    }
}

/// A whole binary file: the header for `payload`, then the payload.
pub(crate) fn assemble(list: &EventList, form: Form, payload: &[u8]) -> Result<Vec<u8>, String> {
    let payload_len = u32::try_from(payload.len())
        .map_err(|_| format!("{} payload bytes: at most {}", payload.len(), u32::MAX))?;
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(form_code(form));
    out.push(0); // flags: none defined in version 1
    out.extend_from_slice(&list.rate.to_le_bytes());
    out.extend_from_slice(&list.duration.to_le_bytes());
    out.extend_from_slice(&(list.events.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload_len.to_le_bytes());
    let crc = checksum(&out, payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// CRC-32 (IEEE, as zlib and PNG) of the header before the checksum field and the payload.
pub(crate) fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[..CRC_AT]);
    hasher.update(payload);
    hasher.finalize()
}

/// The exact form of a valid list.
pub(crate) fn encode_exact(list: &EventList) -> Result<Vec<u8>, String> {
    let mut payload = Vec::with_capacity(list.events.len() * EXACT_EVENT_BYTES);
    for atom in &list.events {
        for v in atom.fields() {
            payload.extend_from_slice(&v.to_le_bytes());
        }
        payload.push(atom.envelope.code() as u8);
        payload.extend_from_slice(&atom.seed.to_le_bytes());
    }
    assemble(list, Form::Exact, &payload)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The header, checked against the bytes that follow it.
struct Header {
    form: Form,
    rate: u32,
    duration: f32,
    count: usize,
}

fn parse_header(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
    if bytes.len() < HEADER_BYTES {
        return Err(format!(
            "truncated: the header needs {HEADER_BYTES} bytes, the file has {}",
            bytes.len()
        ));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version == 0 {
        return Err("version 0 is not a wavesplat event file version".to_string());
    }
    if version > VERSION {
        return Err(format!(
            "version {version} is newer than this reader ({VERSION}): update wavesplat"
        ));
    }
    let form = match bytes[6] {
        0 => Form::Exact,
        1 => Form::Compact,
        code => return Err(format!("unknown form code {code} (0: exact, 1: compact)")),
    };
    if bytes[7] != 0 {
        return Err(format!(
            "unknown flags 0x{:02x}: version {VERSION} defines none",
            bytes[7]
        ));
    }
    let rate = u32_at(bytes, 8);
    let duration = f32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
    let count = u32_at(bytes, 16) as usize;
    let payload_len = u32_at(bytes, 20) as usize;
    // Sizes are checked before anything is allocated for the events.
    check_payload_size(form, count, payload_len)?;
    let payload = &bytes[HEADER_BYTES..];
    if payload.len() < payload_len {
        return Err(format!(
            "truncated: header says {count} events ({payload_len} bytes), {} bytes follow",
            payload.len()
        ));
    }
    if payload.len() > payload_len {
        return Err(format!(
            "{} bytes of unknown data after the {payload_len}-byte payload the header announces",
            payload.len() - payload_len
        ));
    }
    let stored = u32_at(bytes, CRC_AT);
    let computed = checksum(bytes, payload);
    if stored != computed {
        return Err(format!(
            "checksum mismatch (stored {stored:08x}, computed {computed:08x}): the file is corrupt"
        ));
    }
    check_header(rate, duration)?;
    let header = Header {
        form,
        rate,
        duration,
        count,
    };
    Ok((header, payload))
}

/// Fails unless a payload of `len` bytes can hold `count` events in `form`.
fn check_payload_size(form: Form, count: usize, len: usize) -> Result<(), String> {
    let ok = match form {
        Form::Exact => count as u64 * EXACT_EVENT_BYTES as u64 == len as u64,
        Form::Compact => compact::payload_size_fits(count, len),
        Form::Json => unreachable!("JSON has no binary header"),
    };
    if ok {
        return Ok(());
    }
    let expected = match form {
        Form::Exact => format!("{} bytes", count as u64 * EXACT_EVENT_BYTES as u64),
        _ => compact::payload_size_rule(count),
    };
    Err(format!(
        "header says {count} {form} events but a {len}-byte payload ({form} events need {expected})"
    ))
}

/// Decodes a binary file (its first four bytes are [`MAGIC`]).
pub(crate) fn decode(bytes: &[u8]) -> Result<(EventList, Form), String> {
    let (header, payload) = parse_header(bytes)?;
    let events = match header.form {
        Form::Exact => decode_exact(payload)?,
        _ => compact::decode(payload, header.count)?,
    };
    let list = EventList::new(header.rate, header.duration, events);
    Ok((list, header.form))
}

fn decode_exact(payload: &[u8]) -> Result<Vec<Atom>, String> {
    let mut events = Vec::with_capacity(payload.len() / EXACT_EVENT_BYTES);
    for (index, record) in payload.chunks_exact(EXACT_EVENT_BYTES).enumerate() {
        let mut fields = [0.0f32; 13];
        for (k, v) in fields.iter_mut().enumerate() {
            *v = f32::from_le_bytes(record[4 * k..4 * k + 4].try_into().expect("4 bytes"));
        }
        let code = record[52];
        let envelope = Envelope::from_code(u32::from(code)).ok_or_else(|| {
            format!("event {index}: envelope code {code} is not 0 (gaussian) or 1 (gamma)")
        })?;
        let atom = Atom::from_fields(fields, envelope, u32_at(record, 53));
        check_event(index, &atom)?;
        events.push(atom);
    }
    Ok(events)
}
