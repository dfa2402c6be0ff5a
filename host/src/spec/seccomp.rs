//! Seccomp profiles in docker's JSON format (sbx's default, `host/seccomp/default.json`, is an
//! allowlist equivalent to docker's), as data. Which rules apply and the BPF program are
//! [`crate::isolate::seccomp`]'s.

use serde::{Deserialize, Serialize};

/// sbx's default profile.
pub const DEFAULT_PROFILE: &str = include_str!("../../seccomp/default.json");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Architectures by native one: the native and its sub-architectures are filtered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// The older form: the architectures to filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The older form: one name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// When a rule applies: all of `caps` held, the architecture among `arches`, the kernel at least
/// `min_kernel` (for `includes`); any of them (for `excludes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp profile {source_name}: {message}")]
    Parse { source_name: String, message: String },
    #[error("seccomp profile: unknown action '{0}' (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, ...)")]
    Action(String),
    #[error("seccomp profile: action {0} is not supported by sbx (no seccomp agent)")]
    Unsupported(String),
    #[error("seccomp profile: unknown comparison '{0}' (expected SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, ...)")]
    Op(String),
    #[error("seccomp profile: unknown architecture '{0}' (expected SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, ...)")]
    Arch(String),
    #[error("seccomp profile: rule for {name}: {message}")]
    Rule { name: String, message: String },
    #[error("cannot build the seccomp filter: {0}")]
    Build(String),
}

impl Profile {
    pub fn default_profile() -> Profile {
        serde_json::from_str(DEFAULT_PROFILE).expect("the default profile is valid")
    }

    /// Reads a profile in docker's format; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Profile, SeccompError> {
        serde_json::from_str(text).map_err(|e| SeccompError::Parse {
            source_name: source_name.to_string(),
            message: format!("{e} (expected docker's seccomp JSON format)"),
        })
    }
}
