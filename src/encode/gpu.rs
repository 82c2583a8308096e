//! The scoring kernels on the GPU (shaders/pursuit.wgsl): project, scan and
//! reduce recorded into one submission per round; only the per-frame best
//! candidates (16 bytes a frame) come back.

use super::cpu::{FramePick, ScoreShape};
use super::dictionary::Dictionary;
use super::pursuit::Scorer;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, LINEAR_WORKGROUP, PooledBuffer, dispatch_2d, shader};

/// Keep in sync with `PursuitParams` in shaders/pursuit.wgsl (a test checks the size).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct PursuitParams {
    frames: u32,
    bins: u32,
    columns: u32,
    core_first: u32,
    core_end: u32,
    groups_x: u32,
    _pad: [u32; 2],
}

/// One dispatch: entry point, (binding, buffer) pairs, workgroups.
type Stage<'b, 'c> = (&'static str, Vec<(u32, &'b PooledBuffer<'c>)>, (u32, u32));

/// The dictionary uploaded once; [`Scorer::score`] runs a round.
pub struct GpuScorer<'a> {
    ctx: &'a GpuContext,
    columns: usize,
    tables: [PooledBuffer<'a>; 3],
}

impl<'a> GpuScorer<'a> {
    pub fn new(ctx: &'a GpuContext, dict: &Dictionary) -> Result<Self> {
        Ok(GpuScorer {
            ctx,
            columns: dict.columns.len(),
            tables: [
                ctx.upload("pursuit.columns", &dict.columns)?,
                ctx.upload("pursuit.taps", &dict.taps)?,
                ctx.upload("pursuit.decays", &dict.decays)?,
            ],
        })
    }

    fn pipeline(&self, entry: &str) -> Result<std::sync::Arc<wgpu::ComputePipeline>> {
        self.ctx
            .pipeline("pursuit", entry, || shader::PURSUIT_WGSL.to_string())
    }
}

/// One scoring request recorded into a command encoder: the buffers it uses
/// stay alive (out of the pool) until its results are read back.
pub struct RecordedScore<'c> {
    staging: PooledBuffer<'c>,
    _buffers: Vec<PooledBuffer<'c>>,
}

impl<'a> GpuScorer<'a> {
    /// Records one round's project, scan and reduce for `residual` into
    /// `encoder`; submit it, then [`GpuScorer::read`] the result.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        residual: &[f32],
        shape: &ScoreShape,
    ) -> Result<RecordedScore<'a>> {
        let ctx = self.ctx;
        let cells = shape.frames as u64 * self.columns as u64;
        if cells * 4 > ctx.max_binding() || shape.frames == 0 {
            return Err(Error::invalid(
                "segment length",
                format!(
                    "{} frames x {} candidates do not fit one binding of {} bytes: use shorter segments",
                    shape.frames,
                    self.columns,
                    ctx.max_binding()
                ),
            ));
        }
        let max = ctx.max_groups_per_dimension();
        let cell_groups = dispatch_2d(cells.div_ceil(LINEAR_WORKGROUP as u64) as u32, max);
        let column_groups = dispatch_2d((self.columns as u32).div_ceil(LINEAR_WORKGROUP), max);
        let frame_groups = dispatch_2d(shape.frames as u32, max);
        let params = |groups_x: u32| PursuitParams {
            frames: shape.frames as u32,
            bins: shape.bins as u32,
            columns: self.columns as u32,
            core_first: shape.core_first as u32,
            core_end: shape.core_end as u32,
            groups_x,
            _pad: [0; 2],
        };
        let uniforms = [
            ctx.uniform("pursuit.params project", &params(cell_groups.0))?,
            ctx.uniform("pursuit.params scan", &params(column_groups.0))?,
            ctx.uniform("pursuit.params reduce", &params(frame_groups.0))?,
        ];
        let input = ctx.upload("pursuit.residual", residual)?;
        let projection = ctx.output_buffer("pursuit.projection", cells * 4)?;
        let best = ctx.output_buffer("pursuit.best", cells * 4)?;
        let which = ctx.output_buffer("pursuit.which", cells * 4)?;
        let picks = ctx.output_buffer("pursuit.picks", shape.frames as u64 * 16)?;
        let [columns, taps, decays] = &self.tables;
        let stages: [Stage; 3] = [
            (
                "project",
                vec![
                    (0, &uniforms[0]),
                    (1, columns),
                    (2, taps),
                    (4, &input),
                    (5, &projection),
                ],
                cell_groups,
            ),
            (
                "scan",
                vec![
                    (0, &uniforms[1]),
                    (1, columns),
                    (3, decays),
                    (5, &projection),
                    (6, &best),
                    (7, &which),
                ],
                column_groups,
            ),
            (
                "reduce",
                vec![(0, &uniforms[2]), (6, &best), (7, &which), (8, &picks)],
                frame_groups,
            ),
        ];
        for (entry, bindings, (x, y)) in &stages {
            let pipeline = self.pipeline(entry)?;
            let bind_group = ctx.bind_group(entry, &pipeline, bindings)?;
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(entry),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(*x, *y, 1);
        }
        let staging = ctx.copy_to_staging(encoder, &picks)?;
        let [u0, u1, u2] = uniforms;
        Ok(RecordedScore {
            staging,
            _buffers: vec![u0, u1, u2, input, projection, best, which, picks],
        })
    }

    /// The per-frame picks of recorded requests, once `submission` (all
    /// submitted work when `None`) has finished.
    pub fn read(
        &self,
        recorded: &[RecordedScore<'a>],
        submission: Option<wgpu::SubmissionIndex>,
    ) -> Result<Vec<Vec<FramePick>>> {
        let staging: Vec<&PooledBuffer> = recorded.iter().map(|r| &r.staging).collect();
        self.ctx
            .read_staging_after::<FramePick>(&staging, submission)
    }

    /// Records several residuals (say, windows of different files) into one
    /// command buffer and submits it without waiting; [`GpuScorer::read`]
    /// the results.
    pub fn submit_batch(
        &self,
        requests: &[(&[f32], &ScoreShape)],
    ) -> Result<(wgpu::SubmissionIndex, Vec<RecordedScore<'a>>)> {
        let mut encoder = self.ctx.encoder("pursuit batch");
        let recorded = requests
            .iter()
            .map(|(residual, shape)| self.record(&mut encoder, residual, shape))
            .collect::<Result<Vec<_>>>()?;
        let submission = self.ctx.submit("pursuit batch", encoder)?;
        Ok((submission, recorded))
    }

    /// Scores several residuals in one submission: one command buffer, one
    /// wait, one read-back.
    pub fn score_batch(&self, requests: &[(&[f32], &ScoreShape)]) -> Result<Vec<Vec<FramePick>>> {
        let (submission, recorded) = self.submit_batch(requests)?;
        self.read(&recorded, Some(submission))
    }
}

impl Scorer for GpuScorer<'_> {
    fn score(&mut self, residual: &[f32], shape: &ScoreShape) -> Result<Vec<FramePick>> {
        Ok(self.score_batch(&[(residual, shape)])?.remove(0))
    }
}

/// One scoring round's per-frame picks with a fresh upload of `dict`.
pub fn score_stages(
    ctx: &GpuContext,
    dict: &Dictionary,
    residual: &[f32],
    shape: &ScoreShape,
) -> Result<Vec<FramePick>> {
    GpuScorer::new(ctx, dict)?.score(residual, shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_structs_match_the_shader_layout() {
        let source = shader::PURSUIT_WGSL;
        for (name, size) in [
            ("PursuitParams", std::mem::size_of::<PursuitParams>()),
            (
                "Column",
                std::mem::size_of::<super::super::dictionary::Column>(),
            ),
            ("Tap", std::mem::size_of::<super::super::dictionary::Tap>()),
            ("FramePick", std::mem::size_of::<FramePick>()),
        ] {
            assert_eq!(
                shader::wgsl_struct_size(source, name).unwrap() as usize,
                size,
                "{name}"
            );
        }
    }
}
