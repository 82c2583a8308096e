//! The binary's `wavesplat render` and `wavesplat events plot` (a module of main.rs).

use clap::Args;
use std::path::{Path, PathBuf};
use wavesplat::atoms::{Atom, cpu as atoms_cpu, gpu as atoms_gpu};
use wavesplat::audio::{self, MultiChannel, WavFormat};
use wavesplat::conv::reverb::{self, ReverbOptions};
use wavesplat::events::{self, EventList, edit::amplitude_db};
use wavesplat::gpu::GpuContext;
use wavesplat::stft::{self, SpectrumFormat, StftConfig, Window};
use wavesplat::{Error, Result, plot};

/// Where a render runs.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq)]
pub enum RenderBackend {
    Gpu,
    Cpu,
}

#[derive(Args)]
pub struct RenderArgs {
    /// Event file (.splat exact or compact, or .json).
    input: PathBuf,
    /// Output WAV (32-bit float unless --pcm16), at the events' sample rate.
    #[arg(short, long)]
    out: PathBuf,
    /// Where to render: the GPU gather, or the f64 CPU reference on all threads.
    #[arg(long, value_enum, default_value_t = RenderBackend::Gpu)]
    backend: RenderBackend,
    /// Room impulse response to convolve the whole output with.
    #[arg(long)]
    ir: Option<PathBuf>,
    /// Gain of the reverberated signal (with --ir).
    #[arg(long, default_value_t = 1.0)]
    wet: f32,
    /// Gain of the dry signal (with --ir).
    #[arg(long, default_value_t = 0.0)]
    dry: f32,
    /// Write 16-bit PCM (clipped) instead of float.
    #[arg(long)]
    pcm16: bool,
}

#[derive(Args)]
pub struct PlotArgs {
    /// Event file (.splat exact or compact, or .json).
    input: PathBuf,
    /// Output PNG.
    #[arg(short, long)]
    out: PathBuf,
    /// Where to render the audio under the marks.
    #[arg(long, value_enum, default_value_t = RenderBackend::Gpu)]
    backend: RenderBackend,
    /// STFT size of the picture.
    #[arg(long, default_value_t = 2048)]
    n_fft: usize,
}

impl RenderArgs {
    /// A plain render of `input` to `out`, without a room.
    pub(crate) fn plain(input: PathBuf, out: PathBuf, backend: RenderBackend, pcm16: bool) -> Self {
        RenderArgs {
            input,
            out,
            backend,
            ir: None,
            wet: 1.0,
            dry: 0.0,
            pcm16,
        }
    }
}

/// The GPU context `backend` needs (opened once per command), if any.
pub(crate) fn context_for(backend: RenderBackend) -> Result<Option<GpuContext>> {
    match backend {
        RenderBackend::Gpu => crate::open_gpu().map(Some),
        RenderBackend::Cpu => Ok(None),
    }
}

/// `events` rendered into `samples` samples: on `ctx`, or by the CPU
/// reference without one.
pub(crate) fn render_events(
    ctx: Option<&GpuContext>,
    events: &[Atom],
    rate: u32,
    samples: usize,
) -> Result<Vec<f32>> {
    match ctx {
        Some(ctx) => atoms_gpu::render(ctx, events, rate, samples),
        None => atoms_cpu::render(events, rate, samples, 0),
    }
}

/// The events of `list` rendered over its whole duration.
pub(crate) fn render_list(ctx: Option<&GpuContext>, list: &EventList) -> Result<Vec<f32>> {
    let samples = (list.duration as f64 * list.rate as f64).round() as usize;
    render_events(ctx, &list.events, list.rate, samples)
}

pub fn render(args: &RenderArgs) -> Result<()> {
    let list = events::read(&args.input)?;
    crate::fsutil::check_output_path(&args.out)?;
    let ctx = context_for(args.backend)?;
    let mut samples = render_list(ctx.as_ref(), &list)?;
    if let Some(ir_path) = &args.ir {
        samples = add_room(samples, list.rate, ir_path, args, ctx.as_ref())?;
    }
    let format = if args.pcm16 {
        WavFormat::Pcm16
    } else {
        WavFormat::Float32
    };
    audio::write_wav(&args.out, &[samples.as_slice()], list.rate, format)?;
    eprintln!(
        "wrote {} ({} events, {:.2} s at {} Hz)",
        args.out.display(),
        list.events.len(),
        list.duration,
        list.rate
    );
    Ok(())
}

/// The render through the room: `dry·x + wet·(x ∗ h)`, cut to the render's length.
fn add_room(
    samples: Vec<f32>,
    rate: u32,
    ir_path: &Path,
    args: &RenderArgs,
    ctx: Option<&GpuContext>,
) -> Result<Vec<f32>> {
    if !(args.wet.is_finite() && args.dry.is_finite()) {
        return Err(Error::invalid(
            "mix",
            "--wet and --dry must be finite numbers",
        ));
    }
    let ir = audio::read_audio(ir_path)?;
    let opts = ReverbOptions {
        wet: args.wet,
        dry: args.dry,
        mode: wavesplat::conv::ConvMode::Same,
        normalize: true,
        conv: Default::default(),
    };
    let input = MultiChannel {
        channels: vec![samples],
        sample_rate: rate,
    };
    let backend = match ctx {
        Some(ctx) => reverb::Backend::Gpu(ctx),
        None => reverb::Backend::Cpu { threads: 0 },
    };
    let out = reverb::reverb(&input, &ir, &opts, backend)?;
    // A stereo IR makes the output stereo; an event render stays mono.
    let channels = out.channels.len() as f32;
    let mut mono = vec![0.0f32; out.channels[0].len()];
    for channel in &out.channels {
        for (m, v) in mono.iter_mut().zip(channel) {
            *m += v / channels;
        }
    }
    Ok(mono)
}

pub fn plot(args: &PlotArgs) -> Result<()> {
    let list = events::read(&args.input)?;
    crate::fsutil::check_output_path(&args.out)?;
    let samples = render_list(context_for(args.backend)?.as_ref(), &list)?;
    let cfg = StftConfig {
        n_fft: args.n_fft,
        hop: args.n_fft / 4,
        window: Window::Hann,
        format: SpectrumFormat::Magnitude,
    };
    cfg.validate()?;
    cfg.validate_for_length(samples.len()).map_err(|e| {
        Error::invalid(
            "events",
            format!("{}: too short to plot: {e}", args.input.display()),
        )
    })?;
    let spec = stft::cpu::stft(&[samples.as_slice()], &cfg, 0)?;
    let title = format!(
        "{}  {} events  rings: tones at f0, squares: noise bursts",
        plot::file_label(&args.input),
        list.events.len()
    );
    let picture = plot::SpectrogramPicture::of(&spec, &cfg, list.rate, title);
    plot::write_spectrogram_with_marks(&args.out, &picture, &marks(&list))?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// One mark an event: a ring at (onset, f0) for a mostly-resonant atom, a
/// square at (onset, noise centre) for a mostly-noise one; larger is louder
/// (over the 60 dB below the loudest event).
fn marks(list: &EventList) -> Vec<plot::Mark> {
    let loudest = list
        .events
        .iter()
        .map(|a| amplitude_db(a.amplitude))
        .fold(f32::MIN, f32::max);
    list.events
        .iter()
        .map(|a| {
            let tone = a.mix >= 0.5;
            plot::Mark {
                seconds: a.onset as f64,
                hz: if tone { a.f0 } else { a.noise_centre } as f64,
                strength: ((amplitude_db(a.amplitude) - loudest + 60.0) / 60.0) as f64,
                filled: !tone,
            }
        })
        .collect()
}
