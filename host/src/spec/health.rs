//! A container's health check: the image's HEALTHCHECK, changed or replaced by `--health-*` flags
//! or turned off by `--no-healthcheck`, as docker combines them. Pure.

use serde::{Deserialize, Serialize};

/// docker's defaults: every 30 s, 30 s to answer, unhealthy after 3 failures in a row.
pub const DEFAULT_INTERVAL_NS: u64 = 30_000_000_000;
pub const DEFAULT_TIMEOUT_NS: u64 = 30_000_000_000;
pub const DEFAULT_RETRIES: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Healthcheck {
    /// docker's Test: `["CMD", PROGRAM, ARGS...]` or `["CMD-SHELL", "COMMAND"]`.
    pub test: Vec<String>,
    pub interval_ns: u64,
    pub timeout_ns: u64,
    /// Failures within it do not count (a success still makes the container healthy).
    pub start_period_ns: u64,
    pub retries: u32,
}

impl Healthcheck {
    /// The command an exec in the container runs.
    pub fn command(&self) -> Vec<String> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD-SHELL" => {
                ["/bin/sh".to_string(), "-c".to_string()].into_iter().chain(rest.iter().cloned()).collect()
            }
            Some((_, rest)) => rest.to_vec(),
            None => Vec::new(),
        }
    }
}

/// The `--health-*` flags; durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    pub start_period_ns: Option<u64>,
    pub retries: Option<u32>,
    /// `--no-healthcheck`.
    pub none: bool,
}

impl HealthFlags {
    fn any_option(&self) -> bool {
        self.interval_ns.is_some()
            || self.timeout_ns.is_some()
            || self.start_period_ns.is_some()
            || self.retries.is_some()
    }
}

/// The image config's `config.Healthcheck` (docker's; OCI's config has none), from the config's
/// JSON. A `["NONE"]` test or a missing one is none.
pub fn of_image_config(config: &[u8]) -> Option<Healthcheck> {
    let value: serde_json::Value = serde_json::from_slice(config).ok()?;
    let h = value.get("config")?.get("Healthcheck")?;
    let test: Vec<String> = serde_json::from_value(h.get("Test")?.clone()).ok()?;
    let ns = |key: &str, default: u64| h.get(key).and_then(|v| v.as_u64()).filter(|n| *n > 0).unwrap_or(default);
    let retries = h.get("Retries").and_then(|v| v.as_u64()).filter(|n| *n > 0).map_or(DEFAULT_RETRIES, |n| n as u32);
    let check = Healthcheck {
        test,
        interval_ns: ns("Interval", DEFAULT_INTERVAL_NS),
        timeout_ns: ns("Timeout", DEFAULT_TIMEOUT_NS),
        start_period_ns: ns("StartPeriod", 0),
        retries,
    };
    check.test.first().is_some_and(|k| k == "CMD" || k == "CMD-SHELL").then_some(check)
}

/// The check a container gets: the image's with what the flags change, or the flags' command.
pub fn resolve(image: Option<Healthcheck>, flags: &HealthFlags) -> Result<Option<Healthcheck>, String> {
    if flags.none {
        if flags.cmd.is_some() || flags.any_option() {
            return Err("--no-healthcheck conflicts with the --health-* options".into());
        }
        return Ok(None);
    }
    if flags.interval_ns.is_some_and(|n| n < 1_000_000) || flags.timeout_ns.is_some_and(|n| n < 1_000_000) {
        return Err("--health-interval and --health-timeout must be at least 1ms".into());
    }
    let base = match (&flags.cmd, image) {
        (Some(cmd), image) if !cmd.trim().is_empty() => Healthcheck {
            test: vec!["CMD-SHELL".into(), cmd.clone()],
            ..image.unwrap_or(Healthcheck {
                test: Vec::new(),
                interval_ns: DEFAULT_INTERVAL_NS,
                timeout_ns: DEFAULT_TIMEOUT_NS,
                start_period_ns: 0,
                retries: DEFAULT_RETRIES,
            })
        },
        (Some(_), _) => {
            return Err("--health-cmd is empty: give the command that tells the container is healthy".into());
        }
        (None, Some(image)) => image,
        (None, None) => return Ok(None),
    };
    Ok(Some(Healthcheck {
        interval_ns: flags.interval_ns.unwrap_or(base.interval_ns),
        timeout_ns: flags.timeout_ns.unwrap_or(base.timeout_ns),
        start_period_ns: flags.start_period_ns.unwrap_or(base.start_period_ns),
        retries: flags.retries.unwrap_or(base.retries),
        test: base.test,
    }))
}

/// A `--health-*` duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    crate::time::parse_duration(text)
        .map(|s| (s * 1e9).round() as u64)
        .ok_or_else(|| format!("'{text}' is not a duration: give a number with a unit, such as 30s, 1m30s or 500ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = r#"{"config":{"Healthcheck":{"Test":["CMD","curl","-f","http://localhost/"],"Interval":5000000000,"Retries":0}}}"#;

    #[test]
    fn the_images_check_with_docker_defaults_for_what_it_leaves_out() {
        let h = of_image_config(IMAGE.as_bytes()).unwrap();
        assert_eq!(h.command(), ["curl", "-f", "http://localhost/"]);
        assert_eq!((h.interval_ns, h.timeout_ns, h.retries), (5_000_000_000, DEFAULT_TIMEOUT_NS, 3));
        assert_eq!(of_image_config(br#"{"config":{"Healthcheck":{"Test":["NONE"]}}}"#), None);
        assert_eq!(of_image_config(br#"{"config":{}}"#), None);
    }

    #[test]
    fn flags_change_or_replace_it_and_no_healthcheck_turns_it_off() {
        let image = of_image_config(IMAGE.as_bytes());
        let flags = HealthFlags { retries: Some(1), ..Default::default() };
        let h = resolve(image.clone(), &flags).unwrap().unwrap();
        assert_eq!((h.test[0].as_str(), h.interval_ns, h.retries), ("CMD", 5_000_000_000, 1));
        let flags = HealthFlags { cmd: Some("test -f /ok".into()), ..Default::default() };
        let h = resolve(image.clone(), &flags).unwrap().unwrap();
        assert_eq!(
            (h.command(), h.interval_ns),
            (vec!["/bin/sh".into(), "-c".into(), "test -f /ok".into()], 5_000_000_000)
        );
        assert_eq!(resolve(None, &flags).unwrap().unwrap().interval_ns, DEFAULT_INTERVAL_NS);
        assert_eq!(resolve(image.clone(), &HealthFlags { none: true, ..Default::default() }), Ok(None));
        assert_eq!(resolve(None, &HealthFlags { retries: Some(2), ..Default::default() }), Ok(None));
        assert!(resolve(image, &HealthFlags { none: true, cmd: Some("x".into()), ..Default::default() }).is_err());
        assert!(resolve(None, &HealthFlags { cmd: Some(" ".into()), ..Default::default() }).is_err());
        assert_eq!(parse_duration_ns("1m30s"), Ok(90_000_000_000));
        assert!(parse_duration_ns("30").is_err() && parse_duration_ns("").is_err());
    }
}
