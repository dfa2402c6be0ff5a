//! timing: how long each phase of a container took (create to prestart to poststart to exit),
//! logged at exit. Hooks keep no memory between calls, so the times go to `<id>.times` in a granted
//! directory. Settings: `{"dir": "/timing"}` (the default), with e.g.
//! `preopens: [{ host: /run/sbx-timing, guest: /timing, mode: rw }]`.

use sbx_plugin::{Container, Event, Hooks, LogLevel, Plugin, Verdict};
use serde::Deserialize;
use std::io::Write;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_dir")]
    pub dir: String,
}

fn default_dir() -> String {
    "/timing".into()
}

impl Default for Settings {
    fn default() -> Self {
        Settings { dir: default_dir() }
    }
}

pub struct Timing;

/// "create→prestart 1.20 ms, ..." from lines of `event nanoseconds`.
pub fn summary(times: &str) -> String {
    let points: Vec<(&str, u128)> = times
        .lines()
        .filter_map(|l| l.split_once(' ').and_then(|(e, t)| t.trim().parse().ok().map(|t| (e, t))))
        .collect();
    points
        .windows(2)
        .map(|w| format!("{}→{} {:.2} ms", w[0].0, w[1].0, w[1].1.saturating_sub(w[0].1) as f64 / 1e6))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Plugin for Timing {
    type Settings = Settings;
}

impl Hooks for Timing {
    fn on_event(s: &Settings, event: Event, c: &Container) -> Verdict {
        let path = format!("{}/{}.times", s.dir.trim_end_matches('/'), c.id);
        if event == Event::Remove {
            let _ = std::fs::remove_file(&path);
            return Verdict::Allow;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{} {now}", sbx_plugin::event_name(event)));
        if let Err(e) = written {
            sbx_plugin::log(LogLevel::Warn, &format!("cannot record the time in {path}: {e}"));
            return Verdict::Allow;
        }
        if event == Event::Exit
            && let Ok(times) = std::fs::read_to_string(&path)
        {
            sbx_plugin::log(LogLevel::Info, &format!("{}: {}", c.name, summary(&times)));
        }
        Verdict::Allow
    }
}

sbx_plugin::export_hooks!(Timing);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_gives_each_phase() {
        let s = summary("create 1000000\nprestart 3500000\npoststart 4000000\nexit 14000000\n");
        assert_eq!(s, "create→prestart 2.50 ms, prestart→poststart 0.50 ms, poststart→exit 10.00 ms");
        assert_eq!(summary(""), "");
    }
}
