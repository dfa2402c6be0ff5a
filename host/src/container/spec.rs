//! The process a container runs, from the image config and the run flags. Pure.

use oci_spec::image::Config;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// CMD from the command line; replaces the image's Cmd.
    pub cmd: Vec<String>,
    /// `-e K=V`, or `-e K` to take K from sbx's own environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// As written (`bob`, `1000:1000`); resolved against the container's files later.
    pub user: String,
    pub hostname: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("no command specified: the image has no Entrypoint or Cmd; give one after the image name")]
    NoCommand,
    #[error("the working directory '{0}' is not an absolute path")]
    RelativeWorkdir(String),
    #[error("bad environment variable '{0}': expected KEY=VALUE or KEY")]
    BadEnv(String),
}

/// Sets `key` in a KEY=VALUE list, replacing an earlier value.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
    env.push(format!("{key}={value}"));
}

pub fn get_env<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| e.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

pub fn build(
    config: Option<&Config>,
    o: &Overrides,
    default_hostname: &str,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<ProcessSpec, SpecError> {
    let field = |f: fn(&Config) -> &Option<Vec<String>>| config.and_then(|c| f(c).clone()).unwrap_or_default();
    let mut args = field(Config::entrypoint);
    args.extend(if o.cmd.is_empty() { field(Config::cmd) } else { o.cmd.clone() });
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let mut env = Vec::new();
    for e in field(Config::env) {
        if let Some((k, v)) = e.split_once('=') {
            set_env(&mut env, k, v);
        }
    }
    if get_env(&env, "PATH").is_none() {
        set_env(&mut env, "PATH", DEFAULT_PATH);
    }
    let hostname = o.hostname.clone().unwrap_or_else(|| default_hostname.to_string());
    set_env(&mut env, "HOSTNAME", &hostname);
    for e in &o.env {
        match e.split_once('=') {
            Some(("", _)) => return Err(SpecError::BadEnv(e.clone())),
            Some((k, v)) => set_env(&mut env, k, v),
            None if e.is_empty() => return Err(SpecError::BadEnv(e.clone())),
            None => {
                if let Some(v) = host_env(e) {
                    set_env(&mut env, e, &v);
                }
            }
        }
    }
    let cwd = o
        .workdir
        .clone()
        .or_else(|| config.and_then(|c| c.working_dir().clone()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkdir(cwd));
    }
    let user = o.user.clone().or_else(|| config.and_then(|c| c.user().clone())).unwrap_or_default();
    Ok(ProcessSpec { args, env, cwd, user, hostname })
}

/// The full paths to try for `arg0`: itself when it has a slash, else each PATH entry in order.
pub fn exec_candidates(arg0: &str, path: &str) -> Vec<String> {
    if arg0.contains('/') {
        return vec![arg0.to_string()];
    }
    path.split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| format!("{}/{arg0}", dir.trim_end_matches('/')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::ConfigBuilder;

    fn config() -> Config {
        ConfigBuilder::default()
            .entrypoint(vec!["/entry".to_string()])
            .cmd(vec!["serve".to_string()])
            .env(vec!["PATH=/bin".to_string(), "A=1".to_string()])
            .working_dir("/srv".to_string())
            .user("www".to_string())
            .build()
            .unwrap()
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn image_defaults() {
        let s = build(Some(&config()), &Overrides::default(), "abc", none).unwrap();
        assert_eq!(s.args, ["/entry", "serve"]);
        assert_eq!(s.env, ["PATH=/bin", "A=1", "HOSTNAME=abc"]);
        assert_eq!((s.cwd.as_str(), s.user.as_str(), s.hostname.as_str()), ("/srv", "www", "abc"));
    }

    #[test]
    fn flags_override() {
        let o = Overrides {
            cmd: vec!["check".into()],
            env: vec!["A=2".into(), "FROM_HOST".into(), "MISSING".into()],
            workdir: Some("/tmp".into()),
            user: Some("0".into()),
            hostname: Some("box".into()),
        };
        let host = |k: &str| (k == "FROM_HOST").then(|| "yes".to_string());
        let s = build(Some(&config()), &o, "abc", host).unwrap();
        assert_eq!(s.args, ["/entry", "check"]);
        assert_eq!(s.env, ["PATH=/bin", "HOSTNAME=box", "A=2", "FROM_HOST=yes"]);
        assert_eq!((s.cwd.as_str(), s.user.as_str()), ("/tmp", "0"));
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(build(None, &Overrides::default(), "h", none), Err(SpecError::NoCommand));
        let o = Overrides { cmd: vec!["sh".into()], workdir: Some("tmp".into()), ..Default::default() };
        assert_eq!(build(None, &o, "h", none), Err(SpecError::RelativeWorkdir("tmp".into())));
        let o = Overrides { cmd: vec!["sh".into()], env: vec!["=x".into()], ..Default::default() };
        assert_eq!(build(None, &o, "h", none), Err(SpecError::BadEnv("=x".into())));
        let s = build(None, &Overrides { cmd: vec!["sh".into()], ..Default::default() }, "h", none).unwrap();
        assert_eq!(get_env(&s.env, "PATH"), Some(DEFAULT_PATH));
    }

    #[test]
    fn candidates_follow_path() {
        assert_eq!(exec_candidates("sh", "/usr/bin:/bin/"), ["/usr/bin/sh", "/bin/sh"]);
        assert_eq!(exec_candidates("./run", "/bin"), ["./run"]);
    }
}
