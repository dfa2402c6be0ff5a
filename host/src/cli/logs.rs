//! `sbx logs [-f] [--tail N] [-t] CONTAINER`: a detached container's output from its log, stdout
//! lines to stdout and stderr lines to stderr, as docker prints them.

use crate::container::monitor::{LOG, LogLine};
use crate::container::state;
use crate::image::Store;
use clap::Args;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new output until the container ends.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
    /// Prefix each line with its time.
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

fn print(line: &str, timestamps: bool) {
    let Ok(l) = serde_json::from_str::<LogLine>(line) else { return };
    let text = if timestamps { format!("{} {}", l.time, l.log) } else { l.log };
    // A closed pipe (`sbx logs | head`) ends the output, not with a panic.
    let _ = if l.stream == "stderr" {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
}

pub fn logs(store: &Store, args: LogsArgs) -> i32 {
    let (dir, record) = match state::find(store, &args.container) {
        Ok(found) => found,
        Err(e) => return super::refuse_or_fail(&e, e.is_refusal()),
    };
    let file = match std::fs::File::open(dir.join(LOG)) {
        Ok(f) => f,
        // A container that never ran detached has no log yet: nothing to show.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !args.follow => return 0,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return super::fail(format!(
                "container {} has no log: only detached containers (run -d) keep one",
                record.name
            ));
        }
        Err(e) => return super::fail(format!("cannot read the log of {}: {e}", record.name)),
    };
    let mut reader = BufReader::new(file);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if line.ends_with('\n') {
            lines.push(std::mem::take(&mut line));
        }
    }
    let skip = args.tail.map_or(0, |n| lines.len().saturating_sub(n));
    for l in &lines[skip..] {
        print(l, args.timestamps);
    }
    if !args.follow {
        return 0;
    }
    // Follow: read what the monitor appends, until the container ended and all is read.
    loop {
        let running = state::is_running(&dir);
        let mut got = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                print(&std::mem::take(&mut line), args.timestamps);
                got = true;
            }
        }
        if !running && !got {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
