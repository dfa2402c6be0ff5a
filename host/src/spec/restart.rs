//! Restart policies (`--restart`), as docker's: whether the monitor of a detached container starts
//! it again when it ends, and after how long. Pure.

use super::SpecError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restarted when it exits non-zero, at most `max_retries` times (0: without end).
    OnFailure {
        max_retries: u32,
    },
    Always,
    /// As `always` (they differ in docker only when its daemon restarts, and sbx has none).
    UnlessStopped,
}

impl RestartPolicy {
    pub fn is_no(&self) -> bool {
        *self == RestartPolicy::No
    }

    /// docker's `HostConfig.RestartPolicy`: (Name, MaximumRetryCount).
    pub fn docker(&self) -> (&'static str, u32) {
        match self {
            RestartPolicy::No => ("no", 0),
            RestartPolicy::OnFailure { max_retries } => ("on-failure", *max_retries),
            RestartPolicy::Always => ("always", 0),
            RestartPolicy::UnlessStopped => ("unless-stopped", 0),
        }
    }
}

/// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
pub fn parse(text: &str) -> Result<RestartPolicy, SpecError> {
    let bad = || SpecError::BadRestart(text.to_string());
    Ok(match text.split_once(':') {
        None => match text {
            "no" | "" => RestartPolicy::No,
            "on-failure" => RestartPolicy::OnFailure { max_retries: 0 },
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            _ => return Err(bad()),
        },
        Some(("on-failure", n)) => RestartPolicy::OnFailure { max_retries: n.parse().map_err(|_| bad())? },
        Some(_) => return Err(bad()),
    })
}

/// Whether a container that ended with `exit_code`, restarted `restarts` times so far, starts
/// again. One that was stopped or killed by a user (`sbx stop`, `sbx kill`) does not.
pub fn should_restart(policy: RestartPolicy, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
    if stopped_by_user {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::OnFailure { max_retries } => exit_code != 0 && (max_retries == 0 || restarts < max_retries),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
    }
}

/// docker's backoff: 100 ms, doubled at each restart up to a minute; back to 100 ms after a run
/// of ten seconds or more.
pub fn backoff(previous: Option<Duration>, ran: Duration) -> Duration {
    const FIRST: Duration = Duration::from_millis(100);
    match previous {
        Some(p) if ran < Duration::from_secs(10) => (p * 2).min(Duration::from_secs(60)),
        _ => FIRST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_as_docker_writes_them() {
        assert_eq!(parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(parse("on-failure:3").unwrap(), RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(parse("on-failure").unwrap(), RestartPolicy::OnFailure { max_retries: 0 });
        assert_eq!(parse("unless-stopped").unwrap().docker(), ("unless-stopped", 0));
        for bad in ["sometimes", "on-failure:x", "always:2", "on-failure:-1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn who_restarts_and_when() {
        let on_failure = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(should_restart(on_failure, 1, 0, false) && should_restart(on_failure, 1, 1, false));
        assert!(!should_restart(on_failure, 1, 2, false), "at most 2 restarts");
        assert!(!should_restart(on_failure, 0, 0, false), "a success is not a failure");
        assert!(should_restart(RestartPolicy::Always, 0, 99, false));
        assert!(!should_restart(RestartPolicy::Always, 0, 0, true), "stopped by a user");
        assert!(!should_restart(RestartPolicy::No, 1, 0, false));
        let ms = Duration::from_millis;
        assert_eq!(backoff(None, ms(5)), ms(100));
        assert_eq!(backoff(Some(ms(100)), ms(5)), ms(200));
        assert_eq!(backoff(Some(ms(40_000)), ms(5)), Duration::from_secs(60));
        assert_eq!(backoff(Some(ms(6400)), Duration::from_secs(11)), ms(100), "a long run starts over");
    }
}
