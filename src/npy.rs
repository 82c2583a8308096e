//! NumPy `.npy` files: little-endian `float32` (`<f4`) and `complex64` (`<c8`)
//! arrays in C order, so that anything wavesplat computes can be opened with
//! `numpy.load` and anything numpy saves can be read back.
//!
//! Files are written in format version 1.0 (2.0 when the header would not fit
//! in 65535 bytes) with exactly the header numpy itself writes, padded so the
//! data starts at a multiple of 64 bytes. The readers accept versions 1.0, 2.0
//! and 3.0, any key order and spacing in the header dictionary, and check the
//! file length against the shape before allocating anything.

use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy aligns the start of the data to this many bytes.
const ALIGN: usize = 64;
/// numpy leaves room for the first axis to grow to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Largest header the readers accept; numpy's own limit is 10000 bytes.
const MAX_HEADER_LEN: usize = 1 << 20;
/// Elements converted per chunk while streaming data in or out.
const CHUNK: usize = 1 << 14;

/// An element type with a fixed little-endian byte layout.
trait Element: Copy {
    const DESCR: &'static str;
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(bytes: &[u8]) -> Self;
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl Element for [f32; 2] {
    const DESCR: &'static str = "<c8";
    const SIZE: usize = 8;
    fn put(self, out: &mut Vec<u8>) {
        self[0].put(out);
        self[1].put(out);
    }
    fn get(b: &[u8]) -> Self {
        [f32::get(&b[..4]), f32::get(&b[4..8])]
    }
}

/// Writes a `float32` array of the given shape (C order) to `path`.
///
/// Fails with [`Error::InvalidParameter`] when the product of `shape` is not
/// `data.len()`. An empty `shape` writes a 0-d array holding one value.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    write_array(path, shape, data)
}

/// Writes a `complex64` array of the given shape (C order) to `path`; each
/// element is `[re, im]`.
///
/// Fails with [`Error::InvalidParameter`] when the product of `shape` is not
/// `data.len()`.
pub fn write_complex64(path: &Path, shape: &[usize], data: &[[f32; 2]]) -> Result<()> {
    write_array(path, shape, data)
}

/// Reads a `float32` (`<f4`) array: its shape and its values in C order.
pub fn read_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    read_array(path)
}

/// Reads a `complex64` (`<c8`) array: its shape and its `[re, im]` values in
/// C order.
pub fn read_complex64(path: &Path) -> Result<(Vec<usize>, Vec<[f32; 2]>)> {
    read_array(path)
}

/// The complete preamble numpy writes for an array: magic, version, header
/// length, the header dictionary, space padding and a final newline.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_repr(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    let (major, prefix) = if padded_len(dict.len(), 10) - 10 <= u16::MAX as usize {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let total = padded_len(dict.len(), prefix);
    let header_len = total - prefix;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header_len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

/// Total preamble length as numpy computes it: prefix, dictionary and newline,
/// then 1 to [`ALIGN`] bytes of padding (a whole block when already aligned).
fn padded_len(dict_len: usize, prefix: usize) -> usize {
    ((prefix + dict_len + 1) / ALIGN + 1) * ALIGN
}

/// Python's `repr` of a shape tuple: `()`, `(5,)`, `(3, 4)`.
fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|n| n.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n))
}

fn write_array<T: Element>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    match element_count(shape) {
        Some(n) if n == data.len() => {}
        _ => {
            return Err(Error::invalid(
                "shape",
                format!(
                    "shape {shape:?} does not hold the {} values given for {}",
                    data.len(),
                    path.display()
                ),
            ));
        }
    }
    let header = header_bytes(T::DESCR, shape);
    write_atomically(path, |w| {
        w.write_all(&header).map_err(|e| Error::io(path, e))?;
        let mut buf = Vec::with_capacity(CHUNK * T::SIZE);
        for chunk in data.chunks(CHUNK) {
            buf.clear();
            chunk.iter().for_each(|&x| x.put(&mut buf));
            w.write_all(&buf).map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    })
}

/// A decode error naming the file.
fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Npy {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// What the header dictionary says.
#[derive(Debug, Default)]
struct Header {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

fn read_array<T: Element>(path: &Path) -> Result<(Vec<usize>, Vec<T>)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let (text, data_offset) = read_header_text(path, &mut reader, file_len)?;
    let header = parse_header(&text).map_err(|reason| bad(path, reason))?;
    let shape = check_header::<T>(path, header)?;
    let count = element_count(&shape)
        .filter(|n| n.checked_mul(T::SIZE).is_some())
        .ok_or_else(|| bad(path, format!("shape {shape:?} is too large")))?;
    let expected = (count * T::SIZE) as u64;
    let actual = file_len - data_offset;
    if actual != expected {
        let what = if actual < expected {
            "truncated"
        } else {
            "has trailing bytes"
        };
        return Err(bad(
            path,
            format!("{what}: shape {shape:?} needs {expected} data bytes, the file holds {actual}"),
        ));
    }
    let data = read_elements(path, &mut reader, count)?;
    Ok((shape, data))
}

/// Reads magic, version and the header string; returns it with the data offset.
fn read_header_text(path: &Path, r: &mut impl Read, file_len: u64) -> Result<(String, u64)> {
    let mut pre = [0u8; 8];
    read_exact(path, r, &mut pre, "the magic string")?;
    if &pre[..6] != MAGIC {
        return Err(bad(path, "missing the \\x93NUMPY magic string"));
    }
    let (major, minor) = (pre[6], pre[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(bad(
                path,
                format!("unsupported format version {major}.{minor}"),
            ));
        }
    };
    let mut len_buf = [0u8; 4];
    read_exact(path, r, &mut len_buf[..len_bytes], "the header length")?;
    let header_len = u32::from_le_bytes(len_buf) as usize;
    let data_offset = (8 + len_bytes + header_len) as u64;
    if header_len > MAX_HEADER_LEN || data_offset > file_len {
        return Err(bad(
            path,
            format!("header length {header_len} runs past the end of the file"),
        ));
    }
    let mut header = vec![0u8; header_len];
    read_exact(path, r, &mut header, "the header")?;
    let text = String::from_utf8(header).map_err(|_| bad(path, "the header is not UTF-8 text"))?;
    Ok((text, data_offset))
}

fn read_exact(path: &Path, r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad(path, format!("file ends inside {what}")),
        _ => Error::io(path, e),
    })
}

/// Checks dtype and order; returns the shape.
fn check_header<T: Element>(path: &Path, h: Header) -> Result<Vec<usize>> {
    let descr = h
        .descr
        .ok_or_else(|| bad(path, "the header has no 'descr'"))?;
    if descr != T::DESCR {
        return Err(bad(
            path,
            format!("dtype '{descr}' is not the expected '{}'", T::DESCR),
        ));
    }
    match h.fortran_order {
        Some(false) => {}
        Some(true) => return Err(bad(path, "Fortran-order arrays are not supported")),
        None => return Err(bad(path, "the header has no 'fortran_order'")),
    }
    h.shape
        .ok_or_else(|| bad(path, "the header has no 'shape'"))
}

fn read_elements<T: Element>(path: &Path, r: &mut impl Read, count: usize) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(count);
    let mut buf = vec![0u8; CHUNK.min(count.max(1)) * T::SIZE];
    while out.len() < count {
        let n = (count - out.len()).min(CHUNK);
        let bytes = &mut buf[..n * T::SIZE];
        read_exact(path, r, bytes, "the data")?;
        out.extend(bytes.chunks_exact(T::SIZE).map(T::get));
    }
    Ok(out)
}

/// Parses the Python dict literal of a `.npy` header.
fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut h = Header::default();
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => h.descr = Some(p.string()?),
            "fortran_order" => h.fortran_order = Some(p.boolean()?),
            "shape" => h.shape = Some(p.tuple()?),
            other => return Err(format!("unexpected header key '{other}'")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.skip_ws();
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err("unexpected text after the header dictionary".to_string());
    }
    Ok(h)
}

/// A cursor over the header text.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&c);
        self.i += hit as usize;
        hit
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            return Ok(());
        }
        Err(format!(
            "expected '{}' at byte {} of the header",
            c as char, self.i
        ))
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "expected a quoted string at byte {} of the header",
                    self.i
                ));
            }
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or("unterminated string in the header")?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn boolean(&mut self) -> std::result::Result<bool, String> {
        for (word, value) in [("True", true), ("False", false)] {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                return Ok(value);
            }
        }
        Err(format!(
            "expected True or False at byte {} of the header",
            self.i
        ))
    }

    fn tuple(&mut self) -> std::result::Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            dims.push(self.integer()?);
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }

    fn integer(&mut self) -> std::result::Result<usize, String> {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        // Python 2 era files may write long integers as `3L`.
        self.eat(b'L');
        digits
            .parse()
            .map_err(|_| format!("expected a dimension at byte {start} of the header"))
    }
}
