//! Build arguments, with docker's scoping: `--build-arg` values override ARG defaults; the ARGs
//! before the first FROM are usable in FROM lines only, unless a stage declares them again (then
//! with their global value as default); a stage's ARG is in scope from its line to the stage's
//! end; the proxy variables docker predefines need no ARG. A `--build-arg` no ARG declares is
//! reported for a warning, as docker gives one. Pure.

use super::words::{self, Lookup};
use std::collections::{BTreeMap, BTreeSet};

/// The arguments docker knows without an ARG (and keeps out of the image's history).
pub const PREDEFINED: [&str; 8] =
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"];

/// `ARG` text: each name with its default, if written.
pub fn declared(text: &str, lookup: Lookup) -> Result<Vec<(String, Option<String>)>, String> {
    let list = words::words(text, lookup)?;
    if list.is_empty() {
        return Err("ARG needs a name".into());
    }
    list.into_iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w, None),
            };
            match !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                true => Ok((name, default)),
                false => Err(format!("'{name}' is not a valid ARG name")),
            }
        })
        .collect()
}

/// The arguments of one build.
#[derive(Debug, Default)]
pub struct BuildArgs {
    /// `--build-arg K=V`.
    given: BTreeMap<String, String>,
    /// The global ARGs' values (before the first FROM).
    global: BTreeMap<String, String>,
    /// Names some ARG declared, for the warning about the others.
    declared: BTreeSet<String>,
}

impl BuildArgs {
    pub fn new(given: BTreeMap<String, String>) -> BuildArgs {
        BuildArgs { given, ..Default::default() }
    }

    /// Declares a global ARG (before the first FROM); its value is the given one, else its default
    /// (variables in the default from the globals before it).
    pub fn declare_global(&mut self, text: &str) -> Result<(), String> {
        let known = self.global.clone();
        for (name, default) in declared(text, &|n| known.get(n).cloned())? {
            self.declared.insert(name.clone());
            if let Some(v) = self.given.get(&name).cloned().or(default) {
                self.global.insert(name, v);
            }
        }
        Ok(())
    }

    /// The value of a variable in a FROM line.
    pub fn in_from(&self, name: &str) -> Option<String> {
        self.global.get(name).cloned()
    }

    /// Declares a stage's ARG into `scope` (the stage's arguments so far); `env` is the stage's
    /// environment for variables in defaults.
    pub fn declare(&mut self, text: &str, scope: &mut BTreeMap<String, String>, env: Lookup) -> Result<(), String> {
        let lookup = |n: &str| scope.get(n).cloned().or_else(|| env(n));
        let list = declared(text, &lookup)?;
        for (name, default) in list {
            self.declared.insert(name.clone());
            let value = self.given.get(&name).cloned().or(default).or_else(|| self.global.get(&name).cloned());
            scope.insert(name, value.unwrap_or_default());
        }
        Ok(())
    }

    /// A predefined argument's value, when given.
    pub fn predefined(&self, name: &str) -> Option<String> {
        PREDEFINED.contains(&name).then(|| self.given.get(name).cloned()).flatten()
    }

    /// The `--build-arg`s that no ARG declared (and that are not predefined): docker warns of them.
    pub fn unused(&self) -> Vec<String> {
        self.given
            .keys()
            .filter(|k| !self.declared.contains(*k) && !PREDEFINED.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> BuildArgs {
        BuildArgs::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn globals_serve_from_lines_and_given_values_win() {
        let mut a = given(&[("VERSION", "2")]);
        a.declare_global("BASE=busybox VERSION=1").unwrap();
        // Variables are those of before the line, as in every instruction.
        a.declare_global("TAG=${BASE}-$VERSION SAME=$TAG").unwrap();
        assert_eq!(a.in_from("BASE").as_deref(), Some("busybox"));
        assert_eq!(a.in_from("VERSION").as_deref(), Some("2"));
        assert_eq!(a.in_from("TAG").as_deref(), Some("busybox-2"));
        assert_eq!(a.in_from("SAME").as_deref(), Some(""));
        assert_eq!(a.in_from("NONE"), None);
    }

    #[test]
    fn a_stage_sees_an_arg_from_its_declaration_with_the_global_as_default() {
        let mut a = given(&[("MODE", "fast")]);
        a.declare_global("BASE=busybox").unwrap();
        let mut scope = BTreeMap::new();
        let env = |n: &str| (n == "HOME").then(|| "/root".to_string());
        a.declare("BASE MODE DIR=$HOME/x EMPTY", &mut scope, &env).unwrap();
        assert_eq!(scope["BASE"], "busybox", "the global's value, declared again");
        assert_eq!(scope["MODE"], "fast");
        assert_eq!(scope["DIR"], "/root/x");
        assert_eq!(scope["EMPTY"], "");
    }

    #[test]
    fn unused_build_args_are_reported_and_proxies_are_predefined() {
        let mut a = given(&[("USED", "1"), ("TYPO", "1"), ("HTTP_PROXY", "http://127.0.0.1:3128")]);
        let mut scope = BTreeMap::new();
        a.declare("USED", &mut scope, &|_| None).unwrap();
        assert_eq!(a.unused(), ["TYPO"]);
        assert_eq!(a.predefined("HTTP_PROXY").as_deref(), Some("http://127.0.0.1:3128"));
        assert_eq!(a.predefined("USED"), None);
    }

    #[test]
    fn bad_declarations_are_refused() {
        assert!(declared("", &|_| None).unwrap_err().contains("needs a name"));
        assert!(declared("A-B=1", &|_| None).unwrap_err().contains("'A-B' is not a valid ARG name"));
        assert!(declared("=1", &|_| None).unwrap_err().contains("not a valid ARG name"));
    }
}
