//! What survives a run: the journal of finished files, the summaries, and
//! what a re-run finds already done.

use super::{CollectionReport, FileRow, Item, Plan, Status};
use crate::error::{Error, Result};
use crate::events::{self, EventList};
use crate::metrics;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The row of a file an earlier run finished, if its output reads back
/// whole (and `force` is off).
pub(super) fn done_before(
    item: &Item,
    journal: &HashMap<PathBuf, FileRow>,
    fingerprint: &str,
    force: bool,
) -> Option<FileRow> {
    if force || !item.output.is_file() {
        return None;
    }
    let list = match events::read(&item.output) {
        Ok(list) => list,
        Err(e) => {
            log::warn!("{e}: encoding it again");
            return None;
        }
    };
    let row = match journal.get(&item.relative) {
        Some(row) => FileRow {
            status: Status::AlreadyDone,
            ..row.clone()
        },
        // Finished, but killed before the journal line: rebuilt from the file.
        None => row_from_list(item, &list, fingerprint),
    };
    if row.options != fingerprint {
        log::warn!(
            "{} was encoded with other options ({}); keeping it (use --force to re-encode)",
            item.output.display(),
            row.options
        );
    }
    Some(row)
}

fn row_from_list(item: &Item, list: &EventList, fingerprint: &str) -> FileRow {
    let bytes = std::fs::metadata(&item.output).map_or(0, |m| m.len());
    let seconds = f64::from(list.duration);
    FileRow {
        seconds,
        events: list.events.len(),
        bytes,
        kbps: metrics::bitrate_kbps(bytes, seconds).unwrap_or(0.0),
        ..FileRow::empty(item, Status::AlreadyDone, fingerprint)
    }
}

/// Removes what a killed run left half-written for the items' outputs
/// (`NAME.PID.tmp`, see [`crate::fsutil::temp_path_for`]), reading each
/// output folder once.
pub(super) fn remove_stale_temporaries(items: &[Item]) {
    let mut outputs: HashMap<&Path, HashSet<&OsStr>> = HashMap::new();
    for item in items {
        if let (Some(dir), Some(name)) = (item.output.parent(), item.output.file_name()) {
            outputs.entry(dir).or_default().insert(name);
        }
    }
    for (dir, names) in outputs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some((output, pid)) = file
                .strip_suffix(".tmp")
                .and_then(|rest| rest.rsplit_once('.'))
                .filter(|(_, pid)| !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()))
            else {
                continue;
            };
            if names.contains(OsStr::new(output)) {
                log::info!("removing {file}, left by an interrupted run (process {pid})");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The last row of every file in the journal (a torn last line is skipped).
pub(super) fn read_journal(path: &Path) -> HashMap<PathBuf, FileRow> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<FileRow>(line).ok())
        .filter(|row| row.status == Status::Encoded)
        .map(|row| (row.input.clone(), row))
        .collect()
}

pub(super) fn open_journal(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

pub(super) fn append_journal(file: &mut std::fs::File, row: &FileRow, path: &Path) -> Result<()> {
    let mut line = serde_json::to_string(row).expect("rows serialise");
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(path, e))
}

/// `summary.csv` and `summary.json` (with the shard's suffix), written atomically.
pub(super) fn write_summaries(plan: &Plan, report: &CollectionReport) -> Result<()> {
    let json = serde_json::to_string_pretty(report).expect("reports serialise");
    crate::fsutil::write_atomically(&plan.summary_path("json"), |w| {
        w.write_all(json.as_bytes())
            .map_err(|e| Error::io(plan.summary_path("json"), e))
    })?;
    let csv = summary_csv(&report.files);
    crate::fsutil::write_atomically(&plan.summary_path("csv"), |w| {
        w.write_all(csv.as_bytes())
            .map_err(|e| Error::io(plan.summary_path("csv"), e))
    })
}

/// The rows as CSV (RFC 4180 quoting).
pub fn summary_csv(rows: &[FileRow]) -> String {
    let mut csv = String::from(
        "input,output,status,seconds,events,bytes,kbps,mel_distance,stft_distance,lsd_db,encode_seconds,realtime_factor,error\n",
    );
    let opt = |x: Option<f64>| x.map(|x| format!("{x:.6}")).unwrap_or_default();
    for r in rows {
        let status = serde_json::to_value(r.status).expect("statuses serialise");
        let fields = [
            quote(&r.input.to_string_lossy()),
            quote(&r.output.to_string_lossy()),
            status.as_str().unwrap_or_default().to_string(),
            format!("{:.3}", r.seconds),
            r.events.to_string(),
            r.bytes.to_string(),
            format!("{:.4}", r.kbps),
            opt(r.mel_distance),
            opt(r.stft_distance),
            opt(r.lsd_db),
            format!("{:.3}", r.encode_seconds),
            format!("{:.4}", r.realtime_factor),
            quote(r.error.as_deref().unwrap_or_default()),
        ];
        csv.push_str(&fields.join(","));
        csv.push('\n');
    }
    csv
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
