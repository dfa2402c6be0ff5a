//! audit-log: one JSON line per lifecycle event of every container, appended to `audit.jsonl` in a
//! directory the configuration grants. Settings: `{"dir": "/audit"}`, the path the plugin sees the
//! granted directory at (the default), e.g.
//! `preopens: [{ host: /var/log/sbx, guest: /audit, mode: rw }]`.

use sbx_plugin::{Container, Event, Hooks, LogLevel, Plugin, Spec, Status, Verdict};
use serde::Deserialize;
use std::io::Write;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_dir")]
    pub dir: String,
}

fn default_dir() -> String {
    "/audit".into()
}

impl Default for Settings {
    fn default() -> Self {
        Settings { dir: default_dir() }
    }
}

pub struct AuditLog;

/// The audit record of one event; at create, with what the container may do (from its `spec`).
pub fn record(event: Event, c: &Container, spec: Option<&Spec>, unix_ms: u128) -> serde_json::Value {
    let status = match c.state.status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Exited => "exited",
    };
    let mut r = serde_json::json!({
        "time_ms": unix_ms as u64,
        "event": sbx_plugin::event_name(event),
        "id": c.id,
        "name": c.name,
        "image": c.image,
        "image_digest": c.image_digest,
        "args": c.args,
        "user": c.user,
        "status": status,
        "pid": c.state.pid,
        "exit_code": c.state.exit_code,
        "signal": c.state.signal,
        "oom_killed": c.state.oom_killed,
    });
    if let Some(spec) = spec {
        r["privileged"] = spec.privileged.into();
        r["capabilities"] = spec.capabilities.clone().into();
    }
    r
}

impl Plugin for AuditLog {
    type Settings = Settings;
}

impl Hooks for AuditLog {
    fn on_event(s: &Settings, event: Event, c: &Container) -> Verdict {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let path = format!("{}/audit.jsonl", s.dir.trim_end_matches('/'));
        // The rest of the spec is asked of sbx once, at create.
        let spec = (event == Event::Create).then(sbx_plugin::container_spec);
        let line = format!("{}\n", record(event, c, spec.as_ref(), now));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        match written {
            Ok(()) => Verdict::Allow,
            // An audit trail that cannot be written stops what can still be stopped.
            Err(e) => {
                let reason = format!("cannot append to {path}: {e} (is the directory granted read-write?)");
                sbx_plugin::log(LogLevel::Error, &reason);
                Verdict::Deny(reason)
            }
        }
    }
}

sbx_plugin::export_hooks!(AuditLog);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::{container, spec};

    #[test]
    fn a_record_has_the_event_container_and_outcome() {
        let mut c = container(&spec());
        c.state.status = Status::Exited;
        c.state.exit_code = Some(3);
        let r = record(Event::Exit, &c, None, 1234);
        assert!(r.get("capabilities").is_none(), "{r}");
        assert_eq!(r["event"], "exit");
        assert_eq!(r["exit_code"], 3);
        assert_eq!(r["image"], "test:latest");
        assert_eq!(r["time_ms"], 1234);
        assert_eq!(r["id"].as_str().unwrap().len(), 64);
        let r = record(Event::Create, &c, Some(&spec()), 1234);
        assert_eq!((r["privileged"].clone(), r["capabilities"].is_array()), (false.into(), true), "{r}");
    }
}
