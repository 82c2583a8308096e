//! The binary's `wavesplat events ...` subcommands (a module of main.rs).

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use wavesplat::Result;
use wavesplat::atoms::Atom;
use wavesplat::events::{self, EventList, Form, edit};

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Summarise an event file and list its events.
    Show {
        /// Event file (.splat, exact or compact; or .json).
        input: PathBuf,
        /// Print the events as the JSON form on stdout (the summary goes to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Write random valid events, for benchmarks and tests.
    Random(RandomArgs),
    /// Transpose, time-stretch, change the level of or thin out an event file.
    Edit(EditArgs),
    /// Draw the events as marks over the spectrogram of their render.
    Plot(crate::render_cli::PlotArgs),
}

#[derive(Args)]
pub struct RandomArgs {
    /// How many events.
    #[arg(long)]
    count: usize,
    /// Duration of the audio they describe, s.
    #[arg(long)]
    seconds: f32,
    /// Seed of the random generator: the same seed gives the same file.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sample rate recorded in the file, Hz.
    #[arg(long, default_value_t = 22_050)]
    rate: u32,
    /// Output file.
    #[arg(short, long)]
    out: PathBuf,
    /// Write the compact form (same as --form compact).
    #[arg(long)]
    compact: bool,
    /// Output form (default: json for a .json output, else exact).
    #[arg(long, value_enum)]
    form: Option<Form>,
}

#[derive(Args)]
pub struct EditArgs {
    /// Event file to edit.
    input: PathBuf,
    /// Shift pitch by this many semitones: f0, brightness and noise centre.
    #[arg(long, allow_hyphen_values = true)]
    transpose: Option<f32>,
    /// Multiply times by this factor: onsets, t60, closing, attack, length, duration.
    #[arg(long, allow_hyphen_values = true)]
    stretch: Option<f32>,
    /// Change every amplitude by this many dB.
    #[arg(long, allow_hyphen_values = true)]
    gain: Option<f32>,
    /// Remove events quieter than this many dB re amplitude 1 (after --gain).
    #[arg(long, allow_hyphen_values = true)]
    drop_below: Option<f32>,
    /// Output file.
    #[arg(short, long)]
    out: PathBuf,
    /// Output form (default: json for a .json output, else the input's form).
    #[arg(long, value_enum)]
    form: Option<Form>,
}

pub fn run(command: &EventsCommand) -> Result<()> {
    match command {
        EventsCommand::Show { input, json } => show(input, *json),
        EventsCommand::Random(args) => random(args),
        EventsCommand::Edit(args) => edit_file(args),
        EventsCommand::Plot(args) => crate::render_cli::plot(args),
    }
}

/// bytes * 8 / seconds, in kbit/s.
fn kbit_per_second(bytes: usize, seconds: f32) -> f64 {
    bytes as f64 * 8.0 / f64::from(seconds) / 1000.0
}

fn summary(path: &Path, list: &EventList, form: Form, bytes: usize) -> String {
    format!(
        "{}: {} form, {} events over {} s ({:.1} events/s) at {} Hz; {bytes} bytes, {:.3} kbit/s",
        path.display(),
        form,
        list.events.len(),
        list.duration,
        list.events_per_second(),
        list.rate,
        kbit_per_second(bytes, list.duration),
    )
}

fn show(input: &Path, json: bool) -> Result<()> {
    let (list, form) = events::read_with_form(input)?;
    let bytes = std::fs::metadata(input)
        .map_err(|e| wavesplat::Error::io(input, e))?
        .len() as usize;
    let summary = summary(input, &list, form, bytes);
    if json {
        eprintln!("{summary}");
        let text = list.to_bytes(Form::Json)?;
        print!("{}", String::from_utf8_lossy(&text));
        return Ok(());
    }
    println!("{summary}");
    println!(
        "{:>6} {:>10} {:>7} {:>9} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>9} {:>8} {:>8} {:>5} {:>8} {:>10}",
        "event",
        "onset s",
        "amp dB",
        "f0 Hz",
        "spacing",
        "rolloff",
        "t60 s",
        "bright Hz",
        "closing",
        "centre Hz",
        "width Hz",
        "attack s",
        "length s",
        "mix",
        "envelope",
        "seed"
    );
    for (i, a) in list.events.iter().enumerate() {
        println!("{}", row(i, a));
    }
    Ok(())
}

fn row(i: usize, a: &Atom) -> String {
    format!(
        "{i:>6} {:>10.4} {:>7.1} {:>9.2} {:>7.3} {:>7.3} {:>8.3} {:>9.0} {:>8.3} {:>9.0} {:>9.0} {:>8.4} {:>8.4} {:>5.2} {:>8} {:>10}",
        a.onset,
        edit::amplitude_db(a.amplitude),
        a.f0,
        a.spacing,
        a.rolloff,
        a.t60,
        a.brightness,
        a.closing,
        a.noise_centre,
        a.noise_width,
        a.attack,
        a.length,
        a.mix,
        format!("{:?}", a.envelope).to_lowercase(),
        a.seed
    )
}

/// Writes `list` and says what was written.
fn write(out: &Path, list: &EventList, form: Form) -> Result<()> {
    events::write(out, list, form)?;
    let bytes = std::fs::metadata(out)
        .map_err(|e| wavesplat::Error::io(out, e))?
        .len() as usize;
    eprintln!("wrote {}", summary(out, list, form, bytes));
    Ok(())
}

fn random(args: &RandomArgs) -> Result<()> {
    let form = args
        .form
        .or(args.compact.then_some(Form::Compact))
        .or(Form::for_path(&args.out))
        .unwrap_or(Form::Exact);
    let list = events::random::random(args.count, args.seconds, args.rate, args.seed)?;
    write(&args.out, &list, form)
}

fn edit_file(args: &EditArgs) -> Result<()> {
    let (mut list, input_form) = events::read_with_form(&args.input)?;
    let binary_form = match input_form {
        Form::Json => Form::Exact,
        binary => binary,
    };
    let form = args
        .form
        .or(Form::for_path(&args.out))
        .unwrap_or(binary_form);
    let report = |what: &str, clamped: usize| {
        if clamped > 0 {
            eprintln!("{what}: clamped {clamped} values to their ranges");
        }
    };
    if let Some(semitones) = args.transpose {
        report("transpose", edit::transpose(&mut list, semitones)?);
    }
    if let Some(factor) = args.stretch {
        report("stretch", edit::stretch(&mut list, factor)?);
    }
    if let Some(db) = args.gain {
        report("gain", edit::gain(&mut list, db)?);
    }
    if let Some(db) = args.drop_below {
        let dropped = edit::drop_below(&mut list, db)?;
        eprintln!("drop-below: removed {dropped} events quieter than {db} dB");
    }
    write(&args.out, &list, form)
}
