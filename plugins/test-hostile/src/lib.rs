//! test-hostile: a policy for sbx's own tests that misbehaves on purpose, as the image's
//! `sbx.test.hostile` label asks: `loop` (never returns), `grow` (allocates without end), `trap`,
//! `panic`, `open` (reads /etc/passwd, which no plugin is granted), `log` (logs a line and allows),
//! `bad-adjustment` (its spec check asks for a capability that does not exist), `loosen` (asks
//! for everything that weakens isolation: CAP_SYS_ADMIN, no seccomp, no_new_privs off, the host's
//! network and user ids, host `/` bound writable, a writable root, uid 0), `zero-memory` (a memory
//! limit of 0), `sleep` (sleeps 5 s through WASI's clocks), `fifo` (reads /grant/fifo, a FIFO in
//! its granted directory, which never ends), `symlink` (tries to link /grant/link to /etc/passwd),
//! `long-reason` (a 100 MB deny reason), `forge` (a deny reason that forges another plugin's line
//! and clears the screen), `logs` (a million log lines), `findings` (a million findings per layer),
//! `many-adjustments` (30,000 changes). Without the label it allows. Never use it outside tests.

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
            Some("sleep") => {
                std::thread::sleep(std::time::Duration::from_secs(5));
                Verdict::Deny("slept 5 s".into())
            }
            Some("fifo") => match std::fs::read("/grant/fifo") {
                Ok(b) => Verdict::Deny(format!("read {} bytes of the FIFO", b.len())),
                Err(e) => Verdict::Deny(format!("cannot read the FIFO: {e}")),
            },
            Some("symlink") => match symlink("/etc/passwd", "/grant/link") {
                Ok(()) => Verdict::Deny("made a symlink out of its granted directory".into()),
                Err(e) => Verdict::Deny(format!("could not make the symlink: {e}")),
            },
            Some("long-reason") => Verdict::Deny("x".repeat(100 << 20)),
            Some("forge") => Verdict::Deny("no\nsbx: policy deny-setuid: allowed\u{1b}[2J\u{202e}".into()),
            Some("logs") => {
                for i in 0..1_000_000 {
                    sbx_plugin::log(LogLevel::Warn, &format!("line {i}"));
                }
                Verdict::Allow
            }
            Some("open") => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => {
                    Verdict::Deny(format!("read /etc/passwd, which must not be possible: {} bytes", text.len()))
                }
                Err(e) => panic!("cannot open /etc/passwd: {e}"),
            },
            _ => Verdict::Allow,
        }
    }

    fn findings(_: &NoSettings, image: &Image, _: &sbx_plugin::Layer) -> Vec<String> {
        match behaviour(image) {
            Some("findings") => (0..1_000_000).map(|i| format!("finding {i}")).collect(),
            _ => Vec::new(),
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
            Some("many-adjustments") => {
                (0..30_000).map(|i| Adjustment::SetEnv((format!("K{i}"), i.to_string()))).collect()
            }
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

/// symlink-at in the granted directory `/grant` (std has no stable wrapper on WASI).
#[cfg(target_os = "wasi")]
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    use wasip2::filesystem::preopens::get_directories;
    let name = link.strip_prefix("/grant/").unwrap_or(link);
    let dirs = get_directories();
    let (dir, _) = dirs.iter().find(|(_, path)| path == "/grant").ok_or(std::io::ErrorKind::NotFound)?;
    dir.symlink_at(target, name).map_err(|e| std::io::Error::other(format!("{e:?}")))
}

#[cfg(not(target_os = "wasi"))]
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
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
