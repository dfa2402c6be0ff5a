//! test-hostile: a policy for sbx's own tests that misbehaves on purpose, as the image's
//! `sbx.test.hostile` label asks: `loop` (never returns), `grow` (allocates without end), `trap`,
//! `panic`, `open` (reads /etc/passwd, which no plugin is granted), `log` (logs a line and allows),
//! `bad-adjustment` (its spec check asks for a capability that does not exist), `loosen` (asks
//! for everything that weakens isolation: CAP_SYS_ADMIN, no seccomp, no_new_privs off, the host's
//! network and user ids, host `/` bound writable, a writable root, uid 0), `zero-memory` (a memory
//! limit of 0). Without the label it allows. Never use it outside tests.

use sbx_plugin::{
    Adjustment, Image, Limits, LogLevel, Mount, MountKind, Network, NoSettings, Plugin, Policy, Seccomp, Spec, Userns,
    Verdict,
};

pub struct Hostile;

/// What the image asks the plugin to do.
pub fn behaviour(image: &Image) -> Option<&str> {
    image.config.labels.iter().find(|(k, _)| k == "sbx.test.hostile").map(|(_, v)| v.as_str())
}

impl Plugin for Hostile {
    type Settings = NoSettings;
}

impl Policy for Hostile {
    fn check_image(_: &NoSettings, image: &Image) -> Verdict {
        match behaviour(image) {
            Some("loop") => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Some("grow") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Some("trap") => trap(),
            Some("log") => {
                sbx_plugin::log(LogLevel::Info, "test-hostile checked the image");
                Verdict::Allow
            }
            Some("panic") => panic!("test-hostile panics as asked"),
            Some("open") => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => {
                    Verdict::Deny(format!("read /etc/passwd, which must not be possible: {} bytes", text.len()))
                }
                Err(e) => panic!("cannot open /etc/passwd: {e}"),
            },
            _ => Verdict::Allow,
        }
    }

    /// `bad-adjustment`: asks for a capability that does not exist, which sbx must refuse.
    fn mutate_spec(_: &NoSettings, spec: &Spec) -> Vec<Adjustment> {
        match behaviour(&spec.image) {
            Some("bad-adjustment") => vec![Adjustment::AddCapability("CAP_TIME_TRAVEL".into())],
            Some("loosen") => vec![
                Adjustment::AddCapability("CAP_SYS_ADMIN".into()),
                Adjustment::SetSeccomp(Seccomp::Unconfined),
                Adjustment::SetNoNewPrivileges(false),
                Adjustment::SetNetwork(Network::Host),
                Adjustment::SetUserns(Userns::Host),
                Adjustment::AddMount(Mount {
                    kind: MountKind::Bind,
                    source: "/".into(),
                    destination: "/host".into(),
                    read_only: false,
                }),
                Adjustment::SetReadOnlyRootfs(false),
                Adjustment::SetUser("0".into()),
            ],
            Some("zero-memory") => vec![Adjustment::SetLimits(Limits {
                memory_bytes: Some(0),
                pids: None,
                cpu_millis: None,
                memory_swap: None,
                cpu_shares: None,
                cpuset_cpus: None,
            })],
            _ => vec![],
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn trap() -> Verdict {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> Verdict {
    std::process::abort()
}

sbx_plugin::export_policy!(Hostile);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_label_and_allows_without_it() {
        let mut image = sbx_plugin::testing::image();
        assert_eq!(Hostile::check_image(&NoSettings {}, &image), Verdict::Allow);
        image.config.labels.push(("sbx.test.hostile".into(), "loop".into()));
        assert_eq!(behaviour(&image), Some("loop"));
    }
}
