//! `sbx logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER`: a container's output from its log, stdout
//! lines to stdout and stderr lines to stderr, as docker prints them.

use crate::container::log::{LOG, LogLine};
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
    /// Only lines from this time on: RFC 3339, Unix seconds, or a duration ago (10m, 1h30m).
    #[arg(long, value_name = "TIME", value_parser = instant)]
    pub since: Option<f64>,
    /// Only lines before this time (as --since).
    #[arg(long, value_name = "TIME", value_parser = instant)]
    pub until: Option<f64>,
    pub container: String,
}

fn instant(text: &str) -> Result<f64, String> {
    let now = crate::time::now_fine();
    crate::time::parse_instant(text, now).ok_or_else(|| {
        format!("'{text}' is not a time: give an RFC 3339 time, Unix seconds, or a duration such as 10m or 1h30m")
    })
}

/// Which lines are printed: by time (`--since`, `--until`) and whether with it (`-t`).
#[derive(Default)]
pub struct Shown {
    timestamps: bool,
    since: Option<f64>,
    until: Option<f64>,
}

fn print(line: &str, shown: &Shown) {
    let Ok(l) = serde_json::from_str::<LogLine>(line) else { return };
    if shown.since.is_some() || shown.until.is_some() {
        let at = crate::time::parse_rfc3339_fine(&l.time).unwrap_or(0.0);
        if shown.since.is_some_and(|s| at < s) || shown.until.is_some_and(|u| at >= u) {
            return;
        }
    }
    let timestamps = shown.timestamps;
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
            return super::fail(format!("container {} has no log: it has not run yet", record.name));
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
    let shown = Shown { timestamps: args.timestamps, since: args.since, until: args.until };
    let skip = args.tail.map_or(0, |n| lines.len().saturating_sub(n));
    for l in &lines[skip..] {
        print(l, &shown);
    }
    if !args.follow {
        return 0;
    }
    // Follow: read what its sbx appends, until the container ended and all is read.
    follow(&mut reader, line, &dir, &shown);
    0
}

/// Prints what is appended to the log `reader` reads (from where it stands, after the `partial`
/// line read so far) until the container in `dir` ended and all is read.
pub fn follow(reader: &mut BufReader<std::fs::File>, partial: String, dir: &std::path::Path, shown: &Shown) {
    let mut line = partial;
    loop {
        let running = state::is_running(dir);
        let mut got = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                print(&std::mem::take(&mut line), shown);
                got = true;
            }
        }
        if !running && !got {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
