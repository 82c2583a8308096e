//! `wavesplat encode DIR -o OUTDIR`: a whole folder, with a progress bar (a
//! module of main.rs; the scheduler is [`wavesplat::encode::collection`]).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::Path;
use std::time::Instant;
use wavesplat::encode::collection::{
    self, CollectionOptions, CollectionReport, FileRow, Shard, Status,
};
use wavesplat::encode::{Backend, EncodeOptions};
use wavesplat::{Error, Result};

/// How the folder run is set up, beside the encoding options.
pub struct FolderArgs<'a> {
    pub input: &'a Path,
    pub output: &'a Path,
    pub shard: Option<Shard>,
    pub jobs: usize,
    /// Bytes of decoded audio held at once.
    pub memory_budget: u64,
    pub force: bool,
    pub metrics: bool,
    pub quiet: bool,
    pub json: bool,
}

/// Encodes every audio file of `args.input` into `args.output`.
pub fn encode_folder(
    args: &FolderArgs,
    options: EncodeOptions,
    ctx: Option<&wavesplat::gpu::GpuContext>,
) -> Result<()> {
    let plan = collection::plan(args.input, args.output, options.form, args.shard)?;
    let settings = CollectionOptions {
        encode: options,
        jobs: args.jobs,
        memory_budget: args.memory_budget,
        force: args.force,
        metrics: args.metrics,
        ..CollectionOptions::default()
    };
    if !args.quiet {
        eprintln!(
            "{} audio file(s) in {}{}{}",
            plan.items.len(),
            args.input.display(),
            match args.shard {
                Some(s) => format!(
                    ", shard {}/{} ({} for other shards)",
                    s.index, s.count, plan.other_shards
                ),
                None => String::new(),
            },
            if plan.ignored > 0 {
                format!(", {} other file(s) ignored", plan.ignored)
            } else {
                String::new()
            },
        );
    }
    let backend = match ctx {
        Some(ctx) => Backend::Gpu(ctx),
        None => Backend::Cpu,
    };
    let mut progress = Progress::new(&plan, args.quiet);
    let report = collection::encode_collection(backend, &plan, &settings, &mut |row| {
        progress.file_done(row)
    })?;
    progress.finish();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else if !args.quiet {
        print_report(&report, &plan);
    }
    let unfinished = report.failed + report.not_run;
    if unfinished > 0 {
        return Err(Error::Incomplete {
            failed: unfinished,
            total: report.files.len(),
            summary: plan.summary_path("csv"),
        });
    }
    Ok(())
}

fn print_report(report: &CollectionReport, plan: &collection::Plan) {
    println!(
        "{} encoded, {} already done, {} failed, {} not run; {} of audio in {:.1} s: {:.2}x realtime on {} ({} files at once)",
        report.encoded,
        report.already_done,
        report.failed,
        report.not_run,
        audio_span(report.audio_seconds),
        report.wall_seconds,
        report.realtime_factor,
        report.device,
        report.jobs
    );
    if let (Some(idle), Some(b)) = (report.gpu_idle_fraction, report.batching) {
        println!(
            "GPU idle {:.1}% of the time; {} scoring rounds in {} submissions ({:.1} per submission, at most {})",
            idle * 100.0,
            b.requests,
            b.submissions,
            b.mean_batch(),
            b.largest_batch
        );
    }
    for row in report.files.iter().filter(|r| r.status == Status::Failed) {
        println!(
            "failed: {}: {}",
            row.input.display(),
            row.error.as_deref().unwrap_or("")
        );
    }
    println!(
        "wrote {} and {}",
        plan.summary_path("csv").display(),
        plan.summary_path("json").display()
    );
}

/// The progress bar: files done, hours of audio done, realtime factor, ETA
/// (by input bytes, the one size known before decoding). Hidden when quiet
/// or when stderr is not a terminal (then one line per file instead).
struct Progress {
    bar: ProgressBar,
    sizes: std::collections::HashMap<std::path::PathBuf, u64>,
    files: usize,
    done: usize,
    audio_seconds: f64,
    started: Instant,
    lines: bool,
}

impl Progress {
    fn new(plan: &collection::Plan, quiet: bool) -> Self {
        let sizes: std::collections::HashMap<_, _> = plan
            .items
            .iter()
            .map(|i| {
                (
                    i.relative.clone(),
                    std::fs::metadata(&i.input).map_or(0, |m| m.len()),
                )
            })
            .collect();
        let total: u64 = sizes.values().sum();
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {msg} [{elapsed_precise}, ETA {eta_precise}]")
                .expect("a valid template"),
        );
        Progress {
            lines: !quiet && bar.is_hidden(),
            bar,
            sizes,
            files: plan.items.len(),
            done: 0,
            audio_seconds: 0.0,
            started: Instant::now(),
        }
    }

    fn file_done(&mut self, row: &FileRow) {
        self.done += 1;
        if row.status == Status::Encoded {
            self.audio_seconds += row.seconds;
        }
        let rtf = self.audio_seconds / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!(
            "{}/{} files, {} of audio, {:.2}x realtime",
            self.done,
            self.files,
            audio_span(self.audio_seconds),
            rtf
        ));
        self.bar
            .inc(self.sizes.get(&row.input).copied().unwrap_or(0));
        if self.lines {
            let what = match row.status {
                Status::Encoded => format!(
                    "{} events, {:.2} kbit/s, {:.2}x realtime",
                    row.events, row.kbps, row.realtime_factor
                ),
                Status::AlreadyDone => "already done".to_string(),
                Status::Failed => format!("failed: {}", row.error.as_deref().unwrap_or("")),
                Status::NotRun => "not run".to_string(),
            };
            eprintln!(
                "[{}/{}] {}: {what}",
                self.done,
                self.files,
                row.input.display()
            );
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Seconds of audio in the unit that reads best: s, min or h.
fn audio_span(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.2} h", seconds / 3600.0)
    }
}
