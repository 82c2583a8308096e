//! The copy kernel: the device's achievable memory bandwidth, against which
//! every kernel's bandwidth is reported.

use super::timing::PassTimestamps;
use super::{GpuContext, LINEAR_WORKGROUP, dispatch_2d, shader};
use crate::error::Result;
use std::time::Instant;

/// Bytes read plus bytes written per second by a plain copy.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CopyBandwidth {
    pub bytes_copied: u64,
    pub seconds_per_copy: f64,
    /// (read + write) bytes per second.
    pub bytes_per_second: f64,
}

/// Records one copy of `bytes` (a multiple of 16) from `source` to `destination`.
fn record_copy(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    bind_group: &wgpu::BindGroup,
    bytes: u64,
    timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
) -> Result<()> {
    let pipeline = ctx.pipeline("copy", "main", || shader::COPY_WGSL.to_string())?;
    let groups = (bytes / 16).div_ceil(LINEAR_WORKGROUP as u64) as u32;
    let (x, y) = dispatch_2d(groups, ctx.max_groups_per_dimension());
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("copy"),
        timestamp_writes,
    });
    pass.set_pipeline(&pipeline);
    pass.set_bind_group(0, bind_group, &[]);
    pass.dispatch_workgroups(x, y, 1);
    Ok(())
}

/// Copies `data` on the device and returns the copy (for testing the kernel).
pub fn copy_on_device(ctx: &GpuContext, data: &[f32]) -> Result<Vec<f32>> {
    let padded_len = data.len().next_multiple_of(4).max(4);
    let mut padded = data.to_vec();
    padded.resize(padded_len, 0.0);
    let source = ctx.upload("copy.source", &padded)?;
    let destination = ctx.output_buffer("copy.destination", padded_len as u64 * 4)?;
    let bind_group = copy_bind_group(ctx, &source, &destination)?;
    let mut encoder = ctx.encoder("copy");
    record_copy(ctx, &mut encoder, &bind_group, padded_len as u64 * 4, None)?;
    let staging = ctx.copy_to_staging(&mut encoder, &destination)?;
    ctx.submit_and_wait("copy", encoder)?;
    let mut out = ctx.read_staging::<f32>(&[&staging])?.remove(0);
    out.truncate(data.len());
    Ok(out)
}

fn copy_bind_group(
    ctx: &GpuContext,
    source: &super::PooledBuffer<'_>,
    destination: &super::PooledBuffer<'_>,
) -> Result<wgpu::BindGroup> {
    let pipeline = ctx.pipeline("copy", "main", || shader::COPY_WGSL.to_string())?;
    ctx.bind_group("copy", &pipeline, &[(0, source), (1, destination)])
}

/// Measures copy bandwidth with a buffer of `bytes` (rounded to 16), best of
/// `repeats` timed runs of `copies_per_run` back-to-back copies after a
/// warm-up. Kernel time comes from timestamp queries where the device has
/// them, else from the wall clock around the submission.
pub fn measure_copy_bandwidth(
    ctx: &GpuContext,
    bytes: u64,
    repeats: usize,
    copies_per_run: usize,
) -> Result<CopyBandwidth> {
    let bytes = bytes.next_multiple_of(16).min(ctx.max_binding() / 16 * 16);
    let source = ctx.output_buffer("copy.source", bytes)?;
    let destination = ctx.output_buffer("copy.destination", bytes)?;
    let bind_group = copy_bind_group(ctx, &source, &destination)?;
    let seconds = time_passes(ctx, copies_per_run, repeats, |encoder, writes| {
        record_copy(ctx, encoder, &bind_group, bytes, writes)
    })?;
    Ok(CopyBandwidth {
        bytes_copied: bytes,
        seconds_per_copy: seconds,
        bytes_per_second: 2.0 * bytes as f64 / seconds,
    })
}

/// Best seconds per pass of `passes` passes recorded by `record` into one
/// submission, over `repeats` runs after a warm-up: from timestamp queries
/// where the device has them, else from the wall clock.
pub fn time_passes(
    ctx: &GpuContext,
    passes: usize,
    repeats: usize,
    mut record: impl FnMut(
        &mut wgpu::CommandEncoder,
        Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) -> Result<()>,
) -> Result<f64> {
    let timestamps = PassTimestamps::new(ctx, passes as u32);
    let mut best = f64::INFINITY;
    for run in 0..=repeats.max(1) {
        let mut encoder = ctx.encoder("timed");
        for i in 0..passes {
            record(
                &mut encoder,
                timestamps.as_ref().map(|t| t.writes(i as u32)),
            )?;
        }
        if let Some(t) = &timestamps {
            t.resolve(&mut encoder);
        }
        let start = Instant::now();
        ctx.submit_and_wait("timed passes", encoder)?;
        let wall = start.elapsed().as_secs_f64();
        let seconds = match &timestamps {
            Some(t) => t.read_seconds(ctx)?.iter().sum::<f64>(),
            None => wall,
        };
        if run > 0 {
            best = best.min(seconds / passes as f64);
        }
    }
    Ok(best)
}
