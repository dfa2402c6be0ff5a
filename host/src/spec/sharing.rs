//! `--ipc` and `--pid`: whether a container gets its own IPC or PID namespace, shares the host's, or
//! joins another container's. Pure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sharing {
    /// Its own (docker's private and shareable: any other container may join it).
    #[default]
    Private,
    /// The host's.
    Host,
    /// Another container's: its name as given, and its id once `create` found it.
    Container(String),
}

impl Sharing {
    pub fn is_private(&self) -> bool {
        *self == Sharing::Private
    }

    /// The container it joins.
    pub fn container(&self) -> Option<&str> {
        match self {
            Sharing::Container(c) => Some(c),
            _ => None,
        }
    }

    /// docker's form, for inspect's HostConfig (`IpcMode`, `PidMode`).
    pub fn mode(&self, private: &str) -> String {
        match self {
            Sharing::Private => private.to_string(),
            Sharing::Host => "host".into(),
            Sharing::Container(c) => format!("container:{c}"),
        }
    }
}

/// `--ipc`: `private` or `shareable` (the same here: every container's IPC namespace may be
/// joined), `host`, or `container:NAME`.
pub fn parse_ipc(text: &str) -> Result<Sharing, String> {
    match text {
        "none" => {
            Err("--ipc none is not supported: use private (the container's own IPC namespace and /dev/shm)".into())
        }
        _ => parse("--ipc", &["private", "shareable"], text),
    }
}

/// `--pid`: `private` (the default), `host`, or `container:NAME`.
pub fn parse_pid(text: &str) -> Result<Sharing, String> {
    parse("--pid", &["private"], text)
}

fn parse(flag: &str, private: &[&str], text: &str) -> Result<Sharing, String> {
    match text.split_once(':') {
        _ if text.is_empty() || private.contains(&text) => Ok(Sharing::Private),
        _ if text == "host" => Ok(Sharing::Host),
        Some(("container", name)) if !name.is_empty() => Ok(Sharing::Container(name.to_string())),
        _ => Err(format!("bad {flag} '{text}': give {}, host or container:NAME", private.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_as_docker_writes_them() {
        assert_eq!(parse_ipc("shareable"), Ok(Sharing::Private));
        assert_eq!(parse_ipc(""), Ok(Sharing::Private));
        assert_eq!(parse_ipc("host"), Ok(Sharing::Host));
        assert_eq!(parse_pid("container:db"), Ok(Sharing::Container("db".into())));
        assert!(parse_pid("container:").unwrap_err().contains("container:NAME"));
        assert!(parse_pid("shareable").unwrap_err().contains("bad --pid 'shareable'"));
        assert!(parse_ipc("none").unwrap_err().contains("not supported"));
        assert_eq!(Sharing::Container("abc".into()).mode("private"), "container:abc");
        assert_eq!(Sharing::Private.mode(""), "");
    }
}
