//! Long-kernel convolution (room reverb): uniformly partitioned overlap-save
//! on the GPU ([`gpu`]), direct and FFT overlap-add references on the CPU
//! ([`cpu`]), and the reverb conveniences on top ([`reverb`]).

pub mod cpu;
pub mod gpu;
pub mod reverb;

use crate::error::{Error, Result, check_finite};

/// Largest partition (block) size: transforms are twice as long, and the
/// shared FFT goes to 8192 points.
pub const MAX_BLOCK: usize = 4096;
/// Smallest partition size.
pub const MIN_BLOCK: usize = 8;

/// What part of the full convolution to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum ConvMode {
    /// All len(x) + len(h) - 1 samples.
    #[default]
    Full,
    /// The first len(x) samples, aligned with the input (a reverb's output).
    Same,
}

impl ConvMode {
    /// Parses "full" or "same".
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "full" => Ok(ConvMode::Full),
            "same" => Ok(ConvMode::Same),
            _ => Err(Error::invalid(
                "mode",
                format!("{name:?}: use full or same"),
            )),
        }
    }

    /// Output length for a signal of `x` samples and a kernel of `h`.
    pub fn output_len(self, x: usize, h: usize) -> usize {
        match self {
            ConvMode::Full => x + h - 1,
            ConvMode::Same => x,
        }
    }
}

/// How the GPU convolution is partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConvConfig {
    /// Partition (block) size, a power of two from 8 to 4096; `None` picks
    /// one for throughput from the kernel length. Small blocks mean low
    /// latency for streaming use, large ones fewer partitions to accumulate.
    pub block: Option<usize>,
    /// Output blocks per submission at most (`None`: as many as fit the
    /// device's bindings). Memory stays bounded by this whatever the input length.
    pub max_blocks_per_chunk: Option<usize>,
}

impl ConvConfig {
    /// The partition size for kernels of `kernel_len` taps.
    pub fn block_for(&self, kernel_len: usize) -> Result<usize> {
        let block = self
            .block
            .unwrap_or_else(|| kernel_len.next_power_of_two().clamp(256, MAX_BLOCK));
        if !block.is_power_of_two() || !(MIN_BLOCK..=MAX_BLOCK).contains(&block) {
            return Err(Error::invalid(
                "partition size",
                format!("{block}: use a power of two from {MIN_BLOCK} to {MAX_BLOCK}"),
            ));
        }
        Ok(block)
    }
}

/// Checks a set of signals or kernels: at least one, none empty, all finite.
pub fn check_inputs(what: &'static str, items: &[&[f32]]) -> Result<()> {
    if items.is_empty() {
        return Err(Error::invalid(what, "none given"));
    }
    for (i, item) in items.iter().enumerate() {
        if item.is_empty() {
            return Err(Error::invalid(what, format!("{what} {i} is empty")));
        }
        check_finite(&format!("{what} {i}"), item)?;
    }
    Ok(())
}

/// Checks that `kernels` fits `signals`: one kernel for all, or one each.
pub fn check_pairing(signals: usize, kernels: usize) -> Result<()> {
    if kernels != 1 && kernels != signals {
        return Err(Error::invalid(
            "kernels",
            format!("{kernels} kernels for {signals} signals: give one for all or one per signal"),
        ));
    }
    Ok(())
}
