//! What the user typed as IMAGE: a path to load, a stored name, or an id prefix. Pure.

use std::path::PathBuf;

#[derive(Debug, PartialEq, Eq)]
pub enum ImageArg {
    /// A docker-archive, oci-archive or OCI layout on disk, loaded before use.
    Path(PathBuf),
    /// A name or an id prefix, looked up in the store (names first, as docker does).
    Stored(String),
}

/// `looks_like_path` is the caller's view of the filesystem: does this argument exist on disk?
pub fn classify(arg: &str, exists: impl Fn(&str) -> bool) -> ImageArg {
    let pathy = arg.starts_with('/') || arg.starts_with("./") || arg.starts_with("../") || arg.ends_with(".tar");
    if (pathy || arg.contains('/')) && exists(arg) {
        ImageArg::Path(PathBuf::from(arg))
    } else {
        ImageArg::Stored(arg.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a valid image name (letters, digits, '.', '_', '-', '/', an optional :TAG)")]
pub struct BadName(pub String);

/// Docker Hub's long forms, shortened as docker shows them (`docker.io/library/busybox` is `busybox`).
const HUB_PREFIXES: [&str; 4] = ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"];

/// `busybox` -> `busybox:latest`; names with a tag or a digest keep it; Docker Hub prefixes go.
pub fn normalize_name(name: &str) -> Result<String, BadName> {
    let name = HUB_PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name);
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b))
        && !name.starts_with(['/', ':', '@', '.', '-'])
        && !name.contains("//")
        && !name.contains("..");
    if !valid {
        return Err(BadName(name.to_string()));
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') { Ok(name.to_string()) } else { Ok(format!("{name}:latest")) }
}

/// Whether `part`, the first component of a name, is a registry host rather than a path component:
/// it has a dot or a port, or is `localhost` (docker's rule).
pub fn is_domain(part: &str) -> bool {
    !part.is_empty() && (part.contains(['.', ':']) || part == "localhost")
}

/// The stored names a short name (`busybox`, `team/app:1`: no registry host) may stand for, in
/// the order they are tried: `localhost/NAME`, then NAME on each of the `search` registries (on
/// docker.io as docker shows it, `library/` implied). None for a name that names its registry, or
/// that is not a valid name. Pure.
pub fn short_name_candidates(query: &str, search: &[String]) -> Option<Vec<String>> {
    let first = query.split('/').next().unwrap_or(query);
    if query.contains('/') && is_domain(first) {
        return None;
    }
    let name = normalize_name(query).ok()?;
    if name.contains('@') {
        return None;
    }
    let mut out = vec![format!("localhost/{name}")];
    for registry in search {
        let on = normalize_name(&format!("{registry}/{name}")).ok()?;
        if !out.contains(&on) {
            out.push(on);
        }
    }
    Some(out)
}

/// The fully qualified form of a stored name, as podman shows it (`busybox:latest` is
/// `docker.io/library/busybox:latest`). Pure.
pub fn qualified(name: &str) -> String {
    let first = name.split('/').next().unwrap_or(name);
    match (name.contains('/') && is_domain(first), name.contains('/')) {
        (true, _) => name.to_string(),
        (false, true) => format!("docker.io/{name}"),
        (false, false) => format!("docker.io/library/{name}"),
    }
}

/// Splits `name:tag` into the REPOSITORY and TAG columns of `sbx images`.
pub fn split_tag(name: &str) -> (&str, &str) {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], &name[slash + i + 1..]),
        None => (name, "<none>"),
    }
}

/// An id prefix as the user may type it (`sha256:` optional), or None if it cannot be one.
pub fn id_prefix(arg: &str) -> Option<&str> {
    let hex = arg.strip_prefix("sha256:").unwrap_or(arg);
    let ok =
        !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_latest() {
        assert_eq!(normalize_name("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize_name("busybox:1.36").unwrap(), "busybox:1.36");
        assert_eq!(normalize_name("localhost:5000/a/b").unwrap(), "localhost:5000/a/b:latest");
        assert!(normalize_name("../etc").is_err());
        assert!(normalize_name("").is_err());
        assert!(normalize_name("a b").is_err());
    }

    #[test]
    fn a_short_name_tries_localhost_then_the_search_registries() {
        let search = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let hub = search(&["docker.io"]);
        assert_eq!(
            short_name_candidates("busybox", &hub).unwrap(),
            ["localhost/busybox:latest", "busybox:latest"],
            "docker.io/library/busybox is stored as docker shows it"
        );
        assert_eq!(
            short_name_candidates("team/app:1", &search(&["quay.io", "docker.io"])).unwrap(),
            ["localhost/team/app:1", "quay.io/team/app:1", "team/app:1"]
        );
        assert_eq!(short_name_candidates("localhost/busybox", &hub), None, "names its registry");
        assert_eq!(short_name_candidates("registry.example:5000/a", &hub), None);
        assert_eq!(short_name_candidates("docker.io/library/busybox", &hub), None);
        assert_eq!(short_name_candidates("busybox@sha256:abc", &hub), None);
        assert_eq!(short_name_candidates("a b", &hub), None);
        assert_eq!(qualified("busybox:latest"), "docker.io/library/busybox:latest");
        assert_eq!(qualified("team/app:1"), "docker.io/team/app:1");
        assert_eq!(qualified("localhost/busybox:latest"), "localhost/busybox:latest");
    }

    #[test]
    fn split_tag_handles_registry_ports() {
        assert_eq!(split_tag("busybox:latest"), ("busybox", "latest"));
        assert_eq!(split_tag("localhost:5000/a:v1"), ("localhost:5000/a", "v1"));
        assert_eq!(split_tag("localhost:5000/a"), ("localhost:5000/a", "<none>"));
    }

    #[test]
    fn paths_only_when_they_exist() {
        let yes = |_: &str| true;
        let no = |_: &str| false;
        assert_eq!(classify("./img.tar", yes), ImageArg::Path("./img.tar".into()));
        assert_eq!(classify("/tmp/layout", yes), ImageArg::Path("/tmp/layout".into()));
        assert_eq!(classify("busybox", yes), ImageArg::Stored("busybox".into()));
        assert_eq!(classify("library/busybox", no), ImageArg::Stored("library/busybox".into()));
    }

    #[test]
    fn id_prefixes() {
        assert_eq!(id_prefix("sha256:abc"), Some("abc"));
        assert_eq!(id_prefix("abc"), Some("abc"));
        assert_eq!(id_prefix("busybox"), None);
    }
}
