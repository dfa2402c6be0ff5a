//! `sbx stats [--no-stream] [--format table|json] [CONTAINER...]`: CPU, memory and processes of
//! running containers (all of them without names), refreshed every second until interrupted, or
//! once with --no-stream, as docker shows them.

use super::format::{self, Format};
use crate::container::state::{self, ContainerRecord};
use crate::container::stats::{self, FIELDS, HEADER, Sample};
use crate::image::Store;
use crate::isolate::cgroup;
use clap::Args;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print one reading and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// table, json (one object per line), or a Go template ('{{.Name}} {{.MemUsage}}').
    #[arg(long, default_value = "table", value_parser = format::parse)]
    pub format: Format,
    /// Names or id prefixes (default: every running container).
    pub containers: Vec<String>,
}

pub fn stats(store: &Store, args: StatsArgs) -> i32 {
    let mut records: Vec<ContainerRecord> = Vec::new();
    if args.containers.is_empty() {
        records.extend(state::list(store).into_iter().filter(|(d, _)| state::is_running(d)).map(|(_, r)| r));
    }
    for query in &args.containers {
        match state::find(store, query) {
            Ok((dir, _)) if !state::is_running(&dir) => {
                return super::refuse_or_fail(format!("container {query} is not running"), true);
            }
            Ok((_, r)) => records.push(r),
            Err(e) => return super::refuse_or_fail(&e, e.is_refusal()),
        }
    }
    let host = stats::host_memory();
    let read = |records: &[ContainerRecord]| -> Vec<Sample> {
        records.iter().map(|r| stats::sample(&cgroup::existing(&r.id))).collect()
    };
    let (mut before, mut at) = (read(&records), Instant::now());
    loop {
        std::thread::sleep(if args.no_stream { Duration::from_millis(500) } else { Duration::from_secs(1) });
        let (now, elapsed) = (read(&records), at.elapsed());
        let rows: Vec<[String; 6]> = records
            .iter()
            .zip(before.iter().zip(&now))
            .map(|(r, (b, n))| stats::row(&r.id, &r.name, stats::cpu_percent(b, n, elapsed.as_nanos() as u64), n, host))
            .collect();
        let docs: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                FIELDS.iter().zip(row).map(|(k, v)| (k.to_string(), serde_json::Value::from(v.as_str()))).collect()
            })
            .collect();
        if !args.no_stream && !matches!(args.format, Format::Json) {
            print!("\x1b[2J\x1b[H");
        }
        let headers = FIELDS.iter().zip(HEADER).map(|(k, h)| (k.to_string(), serde_json::Value::from(h))).collect();
        let code = format::print(&args.format, &docs, &headers, || format::print_columns(&headers, &docs, &FIELDS));
        if code != 0 {
            return code;
        }
        if args.no_stream {
            return 0;
        }
        (before, at) = (now, Instant::now());
    }
}
