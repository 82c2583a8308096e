//! Integration tests for `wavesplat::audio`: reading every supported format,
//! writing WAV, downmixing, resampling and the error for each kind of bad input.

mod common;

use std::f64::consts::TAU;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use wavesplat::Error;
use wavesplat::audio::{
    Audio, DEFAULT_RATE, MultiChannel, WavFormat, downmix, load_mono, read_audio, resample,
    resampled_len, write_mono_wav, write_wav,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A file under the temp dir with a unique name, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let unique = format!("wavesplat_audio_{}_{n}_{name}", std::process::id());
        TempFile(std::env::temp_dir().join(unique))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The file name, which every error message about the file must contain.
    fn name(&self) -> String {
        self.0.file_name().unwrap().to_string_lossy().into_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `amplitude * sin(2 pi freq t)` sampled at `rate`, computed in f64.
fn sine(freq: f64, rate: u32, len: usize, amplitude: f64) -> Vec<f32> {
    (0..len)
        .map(|i| (amplitude * (TAU * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Frequency from the zero crossings: (crossings - 1) half periods between
/// the first and the last crossing, located by linear interpolation.
fn zero_crossing_freq(x: &[f32], rate: u32) -> f64 {
    let crossings: Vec<f64> = x
        .windows(2)
        .enumerate()
        .filter(|(_, w)| (w[0] < 0.0) != (w[1] < 0.0))
        .map(|(i, w)| i as f64 + f64::from(w[0]) / f64::from(w[0] - w[1]))
        .collect();
    assert!(crossings.len() > 2, "too few zero crossings");
    let span = crossings[crossings.len() - 1] - crossings[0];
    (crossings.len() - 1) as f64 / 2.0 / (span / f64::from(rate))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Writes interleaved integer samples with hound at the given bit depth.
fn write_hound_int(path: &Path, channels: u16, rate: u32, bits: u16, interleaved: &[i32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for &s in interleaved {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
}

/// A hand-made WAV file: a `fmt ` chunk body as given, then a data chunk.
fn raw_wav(fmt: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The 16-byte WAVEFORMAT fields: tag, channels, rate, byte rate, block align, bits.
fn fmt_fields(tag: u16, channels: u16, rate: u32, container_bits: u16) -> Vec<u8> {
    let block_align = channels * container_bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&container_bits.to_le_bytes());
    fmt
}

fn assert_names_file(err: &Error, file: &TempFile) {
    let message = err.to_string();
    assert!(
        message.contains(&file.name()),
        "error message {message:?} does not name the file {}",
        file.name()
    );
}

// ---------------------------------------------------------------------------
// WAV round trips and sample formats
// ---------------------------------------------------------------------------

#[test]
fn pcm16_round_trip_is_within_one_lsb() {
    let file = TempFile::new("pcm16.wav");
    let left = sine(440.0, 44100, 4410, 0.8);
    let right: Vec<f32> = (0..4410).map(|i| (i as f32 / 4410.0) * 2.0 - 1.0).collect();
    write_wav(
        file.path(),
        &[&left[..], &right[..]],
        44100,
        WavFormat::Pcm16,
    )
    .unwrap();

    let read = read_audio(file.path()).unwrap();
    assert_eq!(read.sample_rate, 44100);
    assert_eq!(read.num_channels(), 2);
    assert_eq!(read.frames(), 4410);
    let lsb = 1.0 / 32768.0;
    assert!(max_abs_diff(&read.channels[0], &left) <= lsb);
    assert!(max_abs_diff(&read.channels[1], &right) <= lsb);
    // Values on the 16-bit grid survive exactly.
    assert_eq!(read.channels[1][0], -1.0);
}

#[test]
fn pcm16_clamps_out_of_range_samples() {
    let file = TempFile::new("clamp.wav");
    write_wav(
        file.path(),
        &[vec![1.5, -3.0, 1.0, 0.25]],
        8000,
        WavFormat::Pcm16,
    )
    .unwrap();
    let read = read_audio(file.path()).unwrap();
    assert_eq!(
        read.channels[0],
        vec![32767.0 / 32768.0, -1.0, 32767.0 / 32768.0, 0.25]
    );
}

#[test]
fn float32_round_trip_is_exact() {
    let file = TempFile::new("float.wav");
    let samples = vec![0.0, 1.0e-30, -0.123_456_79, 0.999_999_9, -1.0, 1.75, -2.5];
    let audio = Audio {
        samples: samples.clone(),
        sample_rate: 96000,
    };
    write_mono_wav(file.path(), &audio, WavFormat::Float32).unwrap();
    let read = read_audio(file.path()).unwrap();
    assert_eq!(read.sample_rate, 96000);
    assert_eq!(read.channels, vec![samples]);
}

#[test]
fn reads_8_bit_unsigned_wav() {
    let file = TempFile::new("u8.wav");
    let values = [-128, -64, -1, 0, 1, 63, 127];
    write_hound_int(file.path(), 1, 11025, 8, &values);
    let read = read_audio(file.path()).unwrap();
    let expected: Vec<f32> = values.iter().map(|&v| v as f32 / 128.0).collect();
    assert_eq!(read.sample_rate, 11025);
    assert_eq!(read.channels, vec![expected]);
}

#[test]
fn reads_24_bit_wav() {
    let file = TempFile::new("s24.wav");
    let values = [-8_388_608, -1_234_567, -1, 0, 1, 4_194_304, 8_388_607];
    write_hound_int(file.path(), 1, 48000, 24, &values);
    let read = read_audio(file.path()).unwrap();
    let expected: Vec<f32> = values
        .iter()
        .map(|&v| (f64::from(v) / 8_388_608.0) as f32)
        .collect();
    assert_eq!(read.sample_rate, 48000);
    assert_eq!(read.channels, vec![expected]);
}

#[test]
fn reads_32_bit_int_wav() {
    let file = TempFile::new("s32.wav");
    let values = [i32::MIN, -1 << 20, 0, 1 << 30, i32::MAX];
    write_hound_int(file.path(), 1, 22050, 32, &values);
    let read = read_audio(file.path()).unwrap();
    assert_eq!(
        read.channels[0],
        vec![-1.0, -1.0 / 2048.0, 0.0, 0.5, 1.0 - 1.0 / 2.0f32.powi(31)]
    );
}

#[test]
fn reads_multichannel_extensible_wav() {
    // hound writes WAVE_FORMAT_EXTENSIBLE for more than two channels.
    let file = TempFile::new("ext3.wav");
    let frames = 100;
    let interleaved: Vec<i32> = (0..frames * 3)
        .map(|i| (i % 3) as i32 * 1000 + (i / 3) as i32)
        .collect();
    write_hound_int(file.path(), 3, 16000, 16, &interleaved);
    let read = read_audio(file.path()).unwrap();
    assert_eq!(read.num_channels(), 3);
    assert_eq!(read.frames(), frames);
    for channel in 0..3 {
        assert_eq!(
            read.channels[channel][7],
            (channel as f32 * 1000.0 + 7.0) / 32768.0
        );
    }
}

#[test]
fn reads_24_bit_samples_in_32_bit_container_left_justified() {
    // WAVE_FORMAT_EXTENSIBLE: 32-bit container, 24 valid bits stored in the
    // top three bytes, as the format specifies.
    let mut fmt = fmt_fields(0xFFFE, 1, 44100, 32);
    fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    fmt.extend_from_slice(&24u16.to_le_bytes()); // valid bits
    fmt.extend_from_slice(&0x4u32.to_le_bytes()); // channel mask: front centre
    fmt.extend_from_slice(&[
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B,
        0x71,
    ]); // KSDATAFORMAT_SUBTYPE_PCM
    let values = [-8_388_608i32, -4_194_304, 0, 1, 4_194_304, 8_388_607];
    let data: Vec<u8> = values.iter().flat_map(|v| (v << 8).to_le_bytes()).collect();
    let file = TempFile::new("s24in32.wav");
    std::fs::write(file.path(), raw_wav(&fmt, &data)).unwrap();

    let read = read_audio(file.path()).unwrap();
    let expected: Vec<f32> = values
        .iter()
        .map(|&v| (f64::from(v) / 8_388_608.0) as f32)
        .collect();
    assert_eq!(read.sample_rate, 44100);
    assert_eq!(read.channels, vec![expected]);
}

#[test]
fn reads_64_bit_float_wav_that_hound_rejects() {
    let values = [0.5f64, -0.25, 0.125, -1.0];
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let file = TempFile::new("f64.wav");
    std::fs::write(file.path(), raw_wav(&fmt_fields(3, 1, 32000, 64), &data)).unwrap();
    let read = read_audio(file.path()).unwrap();
    assert_eq!(read.sample_rate, 32000);
    assert_eq!(read.channels, vec![vec![0.5, -0.25, 0.125, -1.0]]);
}

#[test]
fn content_not_extension_decides_the_format() {
    // A WAV file named .mp3 still reads as WAV.
    let file = TempFile::new("actually_wav.mp3");
    write_wav(file.path(), &[vec![0.5f32, -0.5]], 8000, WavFormat::Float32).unwrap();
    assert_eq!(
        read_audio(file.path()).unwrap().channels,
        vec![vec![0.5, -0.5]]
    );
}

// ---------------------------------------------------------------------------
// Downmix and load_mono
// ---------------------------------------------------------------------------

#[test]
fn downmix_is_the_mean_of_the_channels() {
    assert_eq!(
        downmix(&[vec![1.0, 0.5, -1.0], vec![0.0, 0.5, 1.0]]),
        vec![0.5, 0.5, 0.0]
    );
    assert_eq!(downmix(&[&[0.25f32, -0.75][..]]), vec![0.25, -0.75]);
    assert!(downmix::<Vec<f32>>(&[]).is_empty());
}

#[test]
fn load_mono_downmixes_a_stereo_file() {
    let file = TempFile::new("stereo.wav");
    let left = sine(440.0, 22050, 2205, 0.5);
    let right = sine(1000.0, 22050, 2205, 0.25);
    write_wav(file.path(), &[&left, &right], 22050, WavFormat::Float32).unwrap();
    let mono = load_mono(file.path(), None).unwrap();
    assert_eq!(mono.sample_rate, 22050);
    let expected: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| (l + r) / 2.0)
        .collect();
    assert!(max_abs_diff(&mono.samples, &expected) < 1e-7);
}

#[test]
fn load_mono_resamples_to_the_target_rate() {
    let file = TempFile::new("load44k.wav");
    let x = sine(440.0, 44100, 44100, 0.5);
    write_wav(file.path(), &[&x], 44100, WavFormat::Float32).unwrap();
    let audio = load_mono(file.path(), Some(DEFAULT_RATE)).unwrap();
    assert_eq!(audio.sample_rate, DEFAULT_RATE);
    assert_eq!(audio.samples.len(), 22050);
    assert!((zero_crossing_freq(&audio.samples, DEFAULT_RATE) - 440.0).abs() < 0.01);
    // Same rate: no resampling, the samples are as read.
    assert_eq!(load_mono(file.path(), Some(44100)).unwrap().samples, x);
}

#[test]
fn multichannel_to_mono() {
    let multi = MultiChannel {
        channels: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
        sample_rate: 8000,
    };
    let mono = multi.to_mono();
    assert_eq!(mono.samples, vec![2.0, 3.0]);
    assert_eq!(mono.sample_rate, 8000);
    assert!((mono.duration_secs() - 2.0 / 8000.0).abs() < 1e-12);
}

// ---------------------------------------------------------------------------
// Compressed fixtures (see tests/data/README.md)
// ---------------------------------------------------------------------------

#[test]
fn flac_fixture_decodes_losslessly() {
    let read = read_audio(&fixture("sine_440_660_stereo_44100.flac")).unwrap();
    assert_eq!(read.sample_rate, 44100);
    assert_eq!(read.num_channels(), 2);
    assert_eq!(read.frames(), 8820);
    // Lossless: matches the analytic sines to within 16-bit quantisation,
    // except the first and last few samples, which sox's synth tapers.
    let amplitude = 10f64.powf(-6.0 / 20.0);
    let left = sine(440.0, 44100, 8820, amplitude);
    let right = sine(660.0, 44100, 8820, amplitude);
    let inner = 64..8820 - 64;
    let lsb = 1.0 / 32768.0;
    assert!(max_abs_diff(&read.channels[0][inner.clone()], &left[inner.clone()]) < 1.5 * lsb);
    assert!(max_abs_diff(&read.channels[1][inner.clone()], &right[inner]) < 1.5 * lsb);
    assert!((zero_crossing_freq(&read.channels[0], 44100) - 440.0).abs() < 0.1);
    assert!((zero_crossing_freq(&read.channels[1], 44100) - 660.0).abs() < 0.1);
}

/// Max deviation of a lossy decode from the analytic 440 Hz fixture sine,
/// away from the first and last 10%. A decoder whose delay is not trimmed
/// exactly is a sample or more off, which doubles this error or worse.
fn lossy_sine_error(x: &[f32], rate: u32) -> f32 {
    let expected = sine(440.0, rate, x.len(), 10f64.powf(-6.0 / 20.0));
    let inner = x.len() / 10..x.len() - x.len() / 10;
    max_abs_diff(&x[inner.clone()], &expected[inner])
}

#[test]
fn ogg_vorbis_fixture_decodes() {
    let read = read_audio(&fixture("sine_440_mono_22050.ogg")).unwrap();
    assert_eq!(read.sample_rate, 22050);
    assert_eq!(read.num_channels(), 1);
    // The last page's granule position gives the exact length.
    assert_eq!(read.frames(), 4410);
    let x = &read.channels[0];
    assert!((zero_crossing_freq(x, 22050) - 440.0).abs() < 0.5);
    let error = lossy_sine_error(x, 22050);
    assert!(error < 0.03, "max error {error}");
}

#[test]
fn mp3_fixture_decodes() {
    let read = read_audio(&fixture("sine_440_mono_44100.mp3")).unwrap();
    assert_eq!(read.sample_rate, 44100);
    assert_eq!(read.num_channels(), 1);
    // LAME's header gives the encoder delay and padding; gapless decoding
    // trims both, leaving exactly the encoded samples.
    assert_eq!(read.frames(), 8820);
    let x = &read.channels[0];
    assert!((zero_crossing_freq(x, 44100) - 440.0).abs() < 0.5);
    let error = lossy_sine_error(x, 44100);
    assert!(error < 0.032, "max error {error}");
}

/// Copies a fixture to a temp file, keeping the first `fraction` of its bytes.
fn truncated_fixture(name: &str, fraction: f64) -> TempFile {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let file = TempFile::new(&format!("truncated_{name}"));
    let keep = (bytes.len() as f64 * fraction) as usize;
    std::fs::write(file.path(), &bytes[..keep]).unwrap();
    file
}

#[test]
fn truncated_compressed_files_are_decode_errors() {
    for name in [
        "sine_440_660_stereo_44100.flac",
        "sine_440_mono_22050.ogg",
        "sine_440_mono_44100.mp3",
    ] {
        for fraction in [0.3, 0.6, 0.95] {
            let file = truncated_fixture(name, fraction);
            let err = read_audio(file.path()).unwrap_err();
            assert!(
                matches!(err, Error::Decode { .. }),
                "{name} at {fraction}: {err:?}"
            );
            assert_names_file(&err, &file);
        }
    }
}

#[test]
fn load_mono_of_a_compressed_file_at_the_default_rate() {
    let audio = load_mono(
        &fixture("sine_440_660_stereo_44100.flac"),
        Some(DEFAULT_RATE),
    )
    .unwrap();
    assert_eq!(audio.sample_rate, DEFAULT_RATE);
    assert_eq!(audio.samples.len(), 4410);
}

// ---------------------------------------------------------------------------
// Resampling
// ---------------------------------------------------------------------------

/// Resamples one second of a 440 Hz sine and compares with the analytic sine
/// at the new rate, away from the edges.
fn check_resampled_sine(from: u32, to: u32) {
    let input = sine(440.0, from, from as usize, 0.5);
    let output = resample(&input, from, to).unwrap();
    assert_eq!(output.len(), to as usize, "{from} -> {to}: length");
    let expected = sine(440.0, to, to as usize, 0.5);
    let edge = to as usize / 10;
    let error = max_abs_diff(
        &output[edge..to as usize - edge],
        &expected[edge..to as usize - edge],
    );
    assert!(error < 1e-3, "{from} -> {to}: max error {error}");
    assert!((zero_crossing_freq(&output, to) - 440.0).abs() < 0.01);
}

#[test]
fn resample_44100_to_22050_keeps_amplitude_and_frequency() {
    check_resampled_sine(44100, 22050);
}

#[test]
fn resample_22050_to_48000_keeps_amplitude_and_frequency() {
    check_resampled_sine(22050, 48000);
}

#[test]
fn resample_other_ratios_stay_aligned() {
    check_resampled_sine(48000, 44100);
    check_resampled_sine(8000, 22050);
    check_resampled_sine(44100, 22051); // coprime rates
}

#[test]
fn resample_output_length_is_rounded() {
    assert_eq!(resampled_len(101, 44100, 22050), 51);
    assert_eq!(resampled_len(100, 44100, 22050), 50);
    assert_eq!(resampled_len(1000, 22050, 48000), 2177); // 2176.87
    for len in [1usize, 2, 3, 101, 1000, 4097] {
        let out = resample(&vec![0.1; len], 44100, 48000).unwrap();
        assert_eq!(out.len(), resampled_len(len, 44100, 48000), "len {len}");
    }
    assert!(resample(&[], 44100, 22050).unwrap().is_empty());
}

#[test]
fn resample_with_equal_rates_is_identity() {
    let x = vec![0.1, -0.2, 0.3];
    assert_eq!(resample(&x, 16000, 16000).unwrap(), x);
}

#[test]
fn resample_rejects_bad_rates() {
    for (from, to) in [
        (0, 22050),
        (22050, 0),
        (0, 0),
        (1000, 256_001),
        (256_001, 1000),
    ] {
        match resample(&[0.0; 16], from, to) {
            Err(Error::Resample { from: f, to: t, .. }) => assert_eq!((f, t), (from, to)),
            other => panic!("{from} -> {to}: expected Error::Resample, got {other:?}"),
        }
    }
    // Exactly the maximum ratio is allowed.
    assert!(resample(&[0.0; 16], 1000, 256_000).is_ok());
}

#[test]
fn resample_rejects_nan_input() {
    assert!(matches!(
        resample(&[0.0, f32::NAN], 44100, 22050),
        Err(Error::NonFinite { index: 1, .. })
    ));
}

// ---------------------------------------------------------------------------
// Errors when reading
// ---------------------------------------------------------------------------

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let file = TempFile::new("does_not_exist.wav");
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn empty_file_is_empty_audio() {
    let file = TempFile::new("zero_bytes.wav");
    std::fs::write(file.path(), b"").unwrap();
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::EmptyAudio { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn wav_without_samples_is_empty_audio() {
    let file = TempFile::new("no_samples.wav");
    write_wav(file.path(), &[Vec::<f32>::new()], 22050, WavFormat::Pcm16).unwrap();
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::EmptyAudio { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn truncated_wav_is_a_decode_error() {
    let file = TempFile::new("truncated.wav");
    write_wav(
        file.path(),
        &[sine(440.0, 22050, 1000, 0.5)],
        22050,
        WavFormat::Pcm16,
    )
    .unwrap();
    let bytes = std::fs::read(file.path()).unwrap();
    std::fs::write(file.path(), &bytes[..bytes.len() - 501]).unwrap();
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn wav_cut_inside_its_header_is_a_decode_error() {
    let file = TempFile::new("cut_header.wav");
    write_wav(file.path(), &[vec![0.5f32; 100]], 22050, WavFormat::Pcm16).unwrap();
    let bytes = std::fs::read(file.path()).unwrap();
    std::fs::write(file.path(), &bytes[..30]).unwrap();
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn text_file_named_wav_is_unsupported() {
    let file = TempFile::new("notes.wav");
    std::fs::write(file.path(), "These are my notes, not audio.\n".repeat(50)).unwrap();
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn unsupported_wav_codec_is_unsupported() {
    // Format tag 0x0055 is MPEG Layer III inside WAV, which wavesplat does not read.
    let file = TempFile::new("mp3_in_wav.wav");
    std::fs::write(
        file.path(),
        raw_wav(&fmt_fields(0x55, 1, 22050, 16), &[0; 64]),
    )
    .unwrap();
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn float_wav_with_nan_is_non_finite() {
    let file = TempFile::new("nan.wav");
    common::write_float_wav(file.path(), 22050, &[0.0, 0.5, f32::NAN, 0.25]);
    let err = read_audio(file.path()).unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 2, .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn float_wav_with_infinity_is_non_finite() {
    let file = TempFile::new("inf.wav");
    common::write_float_wav(file.path(), 22050, &[f32::NEG_INFINITY]);
    let err = load_mono(file.path(), None).unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 0, .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn load_mono_to_rate_zero_is_a_resample_error_naming_the_file() {
    let file = TempFile::new("rate0.wav");
    write_wav(file.path(), &[vec![0.0f32; 100]], 22050, WavFormat::Pcm16).unwrap();
    let err = load_mono(file.path(), Some(0)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Resample {
                from: 22050,
                to: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names_file(&err, &file);
}

#[test]
fn load_mono_to_an_absurd_rate_is_a_resample_error_naming_the_file() {
    let file = TempFile::new("rate_absurd.wav");
    write_wav(file.path(), &[vec![0.0f32; 100]], 22050, WavFormat::Pcm16).unwrap();
    let err = load_mono(file.path(), Some(22050 * 1000)).unwrap_err();
    assert!(
        matches!(err, Error::Resample { from: 22050, .. }),
        "{err:?}"
    );
    assert_names_file(&err, &file);
}

// ---------------------------------------------------------------------------
// Errors when writing
// ---------------------------------------------------------------------------

#[test]
fn writing_nan_is_rejected_and_leaves_no_file() {
    let file = TempFile::new("write_nan.wav");
    let err = write_wav(
        file.path(),
        &[vec![0.0, f32::NAN]],
        22050,
        WavFormat::Float32,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 1, .. }), "{err:?}");
    assert_names_file(&err, &file);
    assert!(!file.path().exists());
}

#[test]
fn writing_no_channels_is_rejected() {
    let file = TempFile::new("write_empty.wav");
    let err = write_wav::<Vec<f32>>(file.path(), &[], 22050, WavFormat::Pcm16).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    assert_names_file(&err, &file);
    assert!(!file.path().exists());
}

#[test]
fn writing_channels_of_unequal_length_is_rejected() {
    let file = TempFile::new("write_ragged.wav");
    let err = write_wav(
        file.path(),
        &[vec![0.0; 3], vec![0.0; 2]],
        22050,
        WavFormat::Pcm16,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    assert_names_file(&err, &file);
}

#[test]
fn writing_rate_zero_is_rejected() {
    let file = TempFile::new("write_rate0.wav");
    let err = write_wav(file.path(), &[vec![0.0; 3]], 0, WavFormat::Pcm16).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
}

#[test]
fn writing_more_than_a_wav_file_holds_is_rejected() {
    let file = TempFile::new("write_huge.wav");
    // 65535 channels of 32769 samples at 2 bytes: just over 4 GiB.
    let channel = vec![0.0f32; 32769];
    let channels = vec![&channel[..]; 65535];
    let err = write_wav(file.path(), &channels, 22050, WavFormat::Pcm16).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    assert_names_file(&err, &file);
    assert!(!file.path().exists());
    // One channel more than WAV allows.
    let err = write_wav(
        file.path(),
        &vec![&channel[..1]; 65536],
        22050,
        WavFormat::Pcm16,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
}

#[test]
fn reading_a_directory_is_an_io_error() {
    let dir = TempFile::new("a_directory.wav");
    std::fs::create_dir(dir.path()).unwrap();
    let err = read_audio(dir.path()).unwrap_err();
    std::fs::remove_dir(dir.path()).unwrap();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_names_file(&err, &dir);
}

#[test]
fn writing_into_a_missing_directory_is_an_io_error() {
    let dir = TempFile::new("no_such_dir");
    let path = dir.path().join("out.wav");
    let err = write_wav(&path, &[vec![0.0; 3]], 22050, WavFormat::Pcm16).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("out.wav"), "{err}");
}

#[test]
fn writing_replaces_an_existing_file_whole() {
    let file = TempFile::new("replace.wav");
    write_wav(file.path(), &[vec![0.5f32; 1000]], 22050, WavFormat::Pcm16).unwrap();
    write_wav(file.path(), &[vec![-0.25f32; 10]], 8000, WavFormat::Float32).unwrap();
    let read = read_audio(file.path()).unwrap();
    assert_eq!(read.sample_rate, 8000);
    assert_eq!(read.channels, vec![vec![-0.25f32; 10]]);
}
