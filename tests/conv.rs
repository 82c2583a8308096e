//! Convolution: the CPU overlap-add against the direct f64 definition, the GPU
//! partitioned overlap-save against it (many lengths, partition sizes,
//! batching, chunking), the reverb layer, and bad input.

mod common;

use common::{Rng, gpu, gpu_with, relative_error, widen};
use wavesplat::audio::{self, MultiChannel};
use wavesplat::conv::reverb::{self, Backend, ReverbOptions};
use wavesplat::conv::{ConvConfig, ConvMode, cpu, gpu as conv_gpu};
use wavesplat::gpu::GpuOptions;

/// (signal length, kernel length): 1-tap, non-powers of two, kernel longer than the signal.
const CASES: [(usize, usize); 7] = [
    (1000, 1),
    (777, 13),
    (4096, 100),
    (3001, 1031),
    (300, 2500),
    (20_000, 4500),
    (9, 9),
];

#[test]
fn cpu_overlap_add_matches_direct_f64() {
    let mut rng = Rng::fresh("cpu_overlap_add");
    for (x_len, h_len) in CASES {
        let (x, h) = (rng.signal(x_len), rng.signal(h_len));
        let direct = cpu::convolve_direct(&x, &h);
        for threads in [1, 3] {
            let fft = cpu::convolve(&[&x], &[&h], threads).unwrap().remove(0);
            let err = relative_error(&widen(&fft), &direct);
            assert!(err < 1e-6, "x {x_len} h {h_len} threads {threads}: {err:e}");
        }
    }
}

#[test]
fn gpu_matches_direct_f64_for_many_lengths_and_partitions() {
    let Some(ctx) = gpu("conv_lengths") else {
        return;
    };
    let mut rng = Rng::fresh("conv_lengths");
    for (x_len, h_len) in CASES {
        let (x, h) = (rng.signal(x_len), rng.signal(h_len));
        let direct = cpu::convolve_direct(&x, &h);
        for block in [None, Some(8), Some(64), Some(1024)] {
            let cfg = ConvConfig {
                block,
                ..Default::default()
            };
            let y = conv_gpu::convolve(ctx, &[&x], &[&h], &cfg)
                .unwrap()
                .remove(0);
            assert_eq!(y.len(), x_len + h_len - 1);
            let err = relative_error(&widen(&y), &direct);
            assert!(err < 1e-5, "x {x_len} h {h_len} block {block:?}: {err:e}");
        }
    }
}

#[test]
fn gpu_batches_one_kernel_and_many_pairs_of_different_lengths() {
    let Some(ctx) = gpu("conv_batches") else {
        return;
    };
    let mut rng = Rng::fresh("conv_batches");
    let signals: Vec<Vec<f32>> = [3000, 1234, 5000].iter().map(|&n| rng.signal(n)).collect();
    let kernels: Vec<Vec<f32>> = [700, 64, 2049].iter().map(|&n| rng.signal(n)).collect();
    let xs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let hs: Vec<&[f32]> = kernels.iter().map(Vec::as_slice).collect();
    let shared = conv_gpu::convolve(ctx, &xs, &hs[..1], &ConvConfig::default()).unwrap();
    let pairs = conv_gpu::convolve(ctx, &xs, &hs, &ConvConfig::default()).unwrap();
    for i in 0..3 {
        let err = relative_error(&widen(&shared[i]), &cpu::convolve_direct(xs[i], hs[0]));
        assert!(err < 1e-5, "shared kernel, signal {i}: {err:e}");
        let err = relative_error(&widen(&pairs[i]), &cpu::convolve_direct(xs[i], hs[i]));
        assert!(err < 1e-5, "pair {i}: {err:e}");
        assert_eq!(pairs[i].len(), xs[i].len() + hs[i].len() - 1);
    }
}

#[test]
fn chunked_output_is_bit_identical_to_whole() {
    let Some(ctx) = gpu("conv_chunks") else {
        return;
    };
    let mut rng = Rng::fresh("conv_chunks");
    let (x, h) = (rng.signal(30_000), rng.signal(3000));
    let whole = ConvConfig {
        block: Some(256),
        max_blocks_per_chunk: None,
    };
    let reference = conv_gpu::convolve(ctx, &[&x], &[&h], &whole).unwrap();
    for chunk in [1, 5, 17] {
        let cfg = ConvConfig {
            max_blocks_per_chunk: Some(chunk),
            ..whole
        };
        let chunked = conv_gpu::convolve(ctx, &[&x], &[&h], &cfg).unwrap();
        assert!(
            chunked == reference,
            "{chunk} blocks a chunk differs from the whole"
        );
    }
}

#[test]
fn streaming_in_random_pieces_is_bit_identical_to_whole_and_bounded() {
    let Some(ctx) = gpu("conv_stream") else {
        return;
    };
    let mut rng = Rng::fresh("conv_stream");
    let signals = [rng.signal(50_000), rng.signal(50_000)];
    let kernels = [rng.signal(1500), rng.signal(700)];
    let xs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let hs: Vec<&[f32]> = kernels.iter().map(Vec::as_slice).collect();
    for (cfg, kernel_set) in [
        (
            ConvConfig {
                block: Some(256),
                max_blocks_per_chunk: Some(4),
            },
            &hs[..],
        ),
        (ConvConfig::default(), &hs[..1]),
    ] {
        let whole = conv_gpu::convolve(ctx, &xs, kernel_set, &cfg).unwrap();
        let longest = kernel_set.iter().map(|h| h.len()).max().unwrap();
        let block = cfg.block_for(longest).unwrap();
        // Kept: the P partitions before the next output block, and the partial block after.
        let bound = (longest.div_ceil(block) + 1) * block;
        let mut stream = conv_gpu::ConvStream::new(ctx, kernel_set, 2, &cfg).unwrap();
        let mut streamed = vec![Vec::new(); 2];
        let mut at = 0;
        while at < 50_000 {
            let n = rng.range(0, 3000).min(50_000 - at);
            let piece: Vec<&[f32]> = xs.iter().map(|x| &x[at..at + n]).collect();
            for (out, part) in streamed.iter_mut().zip(stream.push(&piece).unwrap()) {
                out.extend(part);
            }
            at += n;
            assert!(
                stream.buffered_samples() <= bound,
                "history {} over {bound}",
                stream.buffered_samples()
            );
        }
        for (out, part) in streamed.iter_mut().zip(stream.finish().unwrap()) {
            out.extend(part);
        }
        assert!(
            streamed == whole,
            "streamed output differs from whole ({cfg:?})"
        );
    }
}

#[test]
fn inputs_larger_than_a_binding_are_chunked_to_fit() {
    // A 64 KiB binding holds 8 spectra of 1025 bins: a 2-second input needs
    // dozens of chunks, each within the cap, and matches the definition.
    let options = GpuOptions {
        max_binding: Some(64 * 1024),
        ..GpuOptions::from_env()
    };
    let Some(ctx) = gpu_with("conv_small_binding", options) else {
        return;
    };
    let mut rng = Rng::fresh("conv_small_binding");
    let (x, h) = (rng.signal(44_100), rng.signal(3000));
    let cfg = ConvConfig {
        block: Some(1024),
        ..Default::default()
    };
    let y = conv_gpu::convolve(&ctx, &[&x], &[&h], &cfg)
        .unwrap()
        .remove(0);
    let err = relative_error(&widen(&y), &cpu::convolve_direct(&x, &h));
    assert!(err < 1e-5, "{err:e}");
}

#[test]
fn reverb_pairs_channels_and_mixes_the_same_on_both_backends() {
    let Some(ctx) = gpu("reverb") else { return };
    let mut rng = Rng::fresh("reverb");
    let input = MultiChannel {
        channels: vec![rng.signal(4000)],
        sample_rate: 22050,
    };
    let ir = MultiChannel {
        channels: vec![rng.signal(900), rng.signal(900)],
        sample_rate: 22050,
    };
    let opts = ReverbOptions {
        wet: 0.5,
        dry: 0.25,
        mode: ConvMode::Same,
        normalize: true,
        conv: ConvConfig::default(),
    };
    let on_gpu = reverb::reverb(&input, &ir, &opts, Backend::Gpu(ctx)).unwrap();
    let on_cpu = reverb::reverb(&input, &ir, &opts, Backend::Cpu { threads: 2 }).unwrap();
    assert_eq!(
        on_gpu.channels.len(),
        2,
        "a stereo IR makes a mono input stereo"
    );
    let energy = ir
        .channels
        .iter()
        .map(|c| c.iter().map(|&v| (v as f64).powi(2)).sum::<f64>())
        .fold(0.0, f64::max);
    for c in 0..2 {
        assert_eq!(
            on_gpu.channels[c].len(),
            4000,
            "same mode keeps the input length"
        );
        let err = relative_error(&widen(&on_gpu.channels[c]), &widen(&on_cpu.channels[c]));
        assert!(err < 1e-5, "channel {c}: {err:e}");
        let wet = cpu::convolve_direct(&input.channels[0], &ir.channels[c]);
        let expected: Vec<f64> = (0..4000)
            .map(|i| 0.5 * wet[i] / energy.sqrt() + 0.25 * input.channels[0][i] as f64)
            .collect();
        let err = relative_error(&widen(&on_cpu.channels[c]), &expected);
        assert!(err < 1e-5, "mix, channel {c}: {err:e}");
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = vec![0.5f32; 100];
    let e = cpu::convolve(&[&x], &[&[]], 1).unwrap_err().to_string();
    assert!(e.contains("kernel 0 is empty"), "{e}");
    let mut nan = x.clone();
    nan[3] = f32::NAN;
    let e = cpu::convolve(&[&nan], &[&x], 1).unwrap_err().to_string();
    assert!(e.contains("signal 0") && e.contains("not finite"), "{e}");
    let e = cpu::convolve(&[&x, &x, &x], &[&x, &x], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("one for all or one per signal"), "{e}");
    let e = ConvConfig {
        block: Some(100),
        ..Default::default()
    }
    .block_for(10)
    .unwrap_err()
    .to_string();
    assert!(e.contains("partition size"), "{e}");
    assert!(ConvMode::parse("valid").is_err());
    assert!(
        reverb::pair_channels(2, 3)
            .unwrap_err()
            .to_string()
            .contains("channels")
    );
    let silent = MultiChannel {
        channels: vec![vec![0.0; 10]],
        sample_rate: 22050,
    };
    let e = reverb::prepare_ir(&silent, 22050, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("silent"), "{e}");
    let e = reverb::prepare_ir(&silent, 0, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("resample"), "{e}");
    if let Some(ctx) = gpu("conv_bad_input") {
        let e = conv_gpu::convolve(ctx, &[&x], &[&[]], &ConvConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("kernel 0 is empty"), "{e}");
    }
}

#[test]
fn streaming_a_wav_file_gives_the_samples_of_the_whole_reverb() {
    let Some(ctx) = gpu("reverb_stream") else {
        return;
    };
    let mut rng = Rng::fresh("reverb_stream");
    let dir = std::env::temp_dir().join(format!("wavesplat-reverb-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Longer than two read blocks, so pushes, partial blocks and the tail all occur.
    let input = MultiChannel {
        channels: vec![rng.signal(150_000), rng.signal(150_000)],
        sample_rate: 22050,
    };
    let ir = MultiChannel {
        channels: vec![rng.signal(5000), rng.signal(5000)],
        sample_rate: 22050,
    };
    let input_path = dir.join("input.wav");
    audio::write_wav(
        &input_path,
        &input.channels,
        22050,
        audio::WavFormat::Float32,
    )
    .unwrap();
    for mode in [ConvMode::Full, ConvMode::Same] {
        let opts = ReverbOptions {
            wet: 0.7,
            dry: 0.3,
            mode,
            normalize: true,
            conv: ConvConfig::default(),
        };
        let whole = reverb::reverb(&input, &ir, &opts, Backend::Gpu(ctx)).unwrap();
        let out_path = dir.join(format!("{mode:?}.wav"));
        let mut reader = audio::WavBlockReader::open(&input_path)
            .unwrap()
            .expect("a float WAV streams");
        let (channels, frames) = reverb::reverb_wav_stream(
            ctx,
            &mut reader,
            &ir,
            &opts,
            &out_path,
            audio::WavFormat::Float32,
        )
        .unwrap();
        assert_eq!((channels, frames), (2, whole.channels[0].len()));
        let streamed = audio::read_audio(&out_path).unwrap();
        assert!(
            streamed.channels == whole.channels,
            "{mode:?}: streamed samples differ from the whole reverb"
        );
    }
}

#[test]
fn an_unfinished_block_writer_leaves_no_file() {
    let dir = std::env::temp_dir().join(format!("wavesplat-block-writer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.wav");
    let mut writer =
        audio::WavBlockWriter::create(&path, 1, 22050, audio::WavFormat::Float32).unwrap();
    writer.write(&[vec![0.25; 1000]]).unwrap();
    let e = writer.write(&[vec![f32::NAN]]).unwrap_err().to_string();
    assert!(e.contains("not finite"), "{e}");
    drop(writer);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "an interrupted write left {left:?}");
    let mut writer =
        audio::WavBlockWriter::create(&path, 1, 22050, audio::WavFormat::Float32).unwrap();
    writer.write(&[vec![0.25; 1000]]).unwrap();
    writer.finish().unwrap();
    assert_eq!(
        audio::read_audio(&path).unwrap().channels[0],
        vec![0.25; 1000]
    );
}
