//! Crash-safe file output: write to a temporary name beside the target, then
//! rename, so an interrupted run never leaves a half file that looks whole.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name used while `path` is being written.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Fails, naming `path`, where [`write_atomically`] could not put a file
/// there: the folder it names does not exist (or is not a folder), or `path`
/// is itself a folder. Commands check their outputs with it before the work,
/// so a long run does not end in "No such file or directory".
pub fn check_output_path(path: &Path) -> Result<()> {
    let fail = |kind, message: String| Err(Error::io(path, std::io::Error::new(kind, message)));
    if path.is_dir() {
        return fail(std::io::ErrorKind::IsADirectory, "is a folder".into());
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return fail(
            std::io::ErrorKind::NotFound,
            format!("the folder {} does not exist", folder.display()),
        );
    }
    Ok(())
}

/// Writes a file atomically: `fill` streams the contents into a temporary file,
/// which is flushed, synced and renamed over `path` only if `fill` succeeds.
pub fn write_atomically<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<()>,
{
    let tmp = temp_path_for(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        let mut writer = std::io::BufWriter::new(file);
        fill(&mut writer)?;
        writer.flush().map_err(|e| Error::io(path, e))?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        // Best effort: the temporary file is garbage once the write failed.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
