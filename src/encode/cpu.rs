//! The CPU reference of the scoring kernels (shaders/pursuit.wgsl): the same
//! three stages, written to read line by line against the shader.
//!
//! 1. [`project`]: `H[t][c] = Σ_taps w · R[t][bin]`, every column's taps
//!    against every frame of the residual magnitude `R`;
//! 2. [`scan`]: for every column and every envelope ρ of it, the correlation
//!    with a template starting at frame `o`, `S(o) = Σ_t ρ^t H[o+t][c]`, and its
//!    energy `E(o) = Σ_t ρ^2t` (to the end of the frames), by one backward
//!    recursion `S(o) = H[o] + ρ S(o+1)`; the score is `S² / (E · norm_c)`, the
//!    energy the least-squares multiple of the template removes; the best
//!    envelope's score and index are kept;
//! 3. [`reduce`]: for every frame in the core, the best column (ties to the
//!    lowest index), or a zero score outside the core.

use super::dictionary::Dictionary;

/// The best candidate starting at one frame (keep in sync with `FramePick` in
/// shaders/pursuit.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FramePick {
    /// Energy (squared magnitude) the candidate would explain; 0 if none.
    pub score: f32,
    pub column: u32,
    pub envelope: u32,
    pub _pad: u32,
}

/// Where the scores are wanted: frames `[core_first, core_end)` of `frames`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoreShape {
    pub frames: usize,
    pub bins: usize,
    pub core_first: usize,
    pub core_end: usize,
}

/// Stage 1: `frames x columns` projections of the residual (`frames x bins`).
pub fn project(dict: &Dictionary, residual: &[f32], shape: &ScoreShape) -> Vec<f32> {
    let columns = dict.columns.len();
    let mut h = vec![0.0f32; shape.frames * columns];
    for t in 0..shape.frames {
        let row = &residual[t * shape.bins..][..shape.bins];
        for (c, column) in dict.columns.iter().enumerate() {
            let taps = &dict.taps[column.tap_first as usize..][..column.tap_count as usize];
            let mut sum = 0.0f32;
            for tap in taps {
                sum += tap.weight * row[tap.bin as usize];
            }
            h[t * columns + c] = sum;
        }
    }
    h
}

/// Stage 2: each column's best envelope score and index at every frame.
pub fn scan(dict: &Dictionary, h: &[f32], shape: &ScoreShape) -> (Vec<f32>, Vec<u32>) {
    let columns = dict.columns.len();
    let mut best = vec![0.0f32; shape.frames * columns];
    let mut which = vec![0u32; shape.frames * columns];
    for (c, column) in dict.columns.iter().enumerate() {
        for e in column.env_first..column.env_first + column.env_count {
            let rho = dict.decays[e as usize];
            let mut s = 0.0f32;
            let mut energy = 0.0f32;
            for t in (0..shape.frames).rev() {
                s = h[t * columns + c] + rho * s;
                energy = 1.0 + rho * rho * energy;
                let score = s * s / (energy * column.norm);
                let i = t * columns + c;
                if e == column.env_first || score > best[i] {
                    best[i] = score;
                    which[i] = e;
                }
            }
        }
    }
    (best, which)
}

/// Stage 3: the best column at each frame of the core.
pub fn reduce(best: &[f32], which: &[u32], columns: usize, shape: &ScoreShape) -> Vec<FramePick> {
    (0..shape.frames)
        .map(|t| {
            if !(shape.core_first..shape.core_end).contains(&t) {
                return FramePick::default();
            }
            let row = &best[t * columns..][..columns];
            let mut pick = FramePick::default();
            for (c, &score) in row.iter().enumerate() {
                if score > pick.score {
                    pick = FramePick {
                        score,
                        column: c as u32,
                        envelope: which[t * columns + c],
                        _pad: 0,
                    };
                }
            }
            pick
        })
        .collect()
}

/// All three stages.
pub fn score(dict: &Dictionary, residual: &[f32], shape: &ScoreShape) -> Vec<FramePick> {
    let h = project(dict, residual, shape);
    let (best, which) = scan(dict, &h, shape);
    reduce(&best, &which, dict.columns.len(), shape)
}
