//! Kernel parameters a container may set (`--sysctl`, an OCI bundle's `linux.sysctl`): only those
//! of namespaces it has of its own, as docker allows them. Pure.

use super::{Network, Sharing};

/// The namespace a kernel parameter belongs to (its /proc/PID/ns name), for the ones a container
/// may set: those of its IPC, network and UTS namespaces. The others are the host's.
pub fn namespace_of(key: &str) -> Option<&'static str> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    match key {
        _ if IPC.contains(&key) || key.starts_with("fs.mqueue.") => Some("ipc"),
        _ if key.starts_with("net.") => Some("net"),
        "kernel.hostname" | "kernel.domainname" => Some("uts"),
        _ => None,
    }
}

/// Why `key` may not be set in a container with this network and IPC namespace; its namespace
/// when it may.
pub fn check(key: &str, network: Network, ipc: &Sharing) -> Result<&'static str, String> {
    let name_ok = !key.is_empty()
        && !key.split(['.', '/']).any(|part| part.is_empty() || part == "..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if !name_ok {
        return Err(format!("'{key}' is not a kernel parameter's name"));
    }
    let Some(namespace) = namespace_of(key) else {
        return Err(format!(
            "{key} is not in a namespace of the container and would change the host: only net.*, the IPC ones (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) and kernel.hostname or domainname may be set"
        ));
    };
    if namespace == "net" && network == Network::Host {
        return Err(format!("{key} would change the host's network (--network host has no namespace of its own)"));
    }
    if namespace == "ipc" && !ipc.is_private() {
        return Err(format!(
            "{key} would change an IPC namespace that is not the container's own (--ipc {})",
            ipc.mode("")
        ));
    }
    Ok(namespace)
}

/// `--sysctl KEY=VALUE`.
pub fn parse(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("bad --sysctl '{text}': expected KEY=VALUE, such as net.ipv4.ip_forward=1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_containers_own_namespaces_are_writable() {
        let own = |k| check(k, Network::None, &Sharing::Private);
        assert_eq!(own("net.ipv4.ip_forward"), Ok("net"));
        assert_eq!(own("kernel.shmmax"), Ok("ipc"));
        assert_eq!(own("fs.mqueue.msg_max"), Ok("ipc"));
        assert_eq!(own("kernel.domainname"), Ok("uts"));
        assert!(own("kernel.panic").unwrap_err().contains("would change the host"));
        assert!(own("net..x").unwrap_err().contains("not a kernel parameter"));
        assert!(own("net/../../x").unwrap_err().contains("not a kernel parameter"));
        assert!(check("net.core.somaxconn", Network::Host, &Sharing::Private).unwrap_err().contains("--network host"));
        assert!(check("kernel.sem", Network::None, &Sharing::Host).unwrap_err().contains("--ipc host"));
        assert_eq!(parse("a.b=1 2"), Ok(("a.b".into(), "1 2".into())));
        assert!(parse("=1").is_err() && parse("x").is_err());
    }
}
