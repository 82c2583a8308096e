//! Long audio in segments. The signal is cut into windows: a core of
//! `segment_seconds` whose onsets the window owns, with margins on both sides
//! so that frames near the core's edges see real context and atoms near its
//! end are scored over their whole decay. Windows run in order; every window
//! starts from the magnitude of its audio minus the magnitude of the atoms
//! that earlier windows left ringing into it, so an atom is never found twice
//! and atoms cross boundaries freely (the renderer sums everything). Within a
//! window, every stage runs over all its frames at once: one scoring
//! submission per round, one render and one batched STFT for the round's atoms.

use super::Backend;
use super::dictionary::{HOP, N_FFT};
use super::pursuit::ONSET_LEAD;
use super::source::SignalSource;
use super::templates::{self, Grid};
use crate::atoms::Atom;
use crate::error::Result;
use std::ops::Range;

/// One analysis window, in samples of the whole signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Onsets owned: `[core.start, core.end)`.
    pub core: Range<usize>,
    /// Samples analysed (the core with its margins, within the signal).
    pub span: Range<usize>,
}

/// Windows covering `len` samples with cores of `core` samples and margins
/// of `margin` samples (the last core takes the remainder).
pub fn plan(len: usize, core: usize, margin: usize) -> Vec<Window> {
    let core = core.max(HOP);
    let mut windows = Vec::new();
    let mut start = 0;
    while start < len || windows.is_empty() {
        let mut end = (start + core).min(len);
        // A sliver under half a core joins this window.
        if len - end < core / 2 {
            end = len;
        }
        windows.push(Window {
            core: start..end,
            span: start.saturating_sub(margin)..(end + margin).min(len),
        });
        start = end;
    }
    windows
}

/// The frames of `window`'s grid whose candidate onsets fall in its core.
pub fn core_frames(window: &Window, grid: &Grid) -> Range<usize> {
    let frame_of = |sample: usize| {
        (sample + ONSET_LEAD)
            .saturating_sub(grid.origin)
            .div_ceil(HOP)
            .min(grid.frames)
    };
    // Frames whose onset sample (origin + f·HOP - lead, floored at 0) is in the core.
    let first = if window.core.start == 0 {
        0
    } else {
        frame_of(window.core.start)
    };
    first..frame_of(window.core.end).max(first)
}

/// The window's analysis grid: frames centred from `span.start`, padded so
/// that a signal shorter than a window can still be framed.
pub fn grid(window: &Window) -> Grid {
    let len = window.span.len().max(N_FFT);
    Grid {
        origin: window.span.start,
        frames: 1 + len / HOP,
    }
}

/// The window's audio from `source` (zero-padded to at least [`N_FFT`] samples).
pub fn window_audio(source: &mut dyn SignalSource, window: &Window) -> Result<Vec<f32>> {
    let mut audio = source.span(window.span.clone())?;
    audio.resize(audio.len().max(N_FFT), 0.0);
    Ok(audio)
}

/// The magnitude of the atoms in `earlier` that ring into `window`, on its
/// grid (`None` if none do).
pub fn earlier_magnitudes(
    backend: &Backend,
    earlier: &[Atom],
    rate: u32,
    window: &Window,
    audio_len: usize,
) -> Result<Option<Vec<f32>>> {
    let span = window.span.start..window.span.start + audio_len;
    match templates::render_span(backend, earlier, rate, span)? {
        Some(rendered) => templates::magnitudes(backend, &rendered).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_the_signal_with_margins() {
        let w = plan(100_000, 30_000, 5_000);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].core, 0..30_000);
        assert_eq!(w[1].span, 25_000..65_000);
        assert_eq!(w[2].core, 60_000..100_000);
        assert_eq!(w[2].span, 55_000..100_000);
        assert_eq!(
            plan(10, 30_000, 5_000),
            vec![Window {
                core: 0..10,
                span: 0..10
            }]
        );
    }

    #[test]
    fn core_frames_partition_the_onsets() {
        let windows = plan(200_000, 40_000, 8_000);
        let mut covered = Vec::new();
        for w in &windows {
            let g = grid(w);
            for f in core_frames(w, &g) {
                covered.push((g.origin + f * HOP).saturating_sub(ONSET_LEAD));
            }
        }
        // Every onset on the hop grid up to the end, once, in order.
        assert!(covered.windows(2).all(|p| p[0] < p[1] || p[0] == 0));
        let distinct: std::collections::BTreeSet<_> = covered.iter().collect();
        assert_eq!(
            distinct.len(),
            covered.len() - covered.iter().filter(|&&s| s == 0).count() + 1
        );
        // Up to the last frame's onset, within 3 hops of the end.
        assert!(*covered.last().unwrap() >= 200_000 - 3 * HOP);
    }
}
