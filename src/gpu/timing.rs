//! Kernel timing with pass-level timestamp queries, where the device has them
//! (`wgpu::Features::TIMESTAMP_QUERY`); wall-clock time is the fallback.

use super::GpuContext;
use crate::error::{Error, Result};

/// Begin/end timestamps for up to `passes` compute passes of one submission.
pub struct PassTimestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    staging: wgpu::Buffer,
    passes: u32,
}

impl PassTimestamps {
    /// Queries for `passes` passes, or `None` if the device has no timestamps.
    pub fn new(ctx: &GpuContext, passes: u32) -> Option<Self> {
        if !ctx.has_timestamps() || passes == 0 {
            return None;
        }
        let bytes = u64::from(passes) * 2 * 8;
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: passes * 2,
        });
        let buffer = |label, usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolve = buffer(
            "timestamps.resolve",
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        );
        let staging = buffer(
            "timestamps.staging",
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        Some(PassTimestamps {
            set,
            resolve,
            staging,
            passes,
        })
    }

    /// The timestamp writes for pass `i` (begin and end of the pass).
    pub fn writes(&self, i: u32) -> wgpu::ComputePassTimestampWrites<'_> {
        assert!(i < self.passes, "pass {i} of {}", self.passes);
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        }
    }

    /// Records the resolve and copy; call once after the timed passes.
    pub fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.set, 0..self.passes * 2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, self.resolve.size());
    }

    /// Seconds each pass took (after the submission has completed).
    pub fn read_seconds(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        let (sender, receiver) = std::sync::mpsc::channel();
        self.staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = sender.send(r);
        });
        ctx.wait("reading timestamps")?;
        receiver
            .recv()
            .map_err(|e| Error::Gpu(format!("timestamps: {e}")))?
            .map_err(|e| Error::Gpu(format!("mapping timestamps: {e}")))?;
        let ticks: Vec<u64> = {
            let view = self
                .staging
                .get_mapped_range(..)
                .map_err(|e| Error::Gpu(format!("reading timestamps: {e}")))?;
            bytemuck::pod_collect_to_vec(&view)
        };
        self.staging.unmap();
        let period_ns = f64::from(ctx.queue.get_timestamp_period());
        Ok(ticks
            .chunks(2)
            .map(|t| t[1].saturating_sub(t[0]) as f64 * period_ns * 1e-9)
            .collect())
    }
}
