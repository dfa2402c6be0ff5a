//! What a pull or push shows while it goes: on a terminal one bar per layer (indicatif) with its
//! bytes, rate and state; without one, a line per layer when its state changes; with `--quiet`,
//! nothing. Safe to use from the threads that move layers.

use crate::image::Digest;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    Bars,
    Lines,
    Quiet,
}

/// Where progress goes: stdout for `pull` and `push`, stderr when stdout is a container's (a pull
/// by `run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Stdout,
    Stderr,
}

pub struct Progress {
    show: Show,
    to: To,
    bars: MultiProgress,
    layers: Mutex<HashMap<Digest, ProgressBar>>,
}

impl Progress {
    /// Bars when `to` is a terminal, else lines; nothing when quiet.
    pub fn new(quiet: bool, to: To) -> Progress {
        use std::io::IsTerminal;
        let terminal = match to {
            To::Stdout => std::io::stdout().is_terminal(),
            To::Stderr => std::io::stderr().is_terminal(),
        };
        let show = match (quiet, terminal) {
            (true, _) => Show::Quiet,
            (false, true) => Show::Bars,
            (false, false) => Show::Lines,
        };
        let target = match (show, to) {
            (Show::Bars, To::Stdout) => ProgressDrawTarget::stdout(),
            (Show::Bars, To::Stderr) => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        };
        Progress { show, to, bars: MultiProgress::with_draw_target(target), layers: Mutex::new(HashMap::new()) }
    }

    /// A line; a closed pipe loses it and the work goes on.
    fn line_out(&self, line: &str) {
        use std::io::Write;
        let _ = match self.to {
            To::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
            To::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
        };
    }

    /// A line above the bars (or on its own).
    pub fn say(&self, line: &str) {
        match self.show {
            Show::Bars => {
                let _ = self.bars.println(line);
            }
            Show::Lines => self.line_out(line),
            Show::Quiet => {}
        }
    }

    fn bar(&self, digest: &Digest, size: u64) -> ProgressBar {
        let mut layers = self.layers.lock().unwrap_or_else(|e| e.into_inner());
        layers
            .entry(digest.clone())
            .or_insert_with(|| {
                let bar = self.bars.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: {msg:<16} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(digest.short().to_string());
                bar
            })
            .clone()
    }

    /// The layer `digest` (of `size` bytes) is now in `state` ("Waiting", "Downloading" (and
    /// unpacking, as it streams), "Verifying", "Pull complete", "Already exists"...).
    pub fn state(&self, digest: &Digest, size: u64, state: &str) {
        match self.show {
            Show::Bars => {
                let bar = self.bar(digest, size);
                bar.set_message(state.to_string());
                if matches!(state, "Pull complete" | "Already exists" | "Pushed" | "Layer already exists")
                    || state.starts_with("Mounted from")
                {
                    bar.set_position(size);
                    bar.finish();
                }
            }
            Show::Lines => self.line_out(&format!("{}: {state}", digest.short())),
            Show::Quiet => {}
        }
    }

    /// `reader` counted into the layer's bar as it is read.
    pub fn reader<'a>(&self, digest: &Digest, size: u64, reader: impl Read + 'a) -> Box<dyn Read + 'a> {
        match self.show {
            Show::Bars => {
                let bar = self.bar(digest, size);
                bar.set_position(0);
                Box::new(bar.wrap_read(reader))
            }
            _ => Box::new(reader),
        }
    }

    /// The bar of `digest` on a terminal (for what counts bytes on the runtime's thread, as an
    /// upload's stream).
    pub fn bar_of(&self, digest: &Digest, size: u64) -> Option<ProgressBar> {
        (self.show == Show::Bars).then(|| {
            let bar = self.bar(digest, size);
            bar.set_position(0);
            bar
        })
    }
}
