//! The binary's `wavesplat encode`, `decode` and `demo` (a module of main.rs).

use crate::render_cli::RenderBackend;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wavesplat::audio::{self, WavFormat};
use wavesplat::encode::collection::Shard;
use wavesplat::encode::retry::with_gpu_retry;
use wavesplat::encode::{self, Budget, EncodeOptions, EncodeReport, WORKING_RATE};
use wavesplat::events::{self, Form};
use wavesplat::{Error, Result, metrics};

/// The clip `wavesplat demo` encodes.
const DEMO_CLIP: &str = "assets/piano_bach_chorale.wav";

#[derive(Args)]
pub struct BudgetArgs {
    /// Bitrate of the written file, kbit/s (header included). Default: 4.
    #[arg(long, conflicts_with = "events_per_second")]
    kbps: Option<f64>,
    /// Events per second of audio instead of a bitrate.
    #[arg(long)]
    events_per_second: Option<f64>,
    /// Gradient refinement iterations (Adam on the STFT loss; 0: matching pursuit only).
    #[arg(long, default_value_t = 0)]
    iterations: u32,
    /// Seconds of onsets each analysis window owns (long audio is encoded window by window).
    #[arg(long, default_value_t = EncodeOptions::default().segment_seconds)]
    segment_seconds: f64,
    /// Where to compute: the GPU kernels, or their CPU references.
    #[arg(long, value_enum, default_value_t = RenderBackend::Gpu)]
    backend: RenderBackend,
}

#[derive(Args)]
pub struct EncodeArgs {
    /// Input audio (WAV, FLAC, OGG Vorbis, MP3): down-mixed to mono, resampled to 22050 Hz.
    /// A folder encodes every audio file below it (see --jobs, --shard, --force).
    input: PathBuf,
    /// Output event file (a folder, mirroring the input's, when the input is a folder).
    #[arg(short, long)]
    out: PathBuf,
    #[command(flatten)]
    budget: BudgetArgs,
    /// Write the compact form (the default; same as --form compact).
    #[arg(long, conflicts_with_all = ["exact", "form"])]
    compact: bool,
    /// Write the exact form (same as --form exact).
    #[arg(long, conflicts_with = "form")]
    exact: bool,
    /// Output form (default: compact; json for a .json output).
    #[arg(long, value_enum)]
    form: Option<Form>,
    /// Noise seeds of exact and JSON files: event i gets seed_for_index(i) XOR this.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Folder input: files encoded at once (on the GPU, their scoring rounds share submissions).
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// MiB of decoded audio held at once. A file that would need more is
    /// streamed (its events are the same; its metrics are skipped, as they need
    /// the whole signal); a folder run also waits for room before decoding the next file.
    #[arg(long, default_value_t = 2048.0)]
    memory_mb: f64,
    /// Folder input: re-encode files whose outputs already exist (a re-run skips them).
    #[arg(long)]
    force: bool,
    /// Folder input: encode only shard I of N (0 <= I < N), chosen by a hash of each
    /// file's path, so N independent jobs split a collection.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Folder input: do not render and measure each written file (faster).
    #[arg(long)]
    no_metrics: bool,
    /// No progress bar or report; errors still print.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
pub struct DecodeArgs {
    /// Event file (.splat exact or compact, or .json).
    input: PathBuf,
    /// Output WAV (32-bit float unless --pcm16).
    #[arg(short, long)]
    out: PathBuf,
    /// Where to render.
    #[arg(long, value_enum, default_value_t = RenderBackend::Gpu)]
    backend: RenderBackend,
    /// Write 16-bit PCM (clipped) instead of float.
    #[arg(long)]
    pcm16: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for demo.splat and demo.wav.
    #[arg(long, default_value = ".")]
    out_dir: PathBuf,
    #[command(flatten)]
    budget: BudgetArgs,
}

/// What an encode prints.
#[derive(serde::Serialize)]
struct Summary {
    input: PathBuf,
    output: PathBuf,
    form: String,
    events: usize,
    events_per_second: f64,
    seconds: f64,
    bytes: u64,
    bitrate_kbps: f64,
    /// None when the clip is too short for the metrics.
    metrics: Option<metrics::Metrics>,
    encode_seconds: f64,
    realtime_factor: f64,
    timings: encode::StageTimings,
    segments: usize,
    device: String,
    /// The file was streamed through the encoder rather than decoded whole.
    streamed: bool,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "events                 {} ({:.1} per second, {} form, {} segment(s))",
            self.events, self.events_per_second, self.form, self.segments
        )?;
        writeln!(
            f,
            "bitrate                {:.3} kbit/s ({} bytes over {:.2} s)",
            self.bitrate_kbps, self.bytes, self.seconds
        )?;
        match &self.metrics {
            Some(m) => {
                writeln!(f, "mel distance           {:.4}", m.mel_distance)?;
                writeln!(f, "STFT distance          {:.4}", m.stft_distance)?;
                writeln!(f, "log-spectral distance  {:.2} dB", m.lsd_db)?;
            }
            None if self.streamed => writeln!(
                f,
                "metrics                skipped: the file was streamed (it is over --memory-mb) and they need it whole"
            )?,
            None => writeln!(f, "metrics                none: the clip is too short")?,
        }
        let t = &self.timings;
        writeln!(
            f,
            "encode time            {:.2} s on {}: {:.2}x realtime (analysis {:.2} s, scoring {:.2} s in {} rounds, templates {:.2} s, refinement {:.2} s)",
            self.encode_seconds,
            self.device,
            self.realtime_factor,
            t.analysis,
            t.scoring,
            t.rounds,
            t.templates,
            t.refinement
        )?;
        if t.refinement > 0.0 {
            writeln!(
                f,
                "refinement             render {:.2} s, STFT loss {:.2} s, gradients {:.2} s, updates {:.2} s",
                t.refine_render, t.refine_stft, t.refine_gradient, t.refine_update
            )?;
        }
        Ok(())
    }
}

fn options(budget: &BudgetArgs, form: Form, seed: u32) -> EncodeOptions {
    EncodeOptions {
        budget: match (budget.kbps, budget.events_per_second) {
            (_, Some(r)) => Budget::EventsPerSecond(r),
            (Some(k), None) => Budget::Kbps(k),
            (None, None) => EncodeOptions::default().budget,
        },
        form,
        iterations: budget.iterations,
        seed,
        segment_seconds: budget.segment_seconds,
        ..Default::default()
    }
}

/// Where the encoder runs: the GPU context, or the CPU when there is none.
fn compute_on(ctx: Option<&wavesplat::gpu::GpuContext>) -> encode::Backend<'_> {
    match ctx {
        Some(ctx) => encode::Backend::Gpu(ctx),
        None => encode::Backend::Cpu,
    }
}

/// What an encode of `input` to `output` reports, once the file is written.
struct Written<'a> {
    input: &'a Path,
    output: &'a Path,
    options: &'a EncodeOptions,
    report: EncodeReport,
    samples: usize,
    encode_seconds: f64,
    device: String,
}

impl Written<'_> {
    fn summary(self, metrics: Option<metrics::Metrics>, streamed: bool) -> Result<Summary> {
        let bytes = std::fs::metadata(self.output)
            .map_err(|e| Error::io(self.output, e))?
            .len();
        let seconds = self.samples as f64 / f64::from(WORKING_RATE);
        let events = self.report.events.events.len();
        Ok(Summary {
            input: self.input.to_path_buf(),
            output: self.output.to_path_buf(),
            form: self.options.form.name().to_string(),
            events,
            events_per_second: events as f64 / seconds,
            seconds,
            bytes,
            bitrate_kbps: metrics::bitrate_kbps(bytes, seconds)?,
            metrics: metrics.map(|m| m.with_bitrate(bytes)).transpose()?,
            encode_seconds: self.encode_seconds,
            realtime_factor: seconds / self.encode_seconds.max(1e-9),
            timings: self.report.timings,
            segments: self.report.segments,
            device: self.device,
            streamed,
        })
    }
}

fn device_lost(ctx: Option<&wavesplat::gpu::GpuContext>) -> bool {
    ctx.is_some_and(|ctx| ctx.check_lost().is_err())
}

fn device_name(ctx: Option<&wavesplat::gpu::GpuContext>) -> String {
    match ctx {
        Some(ctx) => ctx.summary().name.clone(),
        None => "the CPU".to_string(),
    }
}

/// Encodes `input` to `output`, renders the written file and measures it.
fn encode_file(
    input: &Path,
    output: &Path,
    options: &EncodeOptions,
    backend: RenderBackend,
) -> Result<(Summary, Vec<f32>)> {
    // Options first: a bad option is reported before the work.
    encode::Encoder::new(encode::Backend::Cpu, options)?;
    let clip = audio::load_mono(input, Some(WORKING_RATE))?;
    let ctx = crate::render_cli::context_for(backend)?;
    let clock = Instant::now();
    let report = with_gpu_retry(
        *options,
        || device_lost(ctx.as_ref()),
        |o| encode::encode(compute_on(ctx.as_ref()), &clip.samples, WORKING_RATE, o),
        input,
    )?;
    let encode_seconds = clock.elapsed().as_secs_f64();
    events::write(output, &report.events, options.form)?;
    let decoded = events::read(output)?;
    let rendered = crate::render_cli::render_events(
        ctx.as_ref(),
        &decoded.events,
        decoded.rate,
        clip.samples.len(),
    )?;
    let metrics = if clip.samples.len() >= metrics::MIN_SAMPLES {
        Some(metrics::evaluate(&clip.samples, &rendered, WORKING_RATE)?)
    } else {
        None
    };
    let written = Written {
        input,
        output,
        options,
        report,
        samples: clip.samples.len(),
        encode_seconds,
        device: device_name(ctx.as_ref()),
    };
    Ok((written.summary(metrics, false)?, rendered))
}

/// Encodes `input`, already scanned (`stats`, in `scan_seconds`), to `output`
/// through the streaming source: about one analysis window is held at a time.
fn encode_streamed(
    input: &Path,
    output: &Path,
    options: &EncodeOptions,
    backend: RenderBackend,
    stats: &audio::StreamStats,
    scan_seconds: f64,
) -> Result<Summary> {
    let ctx = crate::render_cli::context_for(backend)?;
    let mut source = encode::source::Streamed::scanned(input, stats, scan_seconds)?;
    let clock = Instant::now();
    let report = with_gpu_retry(
        *options,
        || device_lost(ctx.as_ref()),
        |o| encode::Encoder::new(compute_on(ctx.as_ref()), o)?.run_source(&mut source),
        input,
    )?;
    let encode_seconds = clock.elapsed().as_secs_f64();
    events::write(output, &report.events, options.form)?;
    let written = Written {
        input,
        output,
        options,
        report,
        samples: stats.len,
        encode_seconds,
        device: device_name(ctx.as_ref()),
    };
    written.summary(None, true)
}

/// `--memory-mb` in bytes; not positive or not a number is an error.
fn memory_budget(memory_mb: f64) -> Result<u64> {
    if !(memory_mb.is_finite() && memory_mb > 0.0) {
        return Err(Error::invalid(
            "--memory-mb",
            format!("{memory_mb} is not a positive number of MiB"),
        ));
    }
    Ok((memory_mb * f64::from(1u32 << 20)) as u64)
}

/// Encodes one file: whole when it fits `--memory-mb`, else streamed.
fn encode_one(args: &EncodeArgs, options: &EncodeOptions) -> Result<Summary> {
    let budget = memory_budget(args.memory_mb)?;
    // Options first: a bad option is reported before the work.
    encode::Encoder::new(encode::Backend::Cpu, options)?;
    let fits = |len| encode::source::whole_file_bytes(len) <= budget;
    let whole = || Ok(encode_file(&args.input, &args.out, options, args.budget.backend)?.0);
    // A WAV header bounds the length: no pass over a file that fits.
    if audio::mono_len_bound(&args.input, WORKING_RATE)?.is_some_and(fits) {
        return whole();
    }
    let clock = Instant::now();
    let stats = audio::scan_mono(&args.input, WORKING_RATE)?;
    if fits(stats.len) {
        return whole();
    }
    log::info!(
        "{}: {:.0} MiB decoded is over --memory-mb {}; streaming it",
        args.input.display(),
        encode::source::whole_file_bytes(stats.len) as f64 / f64::from(1u32 << 20),
        args.memory_mb
    );
    encode_streamed(
        &args.input,
        &args.out,
        options,
        args.budget.backend,
        &stats,
        clock.elapsed().as_secs_f64(),
    )
}

pub fn encode(args: &EncodeArgs) -> Result<()> {
    let form = if args.exact {
        Form::Exact
    } else if args.compact {
        Form::Compact
    } else {
        args.form
            .or(Form::for_path(&args.out))
            .unwrap_or(Form::Compact)
    };
    let opts = options(&args.budget, form, args.seed);
    if args.input.is_dir() {
        return encode_folder(args, opts);
    }
    if args.shard.is_some() || args.force {
        return Err(Error::invalid(
            "option",
            format!(
                "--shard and --force are for folder inputs; {} is not a folder",
                args.input.display()
            ),
        ));
    }
    crate::fsutil::check_output_path(&args.out)?;
    let summary = encode_one(args, &opts)?;
    if args.json {
        let text = serde_json::to_string_pretty(&summary).expect("summary serialises");
        println!("{text}");
    } else {
        print!("{summary}");
    }
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn encode_folder(args: &EncodeArgs, options: EncodeOptions) -> Result<()> {
    // Options first: a bad option is reported before the GPU opens.
    encode::Encoder::new(encode::Backend::Cpu, &options)?;
    let folder = crate::collection_cli::FolderArgs {
        input: &args.input,
        output: &args.out,
        shard: args.shard,
        jobs: args.jobs,
        memory_budget: memory_budget(args.memory_mb)?,
        force: args.force,
        metrics: !args.no_metrics,
        quiet: args.quiet,
        json: args.json,
    };
    let ctx = crate::render_cli::context_for(args.budget.backend)?;
    crate::collection_cli::encode_folder(&folder, options, ctx.as_ref())
}

pub fn decode(args: &DecodeArgs) -> Result<()> {
    crate::render_cli::render(&crate::render_cli::RenderArgs::plain(
        args.input.clone(),
        args.out.clone(),
        args.backend,
        args.pcm16,
    ))
}

/// The bundled clip: next to the sources, or under the working directory.
fn demo_clip() -> Result<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEMO_CLIP);
    [beside, PathBuf::from(DEMO_CLIP)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::invalid(
                "demo",
                format!("cannot find the bundled clip {DEMO_CLIP}: run from the repository"),
            )
        })
}

pub fn demo(args: &DemoArgs) -> Result<()> {
    let input = demo_clip()?;
    std::fs::create_dir_all(&args.out_dir).map_err(|e| Error::io(&args.out_dir, e))?;
    let splat = args.out_dir.join("demo.splat");
    let wav = args.out_dir.join("demo.wav");
    let opts = options(&args.budget, Form::Compact, 0);
    let (summary, rendered) = encode_file(&input, &splat, &opts, args.budget.backend)?;
    audio::write_wav(
        &wav,
        &[rendered.as_slice()],
        WORKING_RATE,
        WavFormat::Float32,
    )?;
    println!("encoded {}", input.display());
    print!("{summary}");
    println!("wrote {} and {}", splat.display(), wav.display());
    Ok(())
}
