//! Where the encoder reads its signal from: a prepared vector in memory, or a
//! file decoded again on every pass, so a long file never needs to fit whole.
//! Every stage reads its windows in order, so a source only has to keep the
//! samples from the earliest start still to come.

use super::WORKING_RATE;
use crate::audio::{MonoStream, StreamStats, scan_mono};
use crate::error::{Error, Result};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Samples a streamed source decodes per read.
const READ_BLOCK: usize = 1 << 14;

/// The prepared signal (at [`WORKING_RATE`], DC removed), read span by span.
pub trait SignalSource {
    /// Samples in the prepared signal.
    fn len(&self) -> usize;

    /// Whether the signal has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples `range` of the prepared signal. Within one pass the starts
    /// never decrease; [`SignalSource::rewind`] begins a new pass.
    fn span(&mut self, range: Range<usize>) -> Result<Vec<f32>>;

    /// Starts a new pass from the beginning.
    fn rewind(&mut self) -> Result<()>;

    /// Seconds spent preparing the source before its first pass (a streamed
    /// file's scan), which the encoder reports as its prepare stage.
    fn prepare_seconds(&self) -> f64 {
        0.0
    }
}

/// A prepared signal held whole.
pub struct InMemory(pub Vec<f32>);

/// Memory a whole-file encode of `samples` samples holds: the decoded signal,
/// the encoder's working copy and the rendering the metrics compare it with.
pub fn whole_file_bytes(samples: usize) -> u64 {
    3 * 4 * samples as u64
}

impl SignalSource for InMemory {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn span(&mut self, range: Range<usize>) -> Result<Vec<f32>> {
        self.0
            .get(range.clone())
            .map(<[f32]>::to_vec)
            .ok_or_else(|| out_of_signal(&range, self.0.len()))
    }

    fn rewind(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A file's mono mixdown decoded (and resampled) on the fly at
/// [`WORKING_RATE`], its mean (from a first scan) subtracted. It keeps only
/// the samples from the earliest start still needed; a rewind reopens the
/// file. The samples equal those of [`super::Encoder::prepare`] on
/// [`crate::audio::load_mono`]'s.
pub struct Streamed {
    path: PathBuf,
    len: usize,
    mean: f32,
    stream: MonoStream,
    /// Prepared samples from `buffer_start` on, decoded but not yet dropped.
    buffer: Vec<f32>,
    buffer_start: usize,
    peak: usize,
    scan_seconds: f64,
}

impl Streamed {
    /// Scans `path` once (length and mean) and opens it for the first pass.
    ///
    /// # Errors
    /// Those of [`scan_mono`].
    pub fn open(path: &Path) -> Result<Self> {
        let clock = Instant::now();
        let stats = scan_mono(path, WORKING_RATE)?;
        Self::scanned(path, &stats, clock.elapsed().as_secs_f64())
    }

    /// Opens `path` for the first pass with the `stats` of a scan already
    /// made at [`WORKING_RATE`] (taking `scan_seconds`), so a caller that
    /// scanned the file to size it does not decode it once more.
    ///
    /// # Errors
    /// Those of [`MonoStream::open`].
    pub fn scanned(path: &Path, stats: &StreamStats, scan_seconds: f64) -> Result<Self> {
        Ok(Streamed {
            path: path.into(),
            len: stats.len,
            mean: stats.mean as f32,
            stream: MonoStream::open(path, WORKING_RATE)?,
            buffer: Vec::new(),
            buffer_start: 0,
            peak: 0,
            scan_seconds,
        })
    }

    /// The most samples ever held at once (a test's check on memory).
    pub fn peak_buffered(&self) -> usize {
        self.peak
    }

    /// Drops the samples before `start`: starts never decrease within a pass,
    /// so they are done with. Samples not decoded yet are decoded and dropped.
    fn advance_to(&mut self, start: usize) -> Result<()> {
        let done = (start - self.buffer_start).min(self.buffer.len());
        self.buffer.drain(..done);
        self.buffer_start += done;
        while self.buffer_start < start {
            let skipped = self
                .stream
                .read(READ_BLOCK.min(start - self.buffer_start))?;
            if skipped.is_empty() {
                return Err(self.shorter_than_scanned());
            }
            self.buffer_start += skipped.len();
        }
        Ok(())
    }

    /// Decodes until the buffer reaches sample `end` of the signal.
    fn fill_to(&mut self, end: usize) -> Result<()> {
        while self.buffer_start + self.buffer.len() < end {
            let block = self.stream.read(READ_BLOCK)?;
            if block.is_empty() {
                return Err(self.shorter_than_scanned());
            }
            self.buffer.extend(block.into_iter().map(|x| x - self.mean));
            self.peak = self.peak.max(self.buffer.len());
        }
        Ok(())
    }

    /// The file changed between passes.
    fn shorter_than_scanned(&self) -> Error {
        Error::Decode {
            path: self.path.clone(),
            reason: "the file now decodes shorter than when it was scanned".into(),
        }
    }
}

impl SignalSource for Streamed {
    fn len(&self) -> usize {
        self.len
    }

    fn span(&mut self, range: Range<usize>) -> Result<Vec<f32>> {
        if range.start < self.buffer_start || range.end > self.len || range.start > range.end {
            return Err(out_of_signal(&range, self.len));
        }
        self.advance_to(range.start)?;
        self.fill_to(range.end)?;
        Ok(self.buffer[..range.len()].to_vec())
    }

    fn rewind(&mut self) -> Result<()> {
        self.stream = MonoStream::open(&self.path, WORKING_RATE)?;
        self.buffer.clear();
        self.buffer_start = 0;
        Ok(())
    }

    fn prepare_seconds(&self) -> f64 {
        self.scan_seconds
    }
}

/// A span the signal does not hold, or one that goes back within a pass.
fn out_of_signal(range: &Range<usize>, len: usize) -> Error {
    Error::invalid(
        "signal span",
        format!(
            "samples {range:?} of a {len}-sample signal (spans must lie within it and not go back within a pass)"
        ),
    )
}
