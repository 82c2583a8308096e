//! Streaming decode: a file's mono mixdown at a target rate, read forward in
//! blocks, so a long file never needs to fit in memory whole. The samples are
//! bit for bit those of [`load_mono`](super::load_mono): the same decoders
//! ([`FileBlocks`]), the same [`downmix`] and the same resampler, fed the way
//! rubato's `process_all` feeds it.

use super::{
    FileBlocks, check_rates, downmix, fft_resampler, name_file_in_resample_error, resampled_len,
    rubato_error,
};
use crate::error::Result;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, Indexing, Resampler};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Samples [`scan_mono`] asks for at a time.
const SCAN_BLOCK: usize = 1 << 16;

/// A forward-only reader of a file's mono mixdown at a target rate, in blocks;
/// memory O(block + resampler chunk).
pub struct MonoStream {
    blocks: FileBlocks,
    resampler: Option<StreamResampler>,
    /// Samples at the target rate decoded but not yet read.
    ready: VecDeque<f32>,
    ended: bool,
}

impl MonoStream {
    /// Opens `path` for reading at `rate` Hz.
    ///
    /// # Errors
    /// Those of [`read_audio`](super::read_audio) that show on opening, and
    /// [`Error::Resample`](crate::Error::Resample) (naming the file) when `rate` is 0 or too far from
    /// the file's rate. Later decoding errors come from [`MonoStream::read`].
    pub fn open(path: &Path, rate: u32) -> Result<Self> {
        let blocks = FileBlocks::open(path)?;
        let from = blocks.sample_rate();
        let resampler = (from != rate)
            .then(|| StreamResampler::new(path, from, rate))
            .transpose()?;
        Ok(MonoStream {
            blocks,
            resampler,
            ready: VecDeque::new(),
            ended: false,
        })
    }

    /// Up to `max` more samples at the target rate (an empty Vec at the end).
    pub fn read(&mut self, max: usize) -> Result<Vec<f32>> {
        while self.ready.len() < max && !self.ended {
            self.pull()?;
        }
        let n = max.min(self.ready.len());
        Ok(self.ready.drain(..n).collect())
    }

    /// The file's sample rate, Hz.
    pub fn source_rate(&self) -> u32 {
        self.blocks.sample_rate()
    }

    /// The file's channel count.
    pub fn channels(&self) -> usize {
        self.blocks.channels()
    }

    /// Decodes one more block into `ready` (through the resampler, which is
    /// flushed at the end of the file).
    fn pull(&mut self) -> Result<()> {
        let Some(block) = self.blocks.next_block()? else {
            self.ended = true;
            if let Some(resampler) = &mut self.resampler {
                resampler.finish(&mut self.ready)?;
            }
            return Ok(());
        };
        let mono = downmix(&block);
        match &mut self.resampler {
            Some(resampler) => resampler.push(&mono, &mut self.ready),
            None => {
                self.ready.extend(mono);
                Ok(())
            }
        }
    }
}

/// The most samples the mono mixdown of `path` at `rate` can hold, from the
/// header alone where the header bounds the decode: a WAV file hound reads
/// stops at its data chunk's declared length (a truncated one decodes
/// shorter, or fails). `Ok(None)` for the formats symphonia decodes, whose
/// headers may omit or understate the length: only a pass over the file
/// ([`scan_mono`]) tells. Lets a caller size its memory for a file it then
/// decodes once, not twice.
///
/// # Errors
/// Those of [`MonoStream::open`].
pub fn mono_len_bound(path: &Path, rate: u32) -> Result<Option<usize>> {
    let blocks = FileBlocks::open(path)?;
    check_rates(blocks.sample_rate(), rate).map_err(|e| name_file_in_resample_error(e, path))?;
    Ok(blocks
        .frames_bound()
        .map(|frames| resampled_len(frames, blocks.sample_rate(), rate)))
}

/// What one pass over a file's mono mixdown found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamStats {
    /// Samples at the target rate.
    pub len: usize,
    /// Their mean, summed in order in f64.
    pub mean: f64,
    /// The file's own rate, Hz.
    pub source_rate: u32,
    pub channels: usize,
}

/// One streaming pass over the whole file: length and f64 mean (summed in
/// order, `x as f64`) of the mono mixdown at `rate`. The mean is what an
/// encoder subtracts before it reads the file a second time.
///
/// # Errors
/// Those of [`MonoStream::open`] and [`MonoStream::read`].
pub fn scan_mono(path: &Path, rate: u32) -> Result<StreamStats> {
    let mut stream = MonoStream::open(path, rate)?;
    let (mut len, mut sum) = (0usize, 0.0f64);
    loop {
        let block = stream.read(SCAN_BLOCK)?;
        if block.is_empty() {
            break;
        }
        len += block.len();
        sum = block.iter().fold(sum, |s, &x| s + x as f64);
    }
    Ok(StreamStats {
        len,
        mean: sum / len.max(1) as f64,
        source_rate: stream.source_rate(),
        channels: stream.channels(),
    })
}

/// rubato's FFT resampler fed chunk by chunk as `process_all` feeds it, so
/// the output equals [`resample`](super::resample)'s: whole input chunks as
/// they fill, the rest as a partial chunk at the end, then zeros until the
/// output is long enough; the startup delay is dropped and the total cut (or
/// padded) to [`resampled_len`]. (`process_all` passes a last whole chunk as
/// a partial one of full length, which reads the same frames.)
struct StreamResampler {
    path: PathBuf,
    from: u32,
    to: u32,
    fft: Fft<f32>,
    /// Input not yet resampled (less than a chunk between calls).
    pending: Vec<f32>,
    /// One call's output.
    scratch: Vec<f32>,
    /// Input frames received.
    consumed: usize,
    /// Output frames of startup delay still to drop.
    to_trim: usize,
    /// Output frames delivered.
    emitted: usize,
}

impl StreamResampler {
    fn new(path: &Path, from: u32, to: u32) -> Result<Self> {
        let named = |e| name_file_in_resample_error(e, path);
        check_rates(from, to).map_err(named)?;
        let fft = fft_resampler(from, to).map_err(|e| named(rubato_error(from, to, &e)))?;
        Ok(StreamResampler {
            path: path.into(),
            from,
            to,
            to_trim: fft.output_delay(),
            scratch: vec![0.0; fft.output_frames_max()],
            fft,
            pending: Vec::new(),
            consumed: 0,
            emitted: 0,
        })
    }

    /// Resamples every whole chunk `samples` completes into `out`.
    fn push(&mut self, samples: &[f32], out: &mut VecDeque<f32>) -> Result<()> {
        self.pending.extend_from_slice(samples);
        self.consumed += samples.len();
        let chunk = self.fft.input_frames_next();
        let mut offset = 0;
        while self.pending.len() - offset >= chunk {
            self.process(offset, None, usize::MAX, out)?;
            offset += chunk;
        }
        self.pending.drain(..offset);
        Ok(())
    }

    /// Flushes the last partial chunk and the filter's tail into `out`.
    fn finish(&mut self, out: &mut VecDeque<f32>) -> Result<()> {
        let total = resampled_len(self.consumed, self.from, self.to);
        // What process_all returns, before resample cuts or pads it to `total`.
        let produced = (self.fft.resample_ratio() * self.consumed as f64).ceil() as usize;
        let keep = produced.min(total);
        if !self.pending.is_empty() {
            self.process(0, Some(self.pending.len()), keep, out)?;
        }
        while self.emitted < keep {
            self.process(0, Some(0), keep, out)?;
        }
        out.extend(std::iter::repeat_n(0.0, total - self.emitted));
        self.emitted = total;
        Ok(())
    }

    /// One resampler call on `pending[offset..]` (a whole chunk, or
    /// `partial` frames); its output, past the delay, goes to `out` until
    /// `limit` frames have been delivered in all.
    fn process(
        &mut self,
        offset: usize,
        partial: Option<usize>,
        limit: usize,
        out: &mut VecDeque<f32>,
    ) -> Result<()> {
        let (from, to) = (self.from, self.to);
        let fail = |e: &dyn std::fmt::Display| {
            name_file_in_resample_error(rubato_error(from, to, e), &self.path)
        };
        let input = &self.pending[offset..];
        let input = InterleavedSlice::new(input, 1, input.len()).map_err(|e| fail(&e))?;
        let frames = self.scratch.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.scratch, 1, frames).map_err(|e| fail(&e))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            active_channels_mask: None,
            partial_len: partial,
        };
        let (_, produced) = self
            .fft
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| fail(&e))?;
        let trimmed = self.to_trim.min(produced);
        self.to_trim -= trimmed;
        let fresh = &self.scratch[trimmed..produced];
        let take = fresh.len().min(limit.saturating_sub(self.emitted));
        out.extend(&fresh[..take]);
        self.emitted += take;
        Ok(())
    }
}
