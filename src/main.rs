//! The `wavesplat` command-line tool.

mod collection_cli;
mod encode_cli;
mod events_cli;
mod render_cli;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wavesplat::audio::{self, WavFormat};
use wavesplat::conv::reverb::{self, ReverbOptions};
use wavesplat::conv::{ConvConfig, ConvMode};
use wavesplat::gpu::GpuContext;
use wavesplat::metrics;
use wavesplat::stft::{self, SpectrumFormat, StftConfig, Window};
use wavesplat::{Error, Result, bench, fsutil, gp, npy, plot};

#[derive(Parser)]
#[command(
    name = "wavesplat",
    version,
    about = "Sparse, interpretable audio on the GPU"
)]
struct Cli {
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter wavesplat would use and the limits that matter.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Short-time Fourier transform of an audio file to .npy and/or a PNG picture.
    Stft(StftArgs),
    /// Convolve audio with an impulse response (room reverb) to a WAV file.
    Convolve(ConvolveArgs),
    /// Quality metrics of TEST against REF: mel, STFT and log-spectral distances, SNR, bitrate.
    Eval(EvalArgs),
    /// Gaussian-process sampling: draws, kernel values, validity checks.
    Gp {
        #[command(subcommand)]
        command: GpCommand,
    },
    /// Measure kernel throughput.
    Bench {
        #[command(subcommand)]
        kernel: BenchKernel,
    },
    /// Render an event file to audio (GPU gather, or the CPU reference).
    Render(render_cli::RenderArgs),
    /// Encode audio into an event file (matching pursuit), print bitrate and metrics.
    Encode(encode_cli::EncodeArgs),
    /// Decode an event file to a WAV file (the same render as `render`).
    Decode(encode_cli::DecodeArgs),
    /// Encode the bundled clip, decode it, write both and print the metrics.
    Demo(encode_cli::DemoArgs),
    /// Event files: show, make random ones, edit, plot.
    Events {
        #[command(subcommand)]
        command: events_cli::EventsCommand,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Backend {
    Gpu,
    Cpu,
}

#[derive(Args)]
struct StftArgs {
    /// Input audio (WAV, FLAC, OGG Vorbis, MP3); down-mixed to mono.
    input: PathBuf,
    /// Transform length: a power of two from 16 to 8192.
    #[arg(long, default_value_t = 2048)]
    n_fft: usize,
    /// Samples between frames (default n_fft / 4).
    #[arg(long)]
    hop: Option<usize>,
    /// Analysis window: hann, hamming, blackman, rectangular (periodic forms).
    #[arg(long, default_value = "hann")]
    window: String,
    /// What the .npy holds: complex (complex64), magnitude, power or db (float32).
    #[arg(long, default_value = "magnitude")]
    out_format: String,
    /// Resample to this rate first (default: the working rate, 22050 Hz; 0 keeps the file's rate).
    #[arg(long, default_value_t = audio::DEFAULT_RATE)]
    rate: u32,
    /// Write the spectrogram as a frames x bins .npy here.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Write a spectrogram picture here.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Gpu)]
    backend: Backend,
}

#[derive(Args)]
struct ConvolveArgs {
    /// Input audio; every channel is kept.
    input: PathBuf,
    /// Impulse response (resampled to the input's rate if they differ).
    ir: PathBuf,
    /// Output WAV (32-bit float unless --pcm16).
    #[arg(short, long)]
    out: PathBuf,
    /// Gain of the convolved (wet) signal.
    #[arg(long, default_value_t = 1.0)]
    wet: f32,
    /// Gain of the input (dry) signal.
    #[arg(long, default_value_t = 0.0)]
    dry: f32,
    /// full: len(x) + len(h) - 1 samples; same: the input's length.
    #[arg(long, default_value = "full")]
    mode: String,
    /// Scale the impulse response to unit energy first.
    #[arg(long)]
    normalize: bool,
    /// Partition size (a power of two, 8..4096; small for low latency). Default: by IR length.
    #[arg(long)]
    partition: Option<usize>,
    /// Write 16-bit PCM (clipped) instead of float.
    #[arg(long)]
    pcm16: bool,
    /// Where to compute.
    #[arg(long, value_enum, default_value_t = Backend::Gpu)]
    backend: Backend,
}

#[derive(Args)]
struct EvalArgs {
    /// Reference audio (down-mixed to mono); its rate is the rate compared at.
    reference: PathBuf,
    /// Audio to judge (down-mixed to mono); the longer of the two is truncated.
    test: PathBuf,
    /// Print JSON (the keys of audio_metrics.py and more) instead of text.
    #[arg(long)]
    json: bool,
    /// Event file whose size gives the bitrate over the reference's duration.
    #[arg(long, conflicts_with = "bytes")]
    events: Option<PathBuf>,
    /// Coded size in bytes, for the bitrate over the reference's duration.
    #[arg(long)]
    bytes: Option<u64>,
    /// Resample TEST to REF's rate when they differ (otherwise an error, as audio_metrics.py).
    #[arg(long)]
    resample: bool,
    /// Where to compute the spectra (cpu: f64, the reference; gpu: f32).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// Where `gp sample` draws from.
#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum GpSampler {
    /// Circulant embedding on the GPU (shared FFT).
    Gpu,
    /// Circulant embedding on the CPU (f64, rustfft): the same draws as gpu.
    Cpu,
    /// O(n) state-space recursion (sums of damped oscillators only), CPU threads.
    StateSpace,
    /// Dense Cholesky (CPU, at most 8192 samples).
    Cholesky,
}

#[derive(Subcommand)]
enum GpCommand {
    /// Draw samples of a Gaussian process to .npy (draws x samples) or WAV.
    Sample(GpSampleArgs),
    /// Write k(0), k(1/rate), ..., k((N-1)/rate) of a kernel to .npy.
    Kernel {
        #[command(flatten)]
        grid: GpKernelArgs,
        /// Number of lags.
        #[arg(long)]
        lags: usize,
        /// Output .npy (float32).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Say whether a kernel is positive definite on a grid, and why not.
    Check {
        #[command(flatten)]
        grid: GpKernelArgs,
        /// Grid length in seconds (default 1 s; the middle C presets: 2.04 s).
        #[arg(long)]
        seconds: Option<f64>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The kernel and the rate every `gp` command takes.
#[derive(Args)]
struct GpKernelArgs {
    /// Kernel: expression, JSON (inline or a .json file), a preset
    /// (middle-c-after, middle-c-before, middle-c-before-unclamped), or for
    /// `sample` the non-stationary `middle-c`.
    #[arg(long)]
    kernel: String,
    /// Sample rate (Hz).
    #[arg(long, default_value_t = 44_100.0)]
    rate: f64,
}

#[derive(Args)]
struct GpSampleArgs {
    #[command(flatten)]
    grid: GpKernelArgs,
    /// Length of each draw in seconds (default: 1 s; middle-c: 2.04 s, 90001 samples at 44.1 kHz).
    #[arg(long)]
    seconds: Option<f64>,
    /// Number of independent draws.
    #[arg(long, default_value_t = 1)]
    draws: usize,
    /// Seed of the counter-based noise (the same seed gives the same draws on gpu and cpu).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampler.
    #[arg(long, value_enum, default_value_t = GpSampler::Gpu)]
    sampler: GpSampler,
    /// WAV only: write 32-bit float instead of 16-bit PCM.
    #[arg(long)]
    float: bool,
    /// Output: .npy (draws x samples, float32) or .wav (the draws one after
    /// another, normalised to a peak of 0.9).
    #[arg(short, long)]
    out: PathBuf,
}

#[derive(Subcommand)]
enum BenchKernel {
    /// Batched STFT: GPU vs copy bandwidth vs CPU on one and all threads.
    Stft {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Transform sizes to measure.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "256,512,1024,2048,4096,8192"
        )]
        sizes: Vec<usize>,
        /// Full-size batch even on a software device (slow on lavapipe).
        #[arg(long)]
        full: bool,
    },
    /// Four-step complex FFTs longer than a workgroup: GPU vs rustfft on one thread.
    Fft {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Transform lengths (powers of two, 64 to 2^24).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "4096,65536,262144,1048576"
        )]
        lengths: Vec<usize>,
        /// Full-size batch even on a software device (slow on lavapipe).
        #[arg(long)]
        full: bool,
    },
    /// Atom rendering: GPU gather vs the CPU reference on all threads.
    Render {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Numbers of random atoms to render.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        counts: Vec<usize>,
        /// Seconds of output at 22050 Hz.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Run the CPU reference only up to this many atoms (default: all on
        /// a GPU, 10000 on a software device).
        #[arg(long)]
        cpu_max_atoms: Option<usize>,
        /// Repeat each GPU render 3 times even on a software device.
        #[arg(long)]
        full: bool,
    },
    /// Gaussian-process draws/s of the middle C preset: GPU circulant vs CPU
    /// circulant vs state-space vs dense Cholesky.
    Gp {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Draws per GPU submission.
        #[arg(long, default_value_t = 16)]
        draws: usize,
        /// Grid size for dense Cholesky (the post used 5000).
        #[arg(long, default_value_t = 5000)]
        cholesky_n: usize,
    },
    /// Long-kernel convolution: GPU vs CPU overlap-add on one and all threads.
    Conv {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Kernel lengths (taps) to measure.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "1024,16384,131072,524288"
        )]
        taps: Vec<usize>,
        /// Full-size signal even on a software device (slow on lavapipe).
        #[arg(long)]
        full: bool,
    },
}

pub(crate) fn open_gpu() -> Result<GpuContext> {
    let ctx = GpuContext::new()?;
    let s = ctx.summary();
    eprintln!(
        "wavesplat: running on {} ({}, {}{})",
        s.name,
        s.backend,
        s.device_type,
        if s.is_software {
            ", software: correct but slow"
        } else {
            ""
        }
    );
    Ok(ctx)
}

fn run_info(json: bool) -> Result<()> {
    let ctx = GpuContext::new()?;
    if json {
        let text = serde_json::to_string_pretty(ctx.summary()).expect("summary serialises");
        println!("{text}");
    } else {
        println!("{}", ctx.summary());
    }
    Ok(())
}

fn stft_config(args: &StftArgs) -> Result<StftConfig> {
    let hop = args.hop.unwrap_or(args.n_fft / 4);
    let cfg = StftConfig {
        n_fft: args.n_fft,
        hop,
        window: Window::parse(&args.window)?,
        format: SpectrumFormat::parse(&args.out_format)?,
    };
    cfg.validate()?;
    Ok(cfg)
}

fn run_stft(args: &StftArgs) -> Result<()> {
    if args.out.is_none() && args.png.is_none() {
        return Err(Error::invalid(
            "output",
            "give -o OUT.npy and/or --png OUT.png",
        ));
    }
    let cfg = stft_config(args)?;
    for output in args.out.iter().chain(&args.png) {
        fsutil::check_output_path(output)?;
    }
    let target = (args.rate != 0).then_some(args.rate);
    let clip = audio::load_mono(&args.input, target)?;
    let signal = [clip.samples.as_slice()];
    cfg.validate_for_length(clip.samples.len())
        .map_err(|e| Error::invalid("input", format!("{}: {e}", args.input.display())))?;
    // The picture needs magnitudes whatever the .npy holds.
    let mut wanted = vec![cfg];
    if args.png.is_some() && cfg.format != SpectrumFormat::Magnitude {
        wanted.push(cfg.with_format(SpectrumFormat::Magnitude));
    }
    let specs = match args.backend {
        Backend::Gpu => stft::gpu::stft_multi(&open_gpu()?, &signal, &wanted)?,
        Backend::Cpu => wanted
            .iter()
            .map(|c| stft::cpu::stft(&signal, c, 0))
            .collect::<Result<Vec<_>>>()?,
    };
    if let Some(out) = &args.out {
        write_npy(out, &specs[0])?;
        eprintln!(
            "wrote {} ({} frames x {} bins, {:?})",
            out.display(),
            specs[0].frames,
            specs[0].bins,
            cfg.format
        );
    }
    if let Some(png) = &args.png {
        let magnitudes = specs.last().expect("at least one spectrogram");
        write_png(png, magnitudes, &cfg, clip.sample_rate, &args.input)?;
        eprintln!("wrote {}", png.display());
    }
    Ok(())
}

fn write_npy(path: &Path, spec: &stft::Spectrogram) -> Result<()> {
    let shape = [spec.frames, spec.bins];
    if spec.format == SpectrumFormat::Complex {
        let pairs: Vec<[f32; 2]> = spec.data.chunks(2).map(|c| [c[0], c[1]]).collect();
        npy::write_complex64(path, &shape, &pairs)
    } else {
        npy::write_f32(path, &shape, &spec.data)
    }
}

fn write_png(
    path: &Path,
    spec: &stft::Spectrogram,
    cfg: &StftConfig,
    rate: u32,
    input: &Path,
) -> Result<()> {
    let title = format!(
        "{}  n_fft {}  hop {}  {:?} window",
        plot::file_label(input),
        cfg.n_fft,
        cfg.hop,
        cfg.window
    );
    let picture = plot::SpectrogramPicture::of(spec, cfg, rate, title);
    plot::write_spectrogram_png(path, &picture)
}

fn run_convolve(args: &ConvolveArgs) -> Result<()> {
    let ir = audio::read_audio(&args.ir)?;
    let opts = ReverbOptions {
        wet: args.wet,
        dry: args.dry,
        mode: ConvMode::parse(&args.mode)?,
        normalize: args.normalize,
        conv: ConvConfig {
            block: args.partition,
            ..Default::default()
        },
    };
    if !(opts.wet.is_finite() && opts.dry.is_finite()) {
        return Err(Error::invalid(
            "mix",
            "--wet and --dry must be finite numbers",
        ));
    }
    opts.conv.block_for(1)?;
    fsutil::check_output_path(&args.out)?;
    let format = if args.pcm16 {
        WavFormat::Pcm16
    } else {
        WavFormat::Float32
    };
    let name_ir = |e: Error| match e {
        Error::Resample { .. } => Error::invalid("input", format!("{}: {e}", args.ir.display())),
        other => other,
    };
    let (channels, frames) = match args.backend {
        Backend::Gpu => {
            let ctx = open_gpu()?;
            // WAV input streams block by block in bounded memory; other
            // formats are decoded whole first.
            match audio::WavBlockReader::open(&args.input)? {
                Some(mut reader) => {
                    reverb::reverb_wav_stream(&ctx, &mut reader, &ir, &opts, &args.out, format)
                        .map_err(name_ir)?
                }
                None => {
                    let input = audio::read_audio(&args.input)?;
                    let out = reverb::reverb(&input, &ir, &opts, reverb::Backend::Gpu(&ctx))
                        .map_err(name_ir)?;
                    write_channels(&args.out, &out, format)?
                }
            }
        }
        Backend::Cpu => {
            let input = audio::read_audio(&args.input)?;
            let out = reverb::reverb(&input, &ir, &opts, reverb::Backend::Cpu { threads: 0 })
                .map_err(name_ir)?;
            write_channels(&args.out, &out, format)?
        }
    };
    eprintln!(
        "wrote {} ({channels} channels x {frames} samples)",
        args.out.display()
    );
    Ok(())
}

fn write_channels(
    path: &Path,
    out: &audio::MultiChannel,
    format: WavFormat,
) -> Result<(usize, usize)> {
    audio::write_wav(path, &out.channels, out.sample_rate, format)?;
    Ok((out.channels.len(), out.channels.first().map_or(0, Vec::len)))
}

fn run_eval(args: &EvalArgs) -> Result<()> {
    let reference = audio::load_mono(&args.reference, None)?;
    let rate = reference.sample_rate;
    let test = audio::load_mono(&args.test, args.resample.then_some(rate))?;
    if test.sample_rate != rate {
        return Err(Error::invalid(
            "sample rate",
            format!(
                "{} is {rate} Hz but {} is {} Hz: pass --resample to resample the test to {rate} Hz",
                args.reference.display(),
                args.test.display(),
                test.sample_rate
            ),
        ));
    }
    let bytes = match (&args.events, args.bytes) {
        (Some(path), _) => Some(file_bytes(path)?),
        (None, bytes) => bytes,
    };
    let ctx = (args.backend == Backend::Gpu).then(open_gpu).transpose()?;
    let backend = match &ctx {
        Some(ctx) => metrics::Backend::Gpu(ctx),
        None => metrics::Backend::Cpu { threads: 0 },
    };
    let mut m = metrics::evaluate_with(&reference.samples, &test.samples, rate, backend)?;
    if let Some(bytes) = bytes {
        m = m.with_bitrate(bytes)?;
    }
    if m.reference_samples != m.test_samples {
        eprintln!(
            "wavesplat: reference {} samples, test {}: comparing the first {}",
            m.reference_samples, m.test_samples, m.samples
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&m).expect("metrics serialise")
        );
    } else {
        print!("{m}");
    }
    Ok(())
}

/// The size of a regular file in bytes.
fn file_bytes(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            "events",
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(meta.len())
}

fn run_bench(kernel: &BenchKernel) -> Result<()> {
    let ctx = open_gpu()?;
    let effort = |full: bool| {
        if full {
            bench::Effort::Full
        } else {
            bench::Effort::for_device(&ctx)
        }
    };
    match kernel {
        BenchKernel::Conv { json, taps, full } => {
            print_report(&bench::bench_conv(&ctx, taps, effort(*full))?, *json)
        }
        BenchKernel::Fft {
            json,
            lengths,
            full,
        } => print_report(&bench::bench_fft(&ctx, lengths, effort(*full))?, *json),
        BenchKernel::Render {
            json,
            counts,
            seconds,
            cpu_max_atoms,
            full,
        } => {
            let effort = effort(*full);
            let cpu_max = cpu_max_atoms.unwrap_or(match effort {
                bench::Effort::Quick => 10_000,
                bench::Effort::Full => usize::MAX,
            });
            let report = bench::bench_render(&ctx, counts, *seconds, cpu_max, effort)?;
            print_report(&report, *json)
        }
        BenchKernel::Stft { json, sizes, full } => {
            print_report(&bench::bench_stft(&ctx, sizes, effort(*full))?, *json)
        }
        BenchKernel::Gp {
            json,
            draws,
            cholesky_n,
        } => print_report(&gp::bench::bench_gp(&ctx, *draws, *cholesky_n)?, *json),
    }
    Ok(())
}

fn run_gp(command: &GpCommand) -> Result<()> {
    match command {
        GpCommand::Sample(args) => run_gp_sample(args),
        GpCommand::Kernel { grid, lags, out } => {
            let (k, rate) = (gp::kernel_from_spec(&grid.kernel)?, &grid.rate);
            if *lags == 0 || *lags > gp::MAX_GRID {
                return Err(Error::invalid(
                    "lags",
                    format!("{lags}: give 1 to {}", gp::MAX_GRID),
                ));
            }
            if !(rate.is_finite() && *rate > 0.0) {
                return Err(Error::invalid("rate", format!("{rate}: must be positive")));
            }
            let values: Vec<f32> = (0..*lags).map(|i| k.eval(i as f64 / rate) as f32).collect();
            npy::write_f32(out, &[*lags], &values)?;
            eprintln!("wrote {} ({lags} lags of {k} at {rate} Hz)", out.display());
            Ok(())
        }
        GpCommand::Check {
            grid,
            seconds,
            json,
        } => {
            let (kernel, rate) = (&grid.kernel, &grid.rate);
            let k = gp::kernel_from_spec(kernel)?;
            let seconds = seconds.unwrap_or(if kernel.trim().starts_with("middle-c") {
                gp::presets::MIDDLE_C_SECONDS
            } else {
                1.0
            });
            let cfg = gp::SampleConfig::new(*rate, seconds, 1, 0)?;
            let validity = gp::circulant::check_kernel(&k, cfg.rate, cfg.n)?;
            print_report(&validity, *json);
            if validity.valid {
                Ok(())
            } else {
                Err(Error::InvalidKernel {
                    kernel: kernel.clone(),
                    reason: validity.verdict,
                })
            }
        }
    }
}

fn run_gp_sample(args: &GpSampleArgs) -> Result<()> {
    let is_wav = match args.out.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("wav") => true,
        Some(e) if e.eq_ignore_ascii_case("npy") => false,
        _ => {
            return Err(Error::invalid(
                "output",
                format!("{}: name a .wav or .npy file", args.out.display()),
            ));
        }
    };
    fsutil::check_output_path(&args.out)?;
    let rate = args.grid.rate;
    let model = gp::model_from_spec(&args.grid.kernel)?;
    let seconds = args.seconds.unwrap_or(model.default_seconds);
    let cfg = gp::SampleConfig::new(rate, seconds, args.draws, args.seed)?;
    if is_wav && rate.fract() != 0.0 {
        return Err(Error::invalid(
            "rate",
            format!("{rate}: a WAV file needs a whole number of Hz"),
        ));
    }
    let draws = match args.sampler {
        GpSampler::Gpu => gp::gpu::circulant_sample(&open_gpu()?, &model, &cfg)?,
        GpSampler::Cpu => gp::cpu::circulant_sample(&model, &cfg, 0)?,
        GpSampler::StateSpace => gp::cpu::state_space_sample(&model, &cfg, 0)?,
        GpSampler::Cholesky => gp::dense::cholesky_sample(&model, &cfg, 0)?,
    };
    if is_wav {
        let peak = draws.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if peak > 0.0 { 0.9 / peak } else { 1.0 };
        let samples: Vec<f32> = draws.data.iter().map(|v| v * scale).collect();
        let format = if args.float {
            WavFormat::Float32
        } else {
            WavFormat::Pcm16
        };
        audio::write_wav(&args.out, &[samples], rate as u32, format)?;
    } else {
        npy::write_f32(&args.out, &[draws.draws, draws.n], &draws.data)?;
    }
    eprintln!(
        "wrote {} ({} draw(s) x {} samples at {} Hz, {:?} sampler, seed {})",
        args.out.display(),
        draws.draws,
        draws.n,
        rate,
        args.sampler,
        args.seed
    );
    Ok(())
}

/// A benchmark report as JSON or as its table.
fn print_report<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) {
    if json {
        let text = serde_json::to_string_pretty(report).expect("report serialises");
        println!("{text}");
    } else {
        print!("{report}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // symphonia logs a probe's every failed guess as an error; our error says it once.
    let filter = format!("{level},symphonia=off");
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter)).init();
    let result = match &cli.command {
        Command::Info { json } => run_info(*json),
        Command::Stft(args) => run_stft(args),
        Command::Convolve(args) => run_convolve(args),
        Command::Eval(args) => run_eval(args),
        Command::Gp { command } => run_gp(command),
        Command::Bench { kernel } => run_bench(kernel),
        Command::Events { command } => events_cli::run(command),
        Command::Render(args) => render_cli::render(args),
        Command::Encode(args) => encode_cli::encode(args),
        Command::Decode(args) => encode_cli::decode(args),
        Command::Demo(args) => encode_cli::demo(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
