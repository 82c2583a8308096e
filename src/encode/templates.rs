//! Rendered magnitude templates: what an atom really looks like on the
//! analysis grid. Chosen atoms are rendered at unit amplitude, each in its own
//! slot of one output (one render and one batched STFT for all of them), and
//! their STFT magnitudes give the least-squares amplitude and the local
//! residual update.

use super::Backend;
use super::dictionary::{HOP, N_FFT};
use crate::atoms::{self, Atom, PreparedAtoms};
use crate::error::Result;
use crate::stft::{self, SpectrumFormat, StftConfig};
use std::ops::Range;

/// Frames of reflect padding at a slot's start (the centre framing's half window).
const PAD_FRAMES: usize = N_FFT / 2 / HOP;
/// Longest stretch of an atom a template covers, s: later it is more than 50 dB down.
const MAX_TEMPLATE_SECONDS: f64 = 4.0;

/// The analysis grid a residual lives on: frame `f` is centred on sample
/// `origin + f·HOP` of the whole signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub origin: usize,
    pub frames: usize,
}

/// One atom's unit-amplitude magnitude on frames `[first, first + frames)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub first: usize,
    pub frames: usize,
    /// `frames x bins`, row-major.
    pub data: Vec<f32>,
}

/// The analysis configuration (magnitude output).
pub fn analysis_config() -> StftConfig {
    StftConfig::new(N_FFT, HOP).with_format(SpectrumFormat::Magnitude)
}

/// Magnitude spectrogram of `signal` (frames x bins).
pub fn magnitudes(backend: &Backend, signal: &[f32]) -> Result<Vec<f32>> {
    let cfg = analysis_config();
    let spec = match backend {
        Backend::Gpu(ctx) => stft::gpu::stft(ctx, &[signal], &cfg)?,
        Backend::Cpu => stft::cpu::stft(&[signal], &cfg, 0)?,
    };
    Ok(spec.data)
}

/// How many samples of an atom its template covers: until its resonance is
/// about 50 dB down (tones) or its burst 6 time constants on (noise).
fn covered_samples(atom: &Atom, rendered: u32, rate: u32) -> u32 {
    let seconds = if atom.mix > 0.0 {
        atom.attack as f64 + 0.85 * atom.t60 as f64 + 0.02
    } else {
        atom.attack as f64 + 6.0 * atom.length as f64 + 0.01
    };
    let samples = (seconds.min(MAX_TEMPLATE_SECONDS) * rate as f64).ceil() as u32;
    rendered.min(samples.max(1))
}

/// Unit-amplitude templates of `atoms` (onsets on the whole signal's time
/// line, none before `grid.origin`) on `grid`; an atom that misses the grid
/// gets an empty template.
pub fn render_templates(
    backend: &Backend,
    atoms: &[Atom],
    rate: u32,
    grid: &Grid,
) -> Result<Vec<Template>> {
    let unit: Vec<Atom> = atoms
        .iter()
        .map(|a| Atom {
            amplitude: 1.0,
            ..*a
        })
        .collect();
    let mut prepared = atoms::prepare(&unit, rate)?;
    // Frames each atom touches, and the slot that holds them.
    let spans: Vec<(usize, usize)> = prepared
        .atoms
        .iter_mut()
        .zip(&unit)
        .map(|(p, atom)| {
            p.len = covered_samples(atom, p.len, rate);
            p.burst_end = p.burst_end.min(p.len);
            frame_span(p.start as usize, p.len as usize, grid)
        })
        .collect();
    let longest = spans.iter().map(|(a, b)| b - a).max().unwrap_or(0);
    if longest == 0 {
        return Ok(spans.iter().map(|_| empty()).collect());
    }
    let slot = (longest - 1) * HOP + N_FFT;
    for (j, (p, &(first, _))) in prepared.atoms.iter_mut().zip(&spans).enumerate() {
        // Slot j starts at the sample half a window before frame `first`'s centre.
        let slot_origin = grid.origin + first * HOP;
        let offset = (p.start as usize + PAD_FRAMES * HOP).saturating_sub(slot_origin);
        p.start = (j * slot + offset) as u32;
        if p.start as usize >= (j + 1) * slot {
            p.len = 0;
        } else {
            p.len = p.len.min(((j + 1) * slot) as u32 - p.start);
        }
        p.burst_end = p.burst_end.min(p.len);
    }
    let signal = render(backend, &prepared, atoms.len() * slot)?;
    let slots: Vec<&[f32]> = signal.chunks(slot).collect();
    let cfg = analysis_config();
    let spec = match backend {
        Backend::Gpu(ctx) => stft::gpu::stft(ctx, &slots, &cfg)?,
        Backend::Cpu => stft::cpu::stft(&slots, &cfg, 0)?,
    };
    let bins = cfg.bins();
    Ok(spans
        .iter()
        .enumerate()
        .map(|(j, &(first, end))| {
            let frames = end - first;
            let data = spec.signal(j)[PAD_FRAMES * bins..][..frames * bins].to_vec();
            Template {
                first,
                frames,
                data,
            }
        })
        .collect())
}

fn empty() -> Template {
    Template {
        first: 0,
        frames: 0,
        data: Vec::new(),
    }
}

/// Frames `[first, end)` of `grid` whose windows overlap samples `[start, start + len)`.
fn frame_span(start: usize, len: usize, grid: &Grid) -> (usize, usize) {
    let half = (N_FFT / 2) as i64;
    let origin = grid.origin as i64;
    let hop = HOP as i64;
    let first = ((start as i64 - half - origin).div_euclid(hop) + 1).clamp(0, grid.frames as i64);
    let end = ((start as i64 + len as i64 + half - origin + hop - 1).div_euclid(hop))
        .clamp(first, grid.frames as i64);
    (first as usize, end as usize)
}

/// Renders prepared atoms into `samples` samples on the backend.
pub fn render(backend: &Backend, prepared: &PreparedAtoms, samples: usize) -> Result<Vec<f32>> {
    match backend {
        Backend::Gpu(ctx) => atoms::gpu::render_prepared(ctx, prepared, samples),
        Backend::Cpu => Ok(atoms::cpu::render_prepared(prepared, samples, 0)
            .into_iter()
            .map(|v| v as f32)
            .collect()),
    }
}

/// The sum of `atoms` (onsets on the whole signal's time line) over samples
/// `span`, or `None` if none of them sounds there. Only the atoms that sound
/// in the span are rendered, from the earliest one's start, so the cost
/// follows the span, not the signal's length. The others stay in the table
/// with no samples: the renderer's grouping of atoms, and so every sum, is
/// that of a render of them all from sample 0.
pub fn render_span(
    backend: &Backend,
    atoms: &[Atom],
    rate: u32,
    span: Range<usize>,
) -> Result<Option<Vec<f32>>> {
    let mut prepared = atoms::prepare(atoms, rate)?;
    let sounds = |a: &atoms::prepare::GpuAtom| {
        let start = a.start as usize;
        start < span.end && start + a.len as usize > span.start
    };
    let Some(from) = prepared
        .atoms
        .iter()
        .filter(|a| sounds(a))
        .map(|a| a.start as usize)
        .min()
    else {
        return Ok(None);
    };
    let from = from.min(span.start);
    for a in &mut prepared.atoms {
        if sounds(a) {
            a.start -= from as u32;
        } else {
            a.len = 0;
            a.burst_end = 0;
        }
    }
    let mut rendered = render(backend, &prepared, span.end - from)?;
    rendered.drain(..span.start - from);
    Ok(Some(rendered))
}

/// Least-squares multiple of `template` that fits `residual` (`frames x
/// bins` on the same grid): `<R, T> / <T, T>`, 0 for an empty template.
pub fn least_squares(residual: &[f32], bins: usize, template: &Template) -> f64 {
    let r = &residual[template.first * bins..][..template.frames * bins];
    let (mut rt, mut tt) = (0.0f64, 0.0f64);
    for (&x, &t) in r.iter().zip(&template.data) {
        rt += x as f64 * t as f64;
        tt += t as f64 * t as f64;
    }
    if tt > 0.0 { (rt / tt).max(0.0) } else { 0.0 }
}

/// `residual -= amplitude · template`, clamped at zero.
pub fn subtract(residual: &mut [f32], bins: usize, template: &Template, amplitude: f32) {
    let r = &mut residual[template.first * bins..][..template.frames * bins];
    for (x, &t) in r.iter_mut().zip(&template.data) {
        *x = (*x - amplitude * t).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_span_covers_the_overlapping_windows() {
        let grid = Grid {
            origin: 0,
            frames: 100,
        };
        // Samples [2048, 2048 + 256): frame centres from 2048 - 1023 to 2048 + 256 + 1023.
        let (first, end) = frame_span(2048, 256, &grid);
        assert_eq!((first, end), (5, 13));
        assert!(first * HOP + N_FFT / 2 > 2048 && (first - 1) * HOP + N_FFT / 2 <= 2048);
        assert!((end - 1) * HOP < 2048 + 256 + N_FFT / 2 && end * HOP >= 2048 + 256 + N_FFT / 2);
        assert_eq!(frame_span(0, 10, &grid).0, 0);
        assert_eq!(frame_span(1_000_000, 10, &grid), (100, 100));
    }
}
