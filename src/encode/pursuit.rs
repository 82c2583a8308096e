//! Greedy matching pursuit on the residual magnitude spectrogram.
//!
//! Each round scores every candidate of the [`Dictionary`] at every onset
//! frame of the core (on the GPU, or the CPU reference), takes up to
//! `picks_per_round` of the best frames that are at least `separation` frames
//! apart, renders those atoms at unit amplitude ([`templates`]), fits each
//! one's amplitude to the residual by least squares, quantises it as the
//! compact form will, and subtracts its magnitude locally (clamped at zero),
//! in order of score. Rounds repeat until the budget is spent or nothing left
//! is worth an atom.

use super::cpu::{FramePick, ScoreShape};
use super::dictionary::{Dictionary, HOP};
use super::templates::{self, Grid};
use super::{Backend, StageTimings};
use crate::atoms::Atom;
use crate::error::Result;
use crate::events::compact;
use std::ops::Range;
use std::time::Instant;

/// Samples from an atom's onset to the centre of the frame where its
/// template is scored to start (measured: see the tests in tests/encode.rs).
pub const ONSET_LEAD: usize = 512;
/// A round stops taking picks whose score is below this fraction of the round's best.
const ROUND_FLOOR: f32 = 1e-3;
/// The pursuit stops once the best score is below this fraction of the
/// starting residual energy.
const STOP_FRACTION: f64 = 1e-7;

/// How a pursuit runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PursuitSettings {
    /// Atoms to find at most.
    pub budget: usize,
    /// Atoms taken per round (per scoring submission) at most.
    pub picks_per_round: usize,
    /// Frames between the onsets of two atoms taken in the same round, at least.
    pub separation: usize,
    /// Put every field on the compact grid (amplitudes and onsets included).
    pub quantise: bool,
}

impl Default for PursuitSettings {
    fn default() -> Self {
        PursuitSettings {
            budget: 0,
            picks_per_round: 48,
            separation: 8,
            quantise: true,
        }
    }
}

/// The residual of one analysis window.
#[derive(Clone, Debug)]
pub struct Residual {
    pub grid: Grid,
    pub bins: usize,
    /// `frames x bins` magnitudes.
    pub data: Vec<f32>,
}

impl Residual {
    /// Σ R².
    pub fn energy(&self) -> f64 {
        self.data.iter().map(|&x| x as f64 * x as f64).sum()
    }
}

/// Scores candidates: the GPU kernels or their CPU reference.
pub trait Scorer {
    fn score(&mut self, residual: &[f32], shape: &ScoreShape) -> Result<Vec<FramePick>>;
}

/// The CPU reference scorer.
pub struct CpuScorer<'a>(pub &'a Dictionary);

impl Scorer for CpuScorer<'_> {
    fn score(&mut self, residual: &[f32], shape: &ScoreShape) -> Result<Vec<FramePick>> {
        Ok(super::cpu::score(self.0, residual, shape))
    }
}

/// The onset (s, on the whole signal's time line) of a candidate starting at `frame`.
pub fn onset_of_frame(grid: &Grid, frame: usize, rate: u32) -> f64 {
    let sample = (grid.origin + frame * HOP).saturating_sub(ONSET_LEAD);
    sample as f64 / rate as f64
}

/// Runs the pursuit on `residual`, taking onsets only at frames in `core`;
/// returns the atoms found (onsets on the whole signal's time line).
#[allow(clippy::too_many_arguments)] // the stages' shared state, kept explicit
pub fn pursue(
    backend: &Backend,
    scorer: &mut dyn Scorer,
    dict: &Dictionary,
    residual: &mut Residual,
    core: Range<usize>,
    settings: &PursuitSettings,
    timings: &mut StageTimings,
) -> Result<Vec<Atom>> {
    let shape = ScoreShape {
        frames: residual.grid.frames,
        bins: residual.bins,
        core_first: core.start,
        core_end: core.end,
    };
    let stop = STOP_FRACTION * residual.energy();
    let mut found = Vec::new();
    while found.len() < settings.budget && core.start < core.end {
        let clock = Instant::now();
        let scores = scorer.score(&residual.data, &shape)?;
        timings.scoring += clock.elapsed().as_secs_f64();
        timings.rounds += 1;
        let want = settings.picks_per_round.min(settings.budget - found.len());
        let picks = separated_maxima(&scores, want, settings.separation);
        if picks
            .first()
            .is_none_or(|&f| (scores[f].score as f64) <= stop)
        {
            break;
        }
        let clock = Instant::now();
        let atoms: Vec<Atom> = picks
            .iter()
            .map(|&f| {
                let onset = onset_of_frame(&residual.grid, f, dict.rate) as f32;
                let p = scores[f];
                let atom = dict.atom(p.column as usize, p.envelope as usize, onset, 1.0);
                if settings.quantise {
                    compact::quantise(&atom)
                } else {
                    atom
                }
            })
            .collect();
        let shapes = templates::render_templates(backend, &atoms, dict.rate, &residual.grid)?;
        let before = found.len();
        for (atom, template) in atoms.iter().zip(&shapes) {
            let mut amplitude = templates::least_squares(&residual.data, residual.bins, template);
            if settings.quantise {
                amplitude = compact::QUANTISERS[0].quantise(amplitude as f32) as f64;
            }
            if amplitude <= 0.0 || !amplitude.is_finite() {
                continue;
            }
            templates::subtract(
                &mut residual.data,
                residual.bins,
                template,
                amplitude as f32,
            );
            found.push(Atom {
                amplitude: amplitude as f32,
                ..*atom
            });
        }
        timings.templates += clock.elapsed().as_secs_f64();
        if found.len() == before {
            break;
        }
    }
    Ok(found)
}

/// Up to `want` frames with the highest scores, best first, each at least
/// `separation` frames from those before it, none below `ROUND_FLOOR` of
/// the best. Ties go to the earlier frame.
pub fn separated_maxima(scores: &[FramePick], want: usize, separation: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|&f| scores[f].score > 0.0)
        .collect();
    order.sort_by(|&a, &b| scores[b].score.total_cmp(&scores[a].score).then(a.cmp(&b)));
    let Some(&best) = order.first() else {
        return Vec::new();
    };
    let floor = scores[best].score * ROUND_FLOOR;
    let mut taken: Vec<usize> = Vec::new();
    for f in order {
        if taken.len() == want || scores[f].score < floor {
            break;
        }
        if taken.iter().all(|&t| t.abs_diff(f) >= separation) {
            taken.push(f);
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(score: f32) -> FramePick {
        FramePick {
            score,
            ..Default::default()
        }
    }

    #[test]
    fn maxima_are_separated_best_first_and_ties_go_early() {
        let scores: Vec<FramePick> = [0.0, 5.0, 9.0, 8.0, 0.0, 0.0, 9.0, 1.0, 0.0, 7.0]
            .into_iter()
            .map(pick)
            .collect();
        assert_eq!(separated_maxima(&scores, 10, 3), vec![2, 6, 9]);
        assert_eq!(separated_maxima(&scores, 2, 1), vec![2, 6]);
        assert_eq!(separated_maxima(&scores, 10, 1).len(), 6);
        assert!(separated_maxima(&[pick(0.0); 4], 3, 1).is_empty());
    }
}
