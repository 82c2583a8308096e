//! Running the `wavesplat` binary from CLI tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args`.
pub fn wavesplat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wavesplat"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

/// A fresh scratch folder for test `name` of suite `suite`.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wavesplat-{suite}-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must fail: exit code 1, the expected words, no
/// panic, no output file.
pub fn assert_fails(args: &[&str], out: &Path, words: &[&str]) {
    let o = wavesplat(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: expected {w:?} in:\n{err}");
    }
    assert!(!out.exists(), "{args:?} left {}", out.display());
}
