//! Which files a collection run encodes, and where their events go.

use crate::error::{Error, Result};
use crate::events::Form;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Extensions (lower case) of the files a collection encodes.
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];

/// One of `count` independent jobs: job `index` (from 0) owns the files
/// whose relative path hashes to `index` modulo `count`. The choice depends
/// only on the path, so every job agrees without talking to the others, and
/// adding files never moves the others between jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = Error;

    /// `I/N` with 0 <= I < N.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "shard",
                format!("{text:?}: give I/N with 0 <= I < N, e.g. 0/4 (I counts from 0)"),
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether this shard owns the file at `relative` (to the input folder).
    pub fn owns(&self, relative: &Path) -> bool {
        path_hash(relative) % u64::from(self.count) == u64::from(self.index)
    }

    /// `-shard-I-of-N`, for the names of this shard's journal and summaries.
    fn suffix(&self) -> String {
        format!("-shard-{}-of-{}", self.index, self.count)
    }
}

/// FNV-1a (64 bit) of the path's components joined by `/`, so the same
/// collection hashes the same on every platform.
fn path_hash(relative: &Path) -> u64 {
    let text = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One input and where its events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub input: PathBuf,
    /// The input's path below the input folder.
    pub relative: PathBuf,
    pub output: PathBuf,
}

/// What a collection run will do.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub input_dir: PathBuf,
    pub output_dir: PathBuf,
    /// This shard's audio files, in sorted order.
    pub items: Vec<Item>,
    /// Audio files that other shards own.
    pub other_shards: usize,
    /// Files without an audio extension (not encoded, not reported as errors).
    pub ignored: usize,
    pub shard: Option<Shard>,
}

impl Plan {
    /// The journal of finished files.
    pub fn journal_path(&self) -> PathBuf {
        self.output_dir
            .join(format!("journal{}.jsonl", self.suffix()))
    }

    /// The summary, as `csv` or `json`.
    pub fn summary_path(&self, extension: &str) -> PathBuf {
        self.output_dir
            .join(format!("summary{}.{extension}", self.suffix()))
    }

    fn suffix(&self) -> String {
        self.shard.map(|s| s.suffix()).unwrap_or_default()
    }
}

/// The files of `input_dir` that `shard` owns (all of them without one), with
/// outputs mirrored under `output_dir` (`.splat`, or `.json` for the JSON form).
pub fn plan(input_dir: &Path, output_dir: &Path, form: Form, shard: Option<Shard>) -> Result<Plan> {
    if !input_dir.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder");
        return Err(Error::io(input_dir, source));
    }
    let mut files = Vec::new();
    walk(input_dir, output_dir, &mut files)?;
    files.sort();
    let extension = if form == Form::Json { "json" } else { "splat" };
    let mut plan = Plan {
        input_dir: input_dir.to_path_buf(),
        output_dir: output_dir.to_path_buf(),
        shard,
        ..Plan::default()
    };
    let (audio, other): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|f| is_audio(f));
    plan.ignored = other.len();
    let relatives: Vec<PathBuf> = audio
        .iter()
        .map(|input| {
            input
                .strip_prefix(input_dir)
                .expect("walked below the input folder")
                .to_path_buf()
        })
        .collect();
    let outputs = output_names(&relatives, extension);
    for ((input, relative), output) in audio.into_iter().zip(relatives).zip(outputs) {
        if shard.is_some_and(|s| !s.owns(&relative)) {
            plan.other_shards += 1;
            continue;
        }
        plan.items.push(Item {
            input,
            output: output_dir.join(output),
            relative,
        });
    }
    Ok(plan)
}

/// Each input's output path (relative): the input's with `extension`, or,
/// where two inputs would share one (`a.wav` and `a.flac`), the input's
/// whole name plus `extension` (`a.wav.splat`). Decided over the whole
/// folder, before sharding, so every shard names the same.
fn output_names(relatives: &[PathBuf], extension: &str) -> Vec<PathBuf> {
    let plain: Vec<PathBuf> = relatives
        .iter()
        .map(|r| r.with_extension(extension))
        .collect();
    let mut uses: HashMap<&PathBuf, usize> = HashMap::new();
    for p in &plain {
        *uses.entry(p).or_default() += 1;
    }
    relatives
        .iter()
        .zip(&plain)
        .map(|(relative, plain)| {
            if uses[plain] == 1 {
                return plain.clone();
            }
            let mut name = relative.as_os_str().to_os_string();
            name.push(format!(".{extension}"));
            PathBuf::from(name)
        })
        .collect()
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every file below `dir` (following links to files, not to folders, so a
/// link loop cannot trap the walk), leaving out the output folder.
fn walk(dir: &Path, skip: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            if !same_place(&path, skip) {
                walk(&path, skip, files)?;
            }
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            files.push(path);
        }
    }
    Ok(())
}

fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
