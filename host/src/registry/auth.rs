//! Registry credentials in the files podman and docker keep them in, so a login made by one tool
//! serves the others: `{"auths": {"HOST": {"auth": base64("USER:PASSWORD")}}}`. sbx writes
//! podman's file (`$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
//! `/run/containers/UID/auth.json`) with mode 0600 and reads docker's (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`) after it. Entries of other hosts, and other keys, are kept as they
//! are. Credential helpers (`credHelpers`, `credsStore`) are not run.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the credentials in {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write the credentials to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The file sbx writes logins to, from the environment (`env`) and the user's id. Pure.
pub fn auth_file(env: impl Fn(&str) -> Option<String>, uid: u32) -> PathBuf {
    if let Some(f) = env("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
        return PathBuf::from(f);
    }
    match env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(&dir).join("containers/auth.json"),
        None => PathBuf::from(format!("/run/containers/{uid}/auth.json")),
    }
}

/// docker's file, read after sbx's own. Pure.
pub fn docker_file(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match env("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        Some(dir) => Some(Path::new(&dir).join("config.json")),
        None => env("HOME").map(|h| Path::new(&h).join(".docker/config.json")),
    }
}

/// The host a key of `auths` stands for: docker writes `https://index.docker.io/v1/` for Docker
/// Hub and may keep a scheme or a path on others. Pure.
pub fn key_host(key: &str) -> &str {
    let rest = key.split_once("://").map_or(key, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        h => h,
    }
}

/// The user and password `auths` holds for `host`, if any. Pure.
pub fn find(auths: &Map<String, Value>, host: &str) -> Option<(String, String)> {
    let entry = auths.iter().find(|(k, _)| key_host(k) == key_host(host))?.1;
    let encoded = entry.get("auth")?.as_str()?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn read(path: &Path) -> Result<Option<Value>, AuthError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AuthError::Read { path: path.into(), message: e.to_string() }),
    };
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| AuthError::Read { path: path.into(), message: e.to_string() })?;
    if !value.is_object() {
        return Err(AuthError::Read { path: path.into(), message: "not a JSON object".into() });
    }
    Ok(Some(value))
}

fn auths(value: &Value) -> Option<&Map<String, Value>> {
    value.get("auths")?.as_object()
}

/// The credentials for `host` in the first of `files` that has some.
pub fn credentials(files: &[PathBuf], host: &str) -> Result<Option<(String, String)>, AuthError> {
    for f in files {
        if let Some(found) = read(f)?.as_ref().and_then(auths).and_then(|a| find(a, host)) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// `auth` with `host`'s entry set to `user`/`password` (or removed, given None); whether an
/// entry was there before. Pure.
pub fn with_login(mut file: Value, host: &str, login: Option<(&str, &str)>) -> (Value, bool) {
    if !file.get("auths").is_some_and(Value::is_object) {
        file["auths"] = Value::Object(Map::new());
    }
    let auths = file["auths"].as_object_mut().expect("made an object above");
    let keys: Vec<String> = auths.keys().filter(|k| key_host(k) == key_host(host)).cloned().collect();
    let had = !keys.is_empty();
    for k in keys {
        auths.remove(&k);
    }
    if let Some((user, password)) = login {
        let auth = STANDARD.encode(format!("{user}:{password}"));
        auths.insert(host.to_string(), serde_json::json!({ "auth": auth }));
    }
    (file, had)
}

/// Sets (or with None removes) `host`'s login in `path`, made 0600 in a directory only its owner
/// reads; returns whether there was one before.
pub fn store(path: &Path, host: &str, login: Option<(&str, &str)>) -> Result<bool, AuthError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let write_err = |source| AuthError::Write { path: path.into(), source };
    let current = read(path)?.unwrap_or_else(|| serde_json::json!({}));
    let (updated, had) = with_login(current, host, login);
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(write_err)?;
    }
    let bytes = serde_json::to_vec_pretty(&updated).expect("JSON serializes");
    crate::image::store::write_private(path, &bytes).map_err(|e| match e {
        crate::image::StoreError::Io { source, .. } => write_err(source),
        other => write_err(std::io::Error::other(other.to_string())),
    })?;
    Ok(had)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_file_follows_podman() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(auth_file(env(&[("REGISTRY_AUTH_FILE", "/a.json")]), 0), Path::new("/a.json"));
        assert_eq!(
            auth_file(env(&[("XDG_RUNTIME_DIR", "/run/user/1000")]), 1000),
            Path::new("/run/user/1000/containers/auth.json")
        );
        assert_eq!(auth_file(env(&[]), 0), Path::new("/run/containers/0/auth.json"));
        assert_eq!(docker_file(env(&[("HOME", "/root")])).unwrap(), Path::new("/root/.docker/config.json"));
    }

    #[test]
    fn docker_hub_keys_and_schemes_name_their_host() {
        assert_eq!(key_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(key_host("registry.example:5000"), "registry.example:5000");
        assert_eq!(key_host("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
    }

    #[test]
    fn a_login_replaces_its_hosts_entry_and_keeps_the_rest() {
        let file = serde_json::json!({
            "auths": { "https://index.docker.io/v1/": { "auth": "eDp5" }, "other:1": { "auth": "YTpi" } },
            "credHelpers": { "gcr.io": "gcloud" }
        });
        let (file, had) = with_login(file, "docker.io", Some(("me", "p:w")));
        assert!(had);
        let auths = file["auths"].as_object().unwrap();
        assert_eq!(find(auths, "docker.io"), Some(("me".into(), "p:w".into())), "a password may hold ':'");
        assert_eq!(find(auths, "other:1"), Some(("a".into(), "b".into())));
        assert!(!auths.contains_key("https://index.docker.io/v1/"), "one entry per host");
        assert_eq!(file["credHelpers"]["gcr.io"], "gcloud");
        let (file, had) = with_login(file, "docker.io", None);
        assert!(had && find(file["auths"].as_object().unwrap(), "docker.io").is_none());
        assert!(!with_login(serde_json::json!({}), "x:1", None).1);
    }
}
