//! Audio file input and output, downmixing and resampling.
//!
//! Reading accepts WAV in every common sample format (8/16/24/32-bit integer,
//! 32-bit float, WAVE_FORMAT_EXTENSIBLE) through `hound`, and FLAC, Ogg Vorbis,
//! MP3 and the WAV variants `hound` rejects (64-bit float, A-law, mu-law,
//! padded containers, ...) through `symphonia`. The format is chosen by looking
//! at the file's contents; the extension is only a hint. Samples come back as
//! `f32`, integer formats scaled to [-1, 1). Writing produces 16-bit PCM or 32-bit float WAV through a
//! temporary file that is renamed into place, so a failed write never leaves a
//! half file behind.

use crate::error::{Error, Result, check_finite};
use crate::fsutil::write_atomically;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};
use symphonia::core::codecs::audio::well_known::{CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

mod stream;
pub use stream::{MonoStream, StreamStats, mono_len_bound, scan_mono};

/// The sample rate wavesplat works at unless told otherwise, in Hz.
pub const DEFAULT_RATE: u32 = 22050;

/// The largest ratio between two sample rates [`resample`] accepts, either way.
pub const MAX_RESAMPLE_RATIO: u32 = 256;

/// The smallest FFT block the resampler uses, in frames on its shorter side.
/// Longer blocks put the anti-aliasing cutoff closer to Nyquist.
const MIN_FFT_BLOCK: usize = 2048;

/// The most sample data a WAV file can hold: its sizes are 32-bit, and the
/// RIFF size also counts the header.
const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - 1024;

/// A mono signal: the working form of audio in wavesplat.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// The samples, nominally in [-1, 1].
    pub samples: Vec<f32>,
    /// Samples per second, in Hz.
    pub sample_rate: u32,
}

impl Audio {
    /// The signal's length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// A signal with one or more channels of equal length, as stored in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiChannel {
    /// One sample vector per channel, all the same length.
    pub channels: Vec<Vec<f32>>,
    /// Samples per second of each channel, in Hz.
    pub sample_rate: u32,
}

impl MultiChannel {
    /// The number of channels.
    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    /// The number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// The mean of the channels, as a mono [`Audio`] at the same rate.
    pub fn to_mono(&self) -> Audio {
        Audio {
            samples: downmix(&self.channels),
            sample_rate: self.sample_rate,
        }
    }
}

/// The sample encoding [`write_wav`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit signed integer PCM; samples are clamped to [-1, 1] and rounded.
    Pcm16,
    /// 32-bit IEEE float; samples are stored exactly.
    Float32,
}

impl WavFormat {
    fn spec(self, channels: u16, sample_rate: u32) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            WavFormat::Pcm16 => (16, hound::SampleFormat::Int),
            WavFormat::Float32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample,
            sample_format,
        }
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Reads an audio file into one `f32` vector per channel.
///
/// WAV files are read with `hound` when it supports their sample format, all
/// else (FLAC, Ogg Vorbis, MP3, unusual WAV encodings) with `symphonia`; the
/// choice is made from the file's contents, the extension is only a hint.
///
/// # Errors
/// Every error names the file: [`Error::Io`] when it cannot be opened or read,
/// [`Error::Decode`] when it is corrupt or truncated,
/// [`Error::UnsupportedFormat`] when it is not audio wavesplat can decode,
/// [`Error::EmptyAudio`] when it holds no samples (a 0-byte file included) and
/// [`Error::NonFinite`] when a sample is NaN or infinite.
pub fn read_audio(path: &Path) -> Result<MultiChannel> {
    let mut blocks = FileBlocks::open(path)?;
    let mut channels = vec![Vec::new(); blocks.channels()];
    while let Some(block) = blocks.next_block()? {
        for (channel, samples) in channels.iter_mut().zip(block) {
            channel.extend_from_slice(&samples);
        }
    }
    Ok(MultiChannel {
        channels,
        sample_rate: blocks.sample_rate(),
    })
}

/// Reads an audio file, mixes it down to mono and, when `target_rate` is given
/// and differs from the file's rate, resamples it.
///
/// # Errors
/// Those of [`read_audio`], and [`Error::Resample`] (naming the file) when the
/// target rate is 0 or too far from the file's rate.
pub fn load_mono(path: &Path, target_rate: Option<u32>) -> Result<Audio> {
    let audio = read_audio(path)?.to_mono();
    match target_rate {
        Some(rate) if rate != audio.sample_rate => Ok(Audio {
            samples: resample(&audio.samples, audio.sample_rate, rate)
                .map_err(|e| name_file_in_resample_error(e, path))?,
            sample_rate: rate,
        }),
        _ => Ok(audio),
    }
}

fn name_file_in_resample_error(err: Error, path: &Path) -> Error {
    match err {
        Error::Resample { from, to, reason } => Error::Resample {
            from,
            to,
            reason: format!("{}: {reason}", path.display()),
        },
        other => other,
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path, e))
}

/// Fails unless `path` is a non-empty file: a directory is an I/O error and a
/// 0-byte file holds no audio, whatever decoder would have been tried.
fn check_openable(path: &Path) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if metadata.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory");
        return Err(Error::io(path, source));
    }
    if metadata.len() == 0 {
        return Err(Error::EmptyAudio { path: path.into() });
    }
    Ok(())
}

/// Fails at the first NaN or infinite sample of a block whose first frame is
/// frame `offset` of the file, naming the file, the channel and the sample's
/// index in the whole channel (so blocks report what a whole read would).
fn check_block_finite(path: &Path, block: &[Vec<f32>], offset: usize) -> Result<()> {
    for (index, channel) in block.iter().enumerate() {
        check_finite(&format!("{} (channel {index})", path.display()), channel).map_err(
            |e| match e {
                Error::NonFinite { what, index, value } => Error::NonFinite {
                    what,
                    index: index + offset,
                    value,
                },
                other => other,
            },
        )?;
    }
    Ok(())
}

fn decode_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Decode {
        path: path.into(),
        reason: reason.into(),
    }
}

fn unsupported_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::UnsupportedFormat {
        path: path.into(),
        reason: reason.into(),
    }
}

/// If the stream starts with a RIFF/WAVE header whose `fmt ` chunk can be
/// read, the width in bits of one stored sample (the container, which may be
/// wider than the valid bits). `None` for anything else.
fn wav_container_bits(reader: &mut (impl Read + Seek)) -> Option<u32> {
    let mut riff = [0u8; 12];
    reader.read_exact(&mut riff).ok()?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return None;
    }
    loop {
        let mut header = [0u8; 8];
        reader.read_exact(&mut header).ok()?;
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[0..4] == b"fmt " {
            let mut fmt = [0u8; 16];
            reader.read_exact(&mut fmt).ok()?;
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let block_align = u16::from_le_bytes([fmt[12], fmt[13]]);
            return (channels > 0).then(|| 8 * u32::from(block_align / channels));
        }
        // Chunks are padded to an even length.
        let skip = i64::from(len) + i64::from(len & 1);
        reader.seek(SeekFrom::Current(skip)).ok()?;
    }
}

/// Spreads interleaved samples over `out` (one vector per channel).
fn deinterleave<S>(
    path: &Path,
    samples: impl Iterator<Item = hound::Result<S>>,
    out: &mut [Vec<f32>],
    convert: impl Fn(S) -> f32,
) -> Result<()> {
    let channels = out.len();
    for (index, sample) in samples.enumerate() {
        let sample = sample.map_err(|e| hound_read_error(path, e))?;
        out[index % channels].push(convert(sample));
    }
    Ok(())
}

fn hound_read_error(path: &Path, err: hound::Error) -> Error {
    match err {
        // An error from the operating system is an I/O failure; anything else
        // hound reports while reading samples means the data ran out.
        hound::Error::IoError(e) if e.raw_os_error().is_some() => Error::io(path, e),
        hound::Error::IoError(_) => decode_error(
            path,
            "the data chunk ends before the length its header gives (truncated file?)",
        ),
        other => decode_error(path, other.to_string()),
    }
}

/// Frames per block when a hound-read WAV is decoded (symphonia gives a packet
/// at a time).
const WAV_BLOCK_FRAMES: usize = 1 << 14;

/// A file's decoder, chosen from its contents (the extension is only a hint):
/// `hound` for the WAV forms it reads exactly, `symphonia` for the rest.
/// Blocks come out planar and checked (finite, consistent channels and rate),
/// so [`read_audio`] and a stream ([`MonoStream`]) see the same samples and
/// the same errors.
pub(crate) enum FileBlocks {
    Wav(WavBlockReader),
    Symphonia(Box<SymphoniaBlocks>),
}

impl FileBlocks {
    /// Opens `path` with the decoder its contents call for; fails with
    /// [`Error::EmptyAudio`] if it holds no samples.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        check_openable(path)?;
        let blocks = match WavBlockReader::open(path)? {
            Some(wav) => FileBlocks::Wav(wav),
            None => FileBlocks::Symphonia(Box::new(SymphoniaBlocks::open(path)?)),
        };
        if blocks.sample_rate() == 0 {
            return Err(decode_error(path, "the header gives a sample rate of 0 Hz"));
        }
        Ok(blocks)
    }

    pub(crate) fn channels(&self) -> usize {
        match self {
            FileBlocks::Wav(wav) => wav.channels(),
            FileBlocks::Symphonia(sym) => sym.channels,
        }
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        match self {
            FileBlocks::Wav(wav) => wav.sample_rate(),
            FileBlocks::Symphonia(sym) => sym.sample_rate,
        }
    }

    /// The most frames the decoder can return, where its header bounds them
    /// (hound stops at a WAV data chunk's declared length); `None` where only
    /// decoding tells.
    pub(crate) fn frames_bound(&self) -> Option<usize> {
        match self {
            FileBlocks::Wav(wav) => Some(wav.frames_left()),
            FileBlocks::Symphonia(_) => None,
        }
    }

    /// The next block (one vector per channel, equal lengths); `None` at the end.
    pub(crate) fn next_block(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        match self {
            FileBlocks::Wav(wav) => wav.next_block(WAV_BLOCK_FRAMES),
            FileBlocks::Symphonia(sym) => sym.next_block(),
        }
    }
}

/// Any format symphonia knows, decoded a packet at a time. The first
/// non-empty packet is decoded on opening: it fixes the channels and rate.
pub(crate) struct SymphoniaBlocks {
    path: std::path::PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track: AudioTrack,
    channels: usize,
    sample_rate: u32,
    /// Frames decoded so far.
    frames: usize,
    first: Option<Vec<Vec<f32>>>,
    ended: bool,
}

impl SymphoniaBlocks {
    fn open(path: &Path) -> Result<Self> {
        let stream = MediaSourceStream::new(Box::new(open(path)?), Default::default());
        let mut hint = Hint::new();
        if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(extension);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                stream,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| symphonia_error(path, e))?;
        let track = audio_track(path, format.as_ref())?;
        // Gapless decoding (the default) trims the encoder's delay and padding.
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&track.params, &AudioDecoderOptions::default())
            .map_err(|e| symphonia_error(path, e))?;
        let mut blocks = SymphoniaBlocks {
            path: path.into(),
            format,
            decoder,
            sample_rate: track.params.sample_rate.unwrap_or(0),
            track,
            channels: 0,
            frames: 0,
            first: None,
            ended: false,
        };
        blocks.first = blocks.next_block()?;
        if blocks.first.is_none() {
            return Err(Error::EmptyAudio { path: path.into() });
        }
        Ok(blocks)
    }

    fn next_block(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        if self.ended {
            return Ok(None);
        }
        let block = self.decode_next()?;
        if block.is_none() {
            self.ended = true;
            self.check_promised_frames()?;
        }
        Ok(block)
    }

    /// Decodes packets of the track until one holds audio.
    fn decode_next(&mut self) -> Result<Option<Vec<Vec<f32>>>> {
        let path = self.path.as_path();
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(None),
                Err(SymphoniaError::ResetRequired) => {
                    log::warn!(
                        "{}: the stream changes parameters part way (chained stream); \
                         reading only its first part",
                        path.display()
                    );
                    return Ok(None);
                }
                Err(e) => return Err(symphonia_error(path, e)),
            };
            if packet.track_id != self.track.id {
                continue;
            }
            let buffer = self
                .decoder
                .decode(&packet)
                .map_err(|e| symphonia_error(path, e))?;
            if buffer.frames() == 0 {
                continue;
            }
            if self.channels == 0 {
                self.channels = buffer.num_planes();
                self.sample_rate = buffer.spec().rate();
            } else if self.channels != buffer.num_planes()
                || self.sample_rate != buffer.spec().rate()
            {
                return Err(unsupported_error(
                    path,
                    "the channel count or sample rate changes part way through the stream",
                ));
            }
            let mut planes: Vec<Vec<f32>> = Vec::new();
            buffer.copy_to_vecs_planar(&mut planes);
            check_block_finite(path, &planes, self.frames)?;
            self.frames += planes.first().map_or(0, Vec::len);
            return Ok(Some(planes));
        }
    }

    /// A file that ends before the frames its container announces is truncated.
    fn check_promised_frames(&self) -> Result<()> {
        match self.track.promised_frames {
            Some(promised) if (self.frames as u64) < promised => Err(decode_error(
                &self.path,
                format!(
                    "decoded only {} of the {promised} frames its header announces \
                     (truncated or corrupt file?)",
                    self.frames
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// What [`SymphoniaBlocks`] needs to know about the track it decodes.
struct AudioTrack {
    id: u32,
    params: AudioCodecParameters,
    /// The number of frames the container announces, where that is exact.
    promised_frames: Option<u64>,
}

/// The file's default audio track.
fn audio_track(path: &Path, format: &dyn FormatReader) -> Result<AudioTrack> {
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unsupported_error(path, "the file has no audio track"))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unsupported_error(path, "the audio track's codec is unknown"))?;
    // An MPEG audio file without a LAME header (which sets the delay) only
    // carries a frame count estimated from its bitrate.
    let is_mpeg = [CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3].contains(&params.codec);
    let exact_count = !is_mpeg || track.delay.is_some();
    Ok(AudioTrack {
        id: track.id,
        params: params.clone(),
        promised_frames: track.num_frames.filter(|_| exact_count),
    })
}

fn symphonia_error(path: &Path, err: SymphoniaError) -> Error {
    match err {
        // Symphonia also reports running out of data as an I/O error; only an
        // error from the operating system is a real I/O failure.
        SymphoniaError::IoError(e) if e.raw_os_error().is_some() => Error::io(path, e),
        SymphoniaError::IoError(e) => decode_error(
            path,
            format!("the stream ends part way through (truncated file?): {e}"),
        ),
        SymphoniaError::Unsupported(what) => unsupported_error(path, what),
        other => decode_error(path, other.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Channel mixing and resampling
// ---------------------------------------------------------------------------

/// Mixes channels down to mono: the sample-wise mean of the channels.
///
/// Channels should have equal length; if they do not, the result is as long
/// as the shortest. No channels give an empty signal.
pub fn downmix<C: AsRef<[f32]>>(channels: &[C]) -> Vec<f32> {
    let Some(len) = channels.iter().map(|c| c.as_ref().len()).min() else {
        return Vec::new();
    };
    let mut mono = vec![0.0f32; len];
    for channel in channels {
        for (sum, &x) in mono.iter_mut().zip(channel.as_ref()) {
            *sum += x;
        }
    }
    let scale = 1.0 / channels.len() as f32;
    for x in &mut mono {
        *x *= scale;
    }
    mono
}

/// Resamples a mono signal from `from` Hz to `to` Hz with rubato's FFT-based
/// synchronous resampler (Blackman-Harris anti-aliasing filter).
///
/// The output has `round(len * to / from)` samples and is time-aligned with
/// the input: the resampler's delay is removed. Equal rates return a copy.
///
/// # Errors
/// [`Error::Resample`] when a rate is 0 or one rate is more than
/// [`MAX_RESAMPLE_RATIO`] times the other; [`Error::NonFinite`] when the input
/// holds NaN or infinity.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    check_rates(from, to)?;
    if from == to {
        return Ok(samples.to_vec());
    }
    check_finite("resampler input", samples)?;
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let rubato_error = |e: &dyn std::fmt::Display| rubato_error(from, to, e);
    let mut resampler = fft_resampler(from, to).map_err(|e| rubato_error(&e))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| rubato_error(&e))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| rubato_error(&e))?;
    let mut resampled = output.take_data();
    resampled.resize(resampled_len(samples.len(), from, to), 0.0);
    Ok(resampled)
}

/// The length [`resample`] gives a signal of `len` samples: `round(len * to / from)`.
pub fn resampled_len(len: usize, from: u32, to: u32) -> usize {
    if from == 0 {
        return 0;
    }
    let (from, to) = (u128::from(from), u128::from(to));
    ((len as u128 * to + from / 2) / from) as usize
}

/// A failure inside rubato, as [`Error::Resample`].
fn rubato_error(from: u32, to: u32, e: &dyn std::fmt::Display) -> Error {
    Error::Resample {
        from,
        to,
        reason: e.to_string(),
    }
}

fn check_rates(from: u32, to: u32) -> Result<()> {
    let fail = |reason: String| Err(Error::Resample { from, to, reason });
    if from == 0 || to == 0 {
        return fail("sample rates must be positive".into());
    }
    let (low, high) = (u64::from(from.min(to)), u64::from(from.max(to)));
    if high > low * u64::from(MAX_RESAMPLE_RATIO) {
        return fail(format!(
            "the ratio is more than {MAX_RESAMPLE_RATIO}x, which is not supported"
        ));
    }
    Ok(())
}

/// An FFT resampler whose blocks are long enough for a cutoff close to Nyquist.
fn fft_resampler(
    from: u32,
    to: u32,
) -> std::result::Result<Fft<f32>, rubato::ResamplerConstructionError> {
    let divisor = gcd(from, to);
    let block_in = (from / divisor) as usize;
    let block_out = (to / divisor) as usize;
    // An even block count keeps the FFT lengths even, so the delay rubato
    // trims (half the output FFT length) is a whole number of samples.
    let blocks = MIN_FFT_BLOCK
        .div_ceil(block_in.min(block_out))
        .next_multiple_of(2);
    Fft::new_custom(
        from as usize,
        to as usize,
        blocks * block_in,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Input,
    )
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Writes channels of equal length as an interleaved WAV file, atomically
/// (a temporary file renamed into place).
///
/// [`WavFormat::Pcm16`] clamps samples to [-1, 1] and rounds them to the
/// nearest of 65536 levels (read back exactly by [`read_audio`]);
/// [`WavFormat::Float32`] stores them exactly.
///
/// # Errors
/// [`Error::InvalidParameter`] for no channels, channels of unequal length,
/// more than 65535 channels or a sample rate of 0; [`Error::NonFinite`] for a
/// NaN or infinite sample; [`Error::Io`] when the file cannot be written. All
/// name the file.
pub fn write_wav<C: AsRef<[f32]>>(
    path: &Path,
    channels: &[C],
    sample_rate: u32,
    format: WavFormat,
) -> Result<()> {
    let (num_channels, frames) = check_writable(path, channels, sample_rate, format)?;
    let spec = format.spec(num_channels, sample_rate);
    write_atomically(path, |out| {
        let mut writer =
            hound::WavWriter::new(out, spec).map_err(|e| hound_write_error(path, e))?;
        for frame in 0..frames {
            for channel in channels {
                let x = channel.as_ref()[frame];
                let written = match format {
                    WavFormat::Pcm16 => writer.write_sample(to_pcm16(x)),
                    WavFormat::Float32 => writer.write_sample(x),
                };
                written.map_err(|e| hound_write_error(path, e))?;
            }
        }
        writer.finalize().map_err(|e| hound_write_error(path, e))
    })
}

/// Writes a mono signal as a WAV file; see [`write_wav`].
///
/// # Errors
/// Those of [`write_wav`].
pub fn write_mono_wav(path: &Path, audio: &Audio, format: WavFormat) -> Result<()> {
    write_wav(path, &[&audio.samples[..]], audio.sample_rate, format)
}

/// Checks what [`write_wav`] is given; returns the channel and frame counts.
fn check_writable<C: AsRef<[f32]>>(
    path: &Path,
    channels: &[C],
    sample_rate: u32,
    format: WavFormat,
) -> Result<(u16, usize)> {
    let file = path.display();
    let Some(first) = channels.first() else {
        return Err(Error::invalid(
            "channels",
            format!("{file}: no channels to write"),
        ));
    };
    let num_channels = u16::try_from(channels.len()).map_err(|_| {
        Error::invalid(
            "channels",
            format!(
                "{file}: {} channels, WAV holds at most 65535",
                channels.len()
            ),
        )
    })?;
    if sample_rate == 0 {
        return Err(Error::invalid(
            "sample_rate",
            format!("{file}: the sample rate must be positive"),
        ));
    }
    let frames = first.as_ref().len();
    let bytes_per_sample = u64::from(format.spec(1, 1).bits_per_sample / 8);
    let data_bytes = frames as u64 * channels.len() as u64 * bytes_per_sample;
    if data_bytes > MAX_WAV_DATA_BYTES {
        return Err(Error::invalid(
            "channels",
            format!("{file}: {data_bytes} bytes of samples do not fit in a WAV file (4 GiB)"),
        ));
    }
    for (index, channel) in channels.iter().enumerate() {
        let len = channel.as_ref().len();
        if len != frames {
            return Err(Error::invalid(
                "channels",
                format!("{file}: channel {index} has {len} samples but channel 0 has {frames}"),
            ));
        }
        check_finite(&format!("{file} (channel {index})"), channel.as_ref())?;
    }
    Ok((num_channels, frames))
}

/// The 16-bit PCM level nearest to `x`, clamped to the representable range.
fn to_pcm16(x: f32) -> i16 {
    (x.clamp(-1.0, 1.0) * 32768.0)
        .round()
        .clamp(-32768.0, 32767.0) as i16
}

fn hound_write_error(path: &Path, err: hound::Error) -> Error {
    match err {
        hound::Error::IoError(e) => Error::io(path, e),
        other => Error::io(path, std::io::Error::other(other)),
    }
}

/// A WAV file read a block at a time, for inputs too long to hold whole
/// (an hour of 44.1 kHz stereo). Covers the WAV forms hound reads exactly
/// (8/16/24/32-bit integer, 32-bit float); [`WavBlockReader::open`] says
/// `None` for others, which [`read_audio`] and [`MonoStream`] decode with
/// symphonia. [`read_audio`] reads through it too, so both see the same
/// samples and errors.
pub struct WavBlockReader {
    path: std::path::PathBuf,
    reader: hound::WavReader<BufReader<File>>,
    frames_left: usize,
    /// Frames returned so far (for the index a non-finite sample reports).
    frames_read: usize,
}

impl WavBlockReader {
    /// Opens `path`, or `Ok(None)` if it is not a WAV file hound reads exactly.
    pub fn open(path: &Path) -> Result<Option<Self>> {
        let mut file = open(path)?;
        let Some(container_bits) = wav_container_bits(&mut file) else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        let Ok(reader) = hound::WavReader::new(BufReader::new(file)) else {
            return Ok(None);
        };
        let spec = reader.spec();
        let exact = u32::from(spec.bits_per_sample) == container_bits
            && matches!(
                (spec.sample_format, spec.bits_per_sample),
                (hound::SampleFormat::Float, 32) | (hound::SampleFormat::Int, 8 | 16 | 24 | 32)
            );
        if !exact || spec.channels == 0 {
            return Ok(None);
        }
        if reader.duration() == 0 {
            return Err(Error::EmptyAudio {
                path: path.to_path_buf(),
            });
        }
        Ok(Some(WavBlockReader {
            path: path.to_path_buf(),
            frames_left: reader.duration() as usize,
            frames_read: 0,
            reader,
        }))
    }

    /// Channels in the file.
    pub fn channels(&self) -> usize {
        usize::from(self.reader.spec().channels)
    }

    /// Samples per second of each channel.
    pub fn sample_rate(&self) -> u32 {
        self.reader.spec().sample_rate
    }

    /// Frames (samples per channel) not read yet, as the header says.
    pub fn frames_left(&self) -> usize {
        self.frames_left
    }

    /// The next (up to) `frames` frames per channel; `None` at the end.
    pub fn next_block(&mut self, frames: usize) -> Result<Option<Vec<Vec<f32>>>> {
        let frames = frames.min(self.frames_left);
        if frames == 0 {
            return Ok(None);
        }
        let spec = self.reader.spec();
        let channels = usize::from(spec.channels);
        let mut out = vec![Vec::with_capacity(frames); channels];
        let count = frames * channels;
        if spec.sample_format == hound::SampleFormat::Float {
            deinterleave(
                &self.path,
                self.reader.samples::<f32>().take(count),
                &mut out,
                |x| x,
            )?;
        } else {
            let scale = 1.0 / f64::from(1u32 << (spec.bits_per_sample - 1));
            let samples = self.reader.samples::<i32>().take(count);
            deinterleave(&self.path, samples, &mut out, |x| {
                (f64::from(x) * scale) as f32
            })?;
        }
        if out.iter().any(|c| c.len() != frames) {
            return Err(decode_error(
                &self.path,
                "the file ends before its header says (truncated?)",
            ));
        }
        check_block_finite(&self.path, &out, self.frames_read)?;
        self.frames_left -= frames;
        self.frames_read += frames;
        Ok(Some(out))
    }
}

/// A WAV file written a block at a time under a temporary name, renamed into
/// place by [`WavBlockWriter::finish`]; dropped unfinished, it removes the
/// temporary file, so an interrupted run leaves no half file.
pub struct WavBlockWriter {
    path: std::path::PathBuf,
    temp: std::path::PathBuf,
    writer: Option<hound::WavWriter<std::io::BufWriter<File>>>,
    format: WavFormat,
}

impl WavBlockWriter {
    /// Starts writing `channels` channels at `sample_rate` to `path`.
    pub fn create(
        path: &Path,
        channels: usize,
        sample_rate: u32,
        format: WavFormat,
    ) -> Result<Self> {
        if channels == 0 || channels > usize::from(u16::MAX) || sample_rate == 0 {
            return Err(Error::invalid(
                "output",
                format!(
                    "{}: {channels} channels at {sample_rate} Hz cannot be written",
                    path.display()
                ),
            ));
        }
        let temp = crate::fsutil::temp_path_for(path);
        let file = File::create(&temp).map_err(|e| Error::io(path, e))?;
        let spec = format.spec(channels as u16, sample_rate);
        let writer = hound::WavWriter::new(std::io::BufWriter::new(file), spec)
            .map_err(|e| hound_write_error(path, e))?;
        Ok(WavBlockWriter {
            path: path.to_path_buf(),
            temp,
            writer: Some(writer),
            format,
        })
    }

    /// Appends one block (one vector per channel, equal lengths, finite).
    pub fn write(&mut self, channels: &[Vec<f32>]) -> Result<()> {
        let writer = self.writer.as_mut().expect("writer present until finish");
        for (index, channel) in channels.iter().enumerate() {
            check_finite(
                &format!("{} (channel {index})", self.path.display()),
                channel,
            )?;
        }
        let frames = channels.first().map_or(0, Vec::len);
        for frame in 0..frames {
            for channel in channels {
                let x = channel[frame];
                let written = match self.format {
                    WavFormat::Pcm16 => writer.write_sample(to_pcm16(x)),
                    WavFormat::Float32 => writer.write_sample(x),
                };
                written.map_err(|e| hound_write_error(&self.path, e))?;
            }
        }
        Ok(())
    }

    /// Completes the header, syncs and renames the file into place.
    pub fn finish(mut self) -> Result<()> {
        let writer = self.writer.take().expect("writer present until finish");
        writer
            .finalize()
            .map_err(|e| hound_write_error(&self.path, e))?;
        File::open(&self.temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&self.path, e))?;
        std::fs::rename(&self.temp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for WavBlockWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            // Unfinished: the partial file must not look whole.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
