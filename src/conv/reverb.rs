//! Convolution reverb as users know it: channel pairing (a stereo impulse
//! response makes a mono input stereo), wet/dry mix, full or same length,
//! optional normalisation of the impulse response.

use super::{ConvConfig, ConvMode, cpu, gpu};
use crate::audio::{self, MultiChannel};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// Where the convolution runs.
#[derive(Clone, Copy)]
pub enum Backend<'a> {
    Gpu(&'a GpuContext),
    /// CPU overlap-add on this many threads (0: all cores).
    Cpu {
        threads: usize,
    },
}

/// The mix and shape of a reverb.
#[derive(Debug, Clone, Copy)]
pub struct ReverbOptions {
    /// Gain of the convolved signal.
    pub wet: f32,
    /// Gain of the input itself.
    pub dry: f32,
    pub mode: ConvMode,
    /// Scale the impulse response to unit energy (its loudest channel), so the
    /// wet signal has about the loudness of the dry one.
    pub normalize: bool,
    pub conv: ConvConfig,
}

impl Default for ReverbOptions {
    fn default() -> Self {
        ReverbOptions {
            wet: 1.0,
            dry: 0.0,
            mode: ConvMode::Full,
            normalize: false,
            conv: ConvConfig::default(),
        }
    }
}

/// Largest output wavesplat will build, in samples over all channels (the
/// host holds it whole; 2^30 floats is 4 GiB, a WAV file's limit too).
pub const MAX_OUTPUT_SAMPLES: usize = 1 << 30;

/// Fails with [`Error::OutOfMemory`] when `channels` x `len` output samples
/// would not fit (see [`MAX_OUTPUT_SAMPLES`]).
pub fn check_output_size(channels: usize, len: usize) -> Result<()> {
    if len.saturating_mul(channels) > MAX_OUTPUT_SAMPLES {
        return Err(Error::OutOfMemory(format!(
            "the output would hold {channels} x {len} samples, more than {MAX_OUTPUT_SAMPLES}"
        )));
    }
    Ok(())
}

/// The impulse response at `rate` (resampled if needed), normalised if asked.
pub fn prepare_ir(ir: &MultiChannel, rate: u32, normalize: bool) -> Result<Vec<Vec<f32>>> {
    let mut channels = ir
        .channels
        .iter()
        .map(|c| audio::resample(c, ir.sample_rate, rate))
        .collect::<Result<Vec<_>>>()?;
    if normalize {
        let energy = channels
            .iter()
            .map(|c| c.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>())
            .fold(0.0, f64::max);
        if energy <= 0.0 {
            return Err(Error::invalid(
                "impulse response",
                "it is silent: nothing to normalise",
            ));
        }
        let gain = (1.0 / energy.sqrt()) as f32;
        channels.iter_mut().flatten().for_each(|v| *v *= gain);
    }
    Ok(channels)
}

/// Which input channel goes through which IR channel: equal counts pair up;
/// one input channel goes through every IR channel; one IR channel serves
/// every input channel.
pub fn pair_channels(input: usize, ir: usize) -> Result<Vec<(usize, usize)>> {
    match (input, ir) {
        (a, b) if a == b => Ok((0..a).map(|c| (c, c)).collect()),
        (1, b) => Ok((0..b).map(|c| (0, c)).collect()),
        (a, 1) => Ok((0..a).map(|c| (c, 0)).collect()),
        (a, b) => Err(Error::invalid(
            "channels",
            format!(
                "{a} input channels and {b} impulse-response channels: use equal counts, or one of either"
            ),
        )),
    }
}

/// Convolves `input` with `ir` (resampled to the input's rate) and mixes.
pub fn reverb(
    input: &MultiChannel,
    ir: &MultiChannel,
    opts: &ReverbOptions,
    backend: Backend,
) -> Result<MultiChannel> {
    let ir_channels = prepare_ir(ir, input.sample_rate, opts.normalize)?;
    if ir_channels.iter().any(Vec::is_empty) {
        return Err(Error::invalid(
            "impulse response",
            "it has no samples at the input's rate",
        ));
    }
    let pairs = pair_channels(input.channels.len(), ir_channels.len())?;
    let x_len = input.channels.first().map_or(0, Vec::len);
    let h_len = ir_channels[0].len();
    let out_len = opts.mode.output_len(x_len, h_len);
    check_output_size(pairs.len(), out_len)?;
    let signals: Vec<&[f32]> = pairs
        .iter()
        .map(|&(i, _)| input.channels[i].as_slice())
        .collect();
    let kernels: Vec<&[f32]> = pairs
        .iter()
        .map(|&(_, k)| ir_channels[k].as_slice())
        .collect();
    let wet = match backend {
        Backend::Gpu(ctx) => gpu::convolve(ctx, &signals, &kernels, &opts.conv)?,
        Backend::Cpu { threads } => cpu::convolve(&signals, &kernels, threads)?,
    };
    let channels = wet
        .into_iter()
        .zip(&signals)
        .map(|(y, x)| mix(&y[..out_len], x, opts))
        .collect();
    Ok(MultiChannel {
        channels,
        sample_rate: input.sample_rate,
    })
}

/// dry * x + wet * y over the output length (x is zero past its end).
fn mix(y: &[f32], x: &[f32], opts: &ReverbOptions) -> Vec<f32> {
    y.iter()
        .enumerate()
        .map(|(i, &v)| opts.wet * v + opts.dry * x.get(i).copied().unwrap_or(0.0))
        .collect()
}

/// Frames read per block when streaming a file.
pub const STREAM_BLOCK_FRAMES: usize = 1 << 16;

/// [`reverb`] of a WAV file read and written block by block on the GPU (via
/// [`gpu::ConvStream`]): host and device memory stay bounded whatever the
/// input's length, and the samples equal those of [`reverb`] on the GPU.
/// Returns the channels and frames written.
pub fn reverb_wav_stream(
    ctx: &GpuContext,
    input: &mut audio::WavBlockReader,
    ir: &MultiChannel,
    opts: &ReverbOptions,
    out: &std::path::Path,
    format: audio::WavFormat,
) -> Result<(usize, usize)> {
    let ir_channels = prepare_ir(ir, input.sample_rate(), opts.normalize)?;
    if ir_channels.iter().any(Vec::is_empty) {
        return Err(Error::invalid(
            "impulse response",
            "it has no samples at the input's rate",
        ));
    }
    let pairs = pair_channels(input.channels(), ir_channels.len())?;
    let total = opts
        .mode
        .output_len(input.frames_left(), ir_channels[0].len());
    check_output_size(pairs.len(), total)?;
    let kernels: Vec<&[f32]> = pairs
        .iter()
        .map(|&(_, k)| ir_channels[k].as_slice())
        .collect();
    let mut stream = gpu::ConvStream::new(ctx, &kernels, pairs.len(), &opts.conv)?;
    let mut writer = audio::WavBlockWriter::create(out, pairs.len(), input.sample_rate(), format)?;
    let mut dry: Vec<std::collections::VecDeque<f32>> = vec![Default::default(); pairs.len()];
    let mut written = 0;
    while let Some(block) = input.next_block(STREAM_BLOCK_FRAMES)? {
        let signals: Vec<&[f32]> = pairs.iter().map(|&(i, _)| block[i].as_slice()).collect();
        for (fifo, x) in dry.iter_mut().zip(&signals) {
            fifo.extend(x.iter());
        }
        let wet = stream.push(&signals)?;
        written += write_mixed(&mut writer, wet, &mut dry, opts, total - written)?;
    }
    let tail = stream.finish()?;
    written += write_mixed(&mut writer, tail, &mut dry, opts, total - written)?;
    writer.finish()?;
    Ok((pairs.len(), written))
}

/// Mixes up to `room` frames of `wet` with the dry samples queued for the
/// same positions, writes them and returns how many were written.
fn write_mixed(
    writer: &mut audio::WavBlockWriter,
    wet: Vec<Vec<f32>>,
    dry: &mut [std::collections::VecDeque<f32>],
    opts: &ReverbOptions,
    room: usize,
) -> Result<usize> {
    let n = wet.first().map_or(0, Vec::len).min(room);
    let mixed: Vec<Vec<f32>> = wet
        .iter()
        .zip(dry.iter_mut())
        .map(|(y, fifo)| {
            y[..n]
                .iter()
                .map(|&v| opts.wet * v + opts.dry * fifo.pop_front().unwrap_or(0.0))
                .collect()
        })
        .collect();
    writer.write(&mixed)?;
    Ok(n)
}
