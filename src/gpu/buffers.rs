//! Buffer pooling, uploads and read-back.
//!
//! Buffers are pooled by (size class, usage) so repeated calls of the same shape
//! (benchmarks, encoder iterations) allocate nothing. Kernels always bind the
//! exact byte range they use, so a pooled buffer larger than asked is harmless.

use super::GpuContext;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes the pool keeps for reuse at most; buffers beyond it are freed.
const POOL_RETAIN_BYTES: u64 = 1 << 30;

/// A quiet NaN: what poisoned buffers are filled with.
const POISON_WORD: u32 = 0x7fc0_0000;

/// Free buffers by (size class, usage). A buffer given back waits in
/// `pending` until the GPU has finished everything submitted so far
/// ([`BufferPool::recycle`], called by `GpuContext::wait`), so one dropped
/// while recorded work still refers to it cannot be handed out and rewritten
/// under that work.
#[derive(Default)]
pub struct BufferPool {
    free: Mutex<HashMap<(u64, u32), Vec<wgpu::Buffer>>>,
    pending: Mutex<Vec<wgpu::Buffer>>,
    poison: AtomicBool,
}

/// A buffer on loan from the pool; it goes back when dropped, and is handed
/// out again only after the next wait for the GPU. Still, keep it alive until
/// the work that uses it has been submitted and waited for.
pub struct PooledBuffer<'a> {
    buffer: Option<wgpu::Buffer>,
    pool: &'a BufferPool,
    /// Bytes the caller asked for (the buffer may be larger).
    pub bytes: u64,
}

impl std::ops::Deref for PooledBuffer<'_> {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }
}

impl Drop for PooledBuffer<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.give_back(buffer);
        }
    }
}

impl PooledBuffer<'_> {
    /// The exact range the caller asked for, as a binding resource.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self,
            offset: 0,
            size: wgpu::BufferSize::new(self.bytes.max(4)),
        })
    }
}

/// Rounds a request up to its size class: powers of two to 1 MiB, then whole MiB.
pub fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(256);
    if bytes <= 1 << 20 {
        bytes.next_power_of_two()
    } else {
        bytes.div_ceil(1 << 20) << 20
    }
}

impl BufferPool {
    fn take(&self, class: u64, usage: wgpu::BufferUsages) -> Option<wgpu::Buffer> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.get_mut(&(class, usage.bits()))?.pop()
    }

    fn give_back(&self, buffer: wgpu::Buffer) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buffer);
    }

    /// Makes buffers given back since the last call available again. Safe
    /// once the work of every buffer given back has completed: every user
    /// keeps its buffers until its own submission has been waited for (a
    /// thread that waits for its submission makes reusable only what the
    /// threads waiting for theirs have let go).
    pub fn recycle(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let mut retained: u64 = free.values().flatten().map(|b| b.size()).sum();
        for buffer in pending {
            if retained + buffer.size() <= POOL_RETAIN_BYTES {
                retained += buffer.size();
                free.entry((buffer.size(), buffer.usage().bits()))
                    .or_default()
                    .push(buffer);
            }
        }
    }

    /// Frees every pooled buffer.
    pub fn clear(&self) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// When on, every output buffer handed out is first filled with NaN, so an
    /// element a kernel fails to write shows up in the result (tests turn this on).
    pub fn set_poison(&self, on: bool) {
        self.poison.store(on, Ordering::Relaxed);
    }

    fn poisoning(&self) -> bool {
        self.poison.load(Ordering::Relaxed)
    }
}

impl GpuContext {
    fn pooled(
        &self,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<PooledBuffer<'_>> {
        if bytes > self.limits().max_buffer_size {
            return Err(Error::OutOfMemory(format!(
                "{label}: {bytes} bytes exceed the device's largest buffer ({} bytes)",
                self.limits().max_buffer_size
            )));
        }
        let class = size_class(bytes).min(self.limits().max_buffer_size.max(bytes));
        let buffer = match self.pool().take(class, usage) {
            Some(b) => b,
            None => self.catch_errors(label, || {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: class,
                    usage,
                    mapped_at_creation: false,
                })
            })?,
        };
        Ok(PooledBuffer {
            buffer: Some(buffer),
            pool: self.pool(),
            bytes,
        })
    }

    /// A bind group for group 0 of `pipeline`: (binding, buffer) pairs, each
    /// buffer bound over exactly the bytes it was asked for.
    pub fn bind_group(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &PooledBuffer<'_>)],
    ) -> Result<wgpu::BindGroup> {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: buffer.binding(),
            })
            .collect();
        self.bind_group_entries(label, pipeline, &entries)
    }

    /// A bind group for group 0 of `pipeline` from raw entries (buffers the
    /// pool did not hand out, such as a caller's device buffer).
    pub fn bind_group_entries(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> Result<wgpu::BindGroup> {
        self.catch_errors(label, || {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout: &pipeline.get_bind_group_layout(0),
                entries,
            })
        })
    }

    /// A storage buffer a kernel writes (poisoned with NaN when the pool says so).
    pub fn output_buffer(&self, label: &str, bytes: u64) -> Result<PooledBuffer<'_>> {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let buffer = self.pooled(label, bytes, usage)?;
        if self.pool().poisoning() {
            let words = (bytes / 4) as usize;
            let poison = vec![POISON_WORD; words];
            self.queue
                .write_buffer(&buffer, 0, bytemuck::cast_slice(&poison));
        }
        Ok(buffer)
    }

    /// A storage buffer holding `data`.
    pub fn upload<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> Result<PooledBuffer<'_>> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let buffer = self.pooled(label, bytes.len().max(4) as u64, usage)?;
        if !bytes.is_empty() {
            self.queue.write_buffer(&buffer, 0, bytes);
        }
        Ok(buffer)
    }

    /// A uniform buffer holding `value`.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> Result<PooledBuffer<'_>> {
        let usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let bytes: &[u8] = bytemuck::bytes_of(value);
        let buffer = self.pooled(label, bytes.len() as u64, usage)?;
        self.queue.write_buffer(&buffer, 0, bytes);
        Ok(buffer)
    }

    /// A host-readable buffer for `bytes` of results.
    pub fn staging_buffer(&self, label: &str, bytes: u64) -> Result<PooledBuffer<'_>> {
        let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        self.pooled(label, bytes, usage)
    }

    /// Records a copy of `source` into a new staging buffer; read it with
    /// [`GpuContext::read_staging`] after the encoder has been submitted.
    pub fn copy_to_staging(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        source: &PooledBuffer<'_>,
    ) -> Result<PooledBuffer<'_>> {
        let staging = self.staging_buffer("staging", source.bytes)?;
        encoder.copy_buffer_to_buffer(source, 0, &staging, 0, source.bytes.next_multiple_of(4));
        Ok(staging)
    }

    /// Maps staging buffers (their copies already submitted) and returns their
    /// contents as `T`s.
    pub fn read_staging<T: bytemuck::Pod>(
        &self,
        staging: &[&PooledBuffer<'_>],
    ) -> Result<Vec<Vec<T>>> {
        self.read_staging_after(staging, None)
    }

    /// [`GpuContext::read_staging`] waiting only for submission `index` (all
    /// submitted work when `None`), so later submissions keep running.
    pub fn read_staging_after<T: bytemuck::Pod>(
        &self,
        staging: &[&PooledBuffer<'_>],
        index: Option<wgpu::SubmissionIndex>,
    ) -> Result<Vec<Vec<T>>> {
        let (sender, receiver) = std::sync::mpsc::channel();
        for (i, buffer) in staging.iter().enumerate() {
            let sender = sender.clone();
            buffer.map_async(wgpu::MapMode::Read, 0..buffer.bytes, move |r| {
                let _ = sender.send((i, r));
            });
        }
        drop(sender);
        match index {
            Some(index) => self.wait_for("reading results", index)?,
            None => self.wait("reading results")?,
        }
        for (i, result) in receiver.iter() {
            result.map_err(|e| Error::Gpu(format!("mapping result buffer {i}: {e}")))?;
        }
        staging
            .iter()
            .map(|buffer| {
                let view = buffer
                    .get_mapped_range(0..buffer.bytes)
                    .map_err(|e| Error::Gpu(format!("reading result buffer: {e}")))?;
                let values = bytemuck::pod_collect_to_vec(&view);
                drop(view);
                buffer.unmap();
                Ok(values)
            })
            .collect()
    }
}
