//! Policy test suites, as `opa test` and `kwctl run` with expected results are used: a YAML file of
//! cases, each an image (written out, or stored) or a recorded spec, the `sbx run` flags, the
//! plugins' settings, and the verdict, reason and adjustments it expects, run against the suite's
//! plugins without running a container.
//!
//! ```yaml
//! plugins:                     # as in sbx.yaml; paths relative to this file
//!   - path: ../../target/plugins/deny-setuid.wasm
//! cases:
//!   - name: a setuid binary is denied, naming it
//!     image:                   # written out: config (docker's names) and each layer's entries
//!       config: { User: "1000" }
//!       layers: [[{ path: bin/su, mode: 0o4755 }]]
//!     run: [--cap-drop, ALL]   # `sbx run` flags; `command: [...]` the command
//!     settings: { deny-setuid: { allow: [usr/bin/passwd] } }   # by plugin name, for this case
//!     expect: { verdict: deny, reason: bin/su, denied-by: deny-setuid }
//! ```
//! `image: NAME` names a stored image instead; `spec: FILE` a recorded spec (spec checks only).

use super::inline::InlineImage;
use super::{Report, Subject};
use crate::config::PluginSpec;
use crate::image::Store;
use crate::plugin::{Engine, Plugin, PluginError};
use crate::spec::Overrides;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    #[serde(default)]
    plugins: serde_yaml::Value,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    image: Option<CaseImage>,
    #[serde(default)]
    spec: Option<PathBuf>,
    /// `sbx run` flags.
    #[serde(default)]
    pub run: Vec<String>,
    /// The container's command.
    #[serde(default)]
    pub command: Vec<String>,
    /// Settings by plugin name, instead of the suite's for this case.
    #[serde(default)]
    settings: BTreeMap<String, serde_yaml::Value>,
    pub expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CaseImage {
    Stored(String),
    Inline(InlineImage),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// What a case expects; what it does not name is not checked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Expect {
    /// Given unless `error` is.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// A part of the error the case fails with instead of a verdict (settings a plugin refuses).
    #[serde(default)]
    pub error: Option<String>,
    /// A part of the denial's reason.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub denied_by: Option<String>,
    /// Each a part of one adjustment a spec check asked for.
    #[serde(default)]
    pub adjustments: Vec<String>,
    /// The layers left out (by index), exactly.
    #[serde(default)]
    pub skipped_layers: Option<Vec<usize>>,
    /// Each a part of one note.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A suite read: its plugins (the configuration's, resolved against the file) and its cases.
pub struct Suite {
    pub file: PathBuf,
    pub plugins: Vec<PluginSpec>,
    pub cases: Vec<Case>,
}

/// Reads the suite in `file`.
pub fn read(file: &Path) -> Result<Suite, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read the suite {}: {e}", file.display()))?;
    let raw: SuiteFile = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    if raw.cases.is_empty() {
        return Err(format!("{}: the suite has no cases", file.display()));
    }
    if let Some(case) = raw.cases.iter().find(|c| c.expect.verdict.is_some() == c.expect.error.is_some()) {
        return Err(format!(
            "{}: case '{}' expects {}: give either `verdict` or `error`",
            file.display(),
            case.name,
            if case.expect.error.is_some() { "both a verdict and an error" } else { "neither a verdict nor an error" }
        ));
    }
    let plugins = match raw.plugins {
        serde_yaml::Value::Null => Vec::new(),
        v => {
            let mut config = serde_yaml::Mapping::new();
            config.insert("plugins".into(), v);
            let text = serde_yaml::to_string(&config).expect("serializable");
            crate::config::parse(&text, file).map_err(|e| e.to_string())?.plugins
        }
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let mut cases = raw.cases;
    for c in &mut cases {
        if c.image.is_some() == c.spec.is_some() {
            return Err(format!("{}: case '{}' needs an image or a spec (one of them)", file.display(), c.name));
        }
        if let Some(spec) = c.spec.as_mut().filter(|s| s.is_relative()) {
            *spec = base.join(&*spec);
        }
    }
    Ok(Suite { file: file.to_path_buf(), plugins, cases })
}

impl Case {
    pub fn subject(&self) -> Subject {
        match (&self.image, &self.spec) {
            (Some(CaseImage::Stored(name)), _) => Subject::Stored(name.clone()),
            (Some(CaseImage::Inline(image)), _) => Subject::Inline(image.clone()),
            (None, spec) => Subject::Recorded(spec.clone().unwrap_or_default()),
        }
    }

    /// The suite's plugins with this case's settings.
    pub fn plugins(&self, suite: &[PluginSpec]) -> Result<Vec<PluginSpec>, String> {
        let mut specs = suite.to_vec();
        for (name, settings) in &self.settings {
            let spec = specs.iter_mut().find(|s| &s.name == name).ok_or_else(|| {
                let known: Vec<&str> = suite.iter().map(|s| s.name.as_str()).collect();
                format!(
                    "case '{}': settings for '{name}', which is not a plugin of the suite ({})",
                    self.name,
                    known.join(", ")
                )
            })?;
            spec.settings = serde_json::to_string(settings).map_err(|e| format!("case '{}': {e}", self.name))?;
        }
        Ok(specs)
    }
}

/// What of `expect` the report does not hold: empty when the case passes. Pure.
pub fn failures(expect: &Expect, report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let got = if report.denied.is_some() { Verdict::Deny } else { Verdict::Allow };
    let said = || match &report.denied {
        Some((plugin, reason)) => format!("denied by {plugin}: {reason}"),
        None => "allowed".to_string(),
    };
    if let Some(want) = &expect.error {
        out.push(format!("expected an error with '{want}', got {}", said()));
    }
    if let Some(want) = expect.verdict
        && got != want
    {
        out.push(format!("expected {}, got {}", want.name(), said()));
    }
    if let Some(want) = &expect.reason
        && !report.denied.as_ref().is_some_and(|(_, r)| r.contains(want.as_str()))
    {
        out.push(format!("expected a reason with '{want}', got {}", said()));
    }
    if let Some(want) = &expect.denied_by
        && report.denied.as_ref().is_none_or(|(p, _)| p != want)
    {
        out.push(format!("expected a denial by {want}, got {}", said()));
    }
    let adjustments: Vec<&String> = report.answers.iter().flat_map(|a| &a.adjustments).collect();
    for want in &expect.adjustments {
        if !adjustments.iter().any(|a| a.contains(want.as_str())) {
            out.push(format!("expected an adjustment with '{want}', got {adjustments:?}"));
        }
    }
    if let Some(want) = &expect.skipped_layers
        && *want != report.skipped
    {
        out.push(format!("expected layers {want:?} skipped, got {:?}", report.skipped));
    }
    let notes: Vec<String> = report.notes.iter().map(|n| format!("{}: {}", n.plugin, n.message)).collect();
    for want in &expect.notes {
        if !notes.iter().any(|n| n.contains(want.as_str())) {
            out.push(format!("expected a note with '{want}', got {notes:?}"));
        }
    }
    out
}

/// A case's `sbx run` flags and command as overrides, by the CLI's own parser.
pub type RunFlags<'a> = dyn Fn(&[String], &[String]) -> Result<Overrides, String> + 'a;

/// How a case came out: what the checks said (none when it could not be evaluated), and what of
/// its expectations failed.
pub struct Outcome {
    pub name: String,
    pub report: Option<Report>,
    pub failures: Vec<String>,
}

/// Runs the cases of `suite`, with `extra` plugins after the suite's. A plugin that cannot be
/// loaded (a missing file, a component that is no plugin) fails the suite, not each case: Err names
/// the suite and the plugin. Settings are a case's own, so what a plugin says of them is a case's.
/// One engine serves the suite: each plugin is mapped once, and each case loads it with its settings.
pub fn run(store: &Store, suite: &Suite, extra: &[PluginSpec], flags: &RunFlags) -> Result<Vec<Outcome>, String> {
    let cache = crate::plugin::compile::cache_dir();
    let file = suite.file.display();
    let all: Vec<&PluginSpec> = suite.plugins.iter().chain(extra).collect();
    if all.is_empty() {
        return Err(format!("{file}: no plugin to test: the suite names none (`plugins:`) and no --policy is given"));
    }
    let engine = Engine::new(&cache, all.iter().any(|s| s.limits.fuel.is_some())).map_err(|e| e.to_string())?;
    for spec in all {
        engine.load(&spec.path, spec.limits.compile()).map_err(|e| match e {
            PluginError::Read { .. } => {
                format!("{file}: {e} (build it first, or correct its path: a suite's plugin paths are relative to the suite's file)")
            }
            e => format!("{file}: {e}"),
        })?;
    }
    let mut outcomes = Vec::new();
    for case in &suite.cases {
        let evaluated = (|| {
            let mut specs = case.plugins(&suite.plugins)?;
            specs.extend(extra.iter().cloned());
            let plugins: Vec<Plugin> = specs
                .iter()
                .map(|spec| Plugin::load(&engine, spec))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            let overrides = flags(&case.run, &case.command)?;
            super::evaluate(store, &case.subject(), &overrides, &plugins)
        })();
        outcomes.push(match evaluated {
            Ok(report) => {
                Outcome { name: case.name.clone(), failures: failures(&case.expect, &report), report: Some(report) }
            }
            Err(e) => {
                let failures = match &case.expect.error {
                    Some(want) if e.contains(want.as_str()) => Vec::new(),
                    Some(want) => vec![format!("expected an error with '{want}', got error: {e}")],
                    None => vec![format!("error: {e}")],
                };
                Outcome { name: case.name.clone(), report: None, failures }
            }
        });
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::chain::{Answer, Note};

    fn report(denied: Option<(&str, &str)>) -> Report {
        Report {
            subject: "x".into(),
            answers: vec![Answer {
                plugin: "caps".into(),
                check: "spec".into(),
                verdict: "allow",
                reason: String::new(),
                adjustments: vec!["drop capability NET_RAW".into()],
                asked: true,
            }],
            notes: vec![Note { plugin: "caps".into(), message: "dropped 1".into(), finding: false }],
            skipped: vec![],
            denied: denied.map(|(p, r)| (p.into(), r.into())),
            spec: None,
        }
    }

    fn expect(yaml: &str) -> Expect {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_case_passes_when_the_report_holds_all_it_names() {
        let denied = report(Some(("deny-setuid", "layer 0 has setuid file bin/su")));
        assert!(failures(&expect("{ verdict: deny, reason: bin/su, denied-by: deny-setuid }"), &denied).is_empty());
        let allowed = report(None);
        let e = expect("{ verdict: allow, adjustments: [NET_RAW], notes: ['caps: dropped'], skipped-layers: [] }");
        assert!(failures(&e, &allowed).is_empty());
    }

    #[test]
    fn each_difference_is_a_failure_that_says_what_came_instead() {
        let allowed = report(None);
        let f = failures(&expect("{ verdict: deny, reason: su, denied-by: x }"), &allowed);
        assert_eq!(f.len(), 3, "{f:?}");
        assert_eq!(f[0], "expected deny, got allowed");
        let denied = report(Some(("a", "no")));
        let f = failures(&expect("{ verdict: allow, adjustments: [SYS_ADMIN], skipped-layers: [1] }"), &denied);
        assert!(f[0].starts_with("expected allow, got denied by a: no"), "{f:?}");
        assert!(f[1].contains("SYS_ADMIN") && f[2].contains("[1]"), "{f:?}");
        assert!(serde_yaml::from_str::<Expect>("{ verdict: maybe }").is_err());
        let f = failures(&expect("{ error: refused its settings }"), &allowed);
        assert_eq!(f, ["expected an error with 'refused its settings', got allowed"]);
    }
}
