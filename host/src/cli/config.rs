//! `sbx config check [FILE]`: validates the configuration and loads every plugin with its settings.

use crate::config::{self, Config, Mode, OnError};
use crate::plugin::set;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate a configuration file (default: the one sbx would use) and load its plugins.
    Check {
        /// The file to check.
        file: Option<PathBuf>,
    },
}

/// The configuration of this run: `--config FILE`, else the default file if there is one. Read and
/// parsed once a process: the store (its layer limits and registries) and the verb (its plugins)
/// both ask for it, and a second parse of a file naming five policies cost 13-19 us of each run.
pub fn resolve(explicit: Option<&Path>) -> Result<Config, i32> {
    static READ: Mutex<Option<(Option<PathBuf>, Config)>> = Mutex::new(None);
    let mut read = READ.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((path, config)) = read.as_ref()
        && path.as_deref() == explicit
    {
        return Ok(config.clone());
    }
    let config = read_file(explicit)?;
    *read = Some((explicit.map(Path::to_path_buf), config.clone()));
    Ok(config)
}

fn read_file(explicit: Option<&Path>) -> Result<Config, i32> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match config::default_path(crate::isolate::rootless::is_host_root(), |k| std::env::var(k).ok()) {
            Some(p) => p,
            None => return Ok(Config::default()),
        },
    };
    config::load(&path).map_err(super::fail)
}

pub fn run(cmd: ConfigCommand, global: Option<&Path>) -> i32 {
    let ConfigCommand::Check { file } = cmd;
    let config = match resolve(file.as_deref().or(global)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let results = match set::check_all(&crate::plugin::compile::cache_dir(), &config.plugins) {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    let mut failed = 0;
    for (spec, result) in config.plugins.iter().zip(results) {
        let mode = match spec.mode {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
        };
        let on_error = match spec.on_error {
            OnError::Deny => "deny",
            OnError::Allow => "allow",
        };
        let status = match result {
            Ok(p) => format!(
                "ok ({}, {:.1} ms)",
                if p.info.cached { "cached" } else { "compiled" },
                p.info.elapsed.as_secs_f64() * 1e3
            ),
            Err(e) => {
                failed += 1;
                format!("ERROR: {e}")
            }
        };
        say!("{:<20} {:<8} on-error={:<5} {}  {}", spec.name, mode, on_error, spec.path.display(), status);
    }
    if failed > 0 {
        eprintln!("sbx: {failed} of {} plugins failed to load", config.plugins.len());
        1
    } else {
        say!("{} plugins ok", config.plugins.len());
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The only unit test that resolves a configuration: the memo holds one file at a time.
    #[test]
    fn a_process_reads_its_configuration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sbx.yaml");
        std::fs::write(&path, "layers:\n  max-entries: 7\n").unwrap();
        let first = resolve(Some(&path)).unwrap();
        assert_eq!(first.layers.entries, 7);
        std::fs::write(&path, "layers: [not a map").unwrap();
        assert_eq!(resolve(Some(&path)).unwrap(), first, "asked again, the first read answers");
        let other = dir.path().join("other.yaml");
        std::fs::write(&other, "layers: [not a map").unwrap();
        assert!(resolve(Some(&other)).is_err(), "another file is read for itself");
    }
}
