//! Linux capabilities by name: docker's default set, `--cap-add`/`--cap-drop` arithmetic, and the
//! bit mask the child applies. Pure, but for [`own`], which reads sbx's own sets.

/// Capability names by number (linux/capability.h); CAP_CHECKPOINT_RESTORE (40) is the last.
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// What docker gives a container by default.
pub const DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability '{0}': expected a name such as CAP_NET_ADMIN or NET_ADMIN (see capabilities(7))")]
pub struct UnknownCapability(pub String);

/// The canonical name (`CAP_NET_ADMIN`) of `name`, given with or without `CAP_`, in any case.
pub fn canonical(name: &str) -> Result<&'static str, UnknownCapability> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().copied().find(|n| *n == full).ok_or_else(|| UnknownCapability(name.to_string()))
}

/// docker's default set with `drop` removed, then `add` added; `ALL` in either means every
/// capability. Names are canonical and in number order.
pub fn resolve(add: &[String], drop: &[String]) -> Result<Vec<String>, UnknownCapability> {
    let is_all = |v: &[String]| v.iter().any(|n| n.eq_ignore_ascii_case("ALL"));
    let names = |v: &[String]| -> Result<Vec<&'static str>, UnknownCapability> {
        v.iter().filter(|n| !n.eq_ignore_ascii_case("ALL")).map(|n| canonical(n)).collect()
    };
    let (add_names, drop_names) = (names(add)?, names(drop)?);
    let mut set: Vec<&str> = if is_all(drop) { Vec::new() } else { DEFAULT.to_vec() };
    set.retain(|c| !drop_names.contains(c));
    if is_all(add) {
        set = NAMES.to_vec();
    }
    set.extend(add_names);
    Ok(NAMES.iter().filter(|n| set.contains(n)).map(|n| n.to_string()).collect())
}

/// The bit mask of a list of canonical names (names sbx does not know are refused earlier).
pub fn mask(names: &[String]) -> Result<u64, UnknownCapability> {
    names.iter().try_fold(0u64, |m, n| {
        let c = canonical(n)?;
        Ok(m | 1 << NAMES.iter().position(|x| *x == c).expect("canonical names are in NAMES"))
    })
}

/// One of sbx's own capability sets as a bit mask: `CapEff`, `CapBnd`, ... of /proc/self/status.
pub fn own(set: &str) -> u64 {
    crate::sys::status::own_masks([set]).map_or(0, |[m]| m)
}

/// Whether sbx itself holds capability `name` (canonical) in its effective set.
pub fn effective_has(name: &str) -> bool {
    mask(&[name.to_string()]).is_ok_and(|m| own("CapEff") & m != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_is_dockers_in_number_order() {
        let set = resolve(&[], &[]).unwrap();
        assert_eq!(set.len(), 14);
        assert_eq!(set[0], "CAP_CHOWN");
        assert!(!set.contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn add_and_drop_take_short_names_and_all() {
        let set = resolve(&s(&["net_admin"]), &s(&["CAP_CHOWN", "KILL"])).unwrap();
        assert!(set.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!set.contains(&"CAP_CHOWN".to_string()) && !set.contains(&"CAP_KILL".to_string()));
        assert_eq!(resolve(&s(&["NET_BIND_SERVICE"]), &s(&["ALL"])).unwrap(), ["CAP_NET_BIND_SERVICE"]);
        assert_eq!(resolve(&s(&["ALL"]), &[]).unwrap().len(), NAMES.len());
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(resolve(&s(&["CAP_FLY"]), &[]), Err(UnknownCapability("CAP_FLY".into())));
        assert!(mask(&s(&["bogus"])).is_err());
    }

    #[test]
    fn mask_sets_the_numbered_bits() {
        assert_eq!(mask(&s(&["CAP_CHOWN", "CAP_SYS_ADMIN"])).unwrap(), 1 | 1 << 21);
    }
}
