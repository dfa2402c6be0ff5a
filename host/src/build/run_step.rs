//! RUN: the step's command runs in a new container of the image so far, made and started as
//! `sbx run` makes and starts one (its isolation, the configured policies on its spec, the hooks'
//! events, with annotations that say which build step it is); its writable layer, committed as
//! `sbx commit` writes one, is the step's layer. The container is removed however the step ends.

use crate::container::commit::{store_layer, write_layer};
use crate::container::create::{self, RunOptions};
use crate::container::start::{self, StartOptions};
use crate::container::{RunError, remove};
use crate::dockerfile::config as dconfig;
use crate::dockerfile::{Command, Heredoc};
use crate::image::store::LayerRef;
use crate::image::{ImageRecord, Store, StoreError};
use crate::plugin::PluginSet;
use crate::spec::Overrides;
use std::path::{Path, PathBuf};

/// What a RUN step runs.
pub struct RunStep<'a> {
    /// The command's whole argv (the shell form through the stage's SHELL).
    pub argv: Vec<String>,
    /// The build arguments in scope, as the command's environment (`K=V`).
    pub env: Vec<String>,
    /// The build's own run settings (its network), and the step's annotations.
    pub overrides: Overrides,
    /// Show the command's output (not with `-q`).
    pub show: bool,
    /// Names the step in errors.
    pub what: &'a str,
    /// Where secrets are mounted (made for the mount, not part of the step's layer).
    pub mount_points: Vec<String>,
    /// The image's layers, bottom first (to tell the mount points' directories it has).
    pub lowers: Vec<PathBuf>,
}

/// What a RUN's flags ask for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// `--mount=type=secret,id=ID[,target=PATH][,required=true]`: (id, where, required).
    pub secrets: Vec<(String, String, bool)>,
    /// `--network=MODE`.
    pub network: Option<String>,
}

/// Reads a RUN's flags; Err names one sbx build does not support. Pure.
pub fn run_flags(flags: &[(String, Option<String>)]) -> Result<RunFlags, String> {
    let mut out = RunFlags::default();
    for (name, value) in flags {
        let value = value.as_deref().unwrap_or("");
        match name.as_str() {
            "network" => out.network = Some(value.to_string()),
            "mount" => {
                let fields: Vec<(&str, &str)> =
                    value.split(',').map(|f| f.split_once('=').unwrap_or((f, "true"))).collect();
                let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
                match get("type").as_deref() {
                    Some("secret") => {}
                    other => {
                        return Err(format!(
                            "RUN --mount=type={} is not supported by sbx build (only type=secret is)",
                            other.unwrap_or("bind")
                        ));
                    }
                }
                let id = get("id").or_else(|| get("target").and_then(|t| t.rsplit('/').next().map(str::to_string)));
                let id = id.filter(|i| !i.is_empty()).ok_or("RUN --mount=type=secret needs an id=")?;
                let target = get("target").or_else(|| get("dst")).unwrap_or_else(|| format!("/run/secrets/{id}"));
                out.secrets.push((id, target, get("required").is_some_and(|r| r == "true")));
            }
            other => return Err(format!("RUN --{other} is not supported by sbx build")),
        }
    }
    Ok(out)
}

/// What became of a RUN: its layer, or the command's non-zero exit code.
pub enum Ran {
    Layer(LayerRef),
    Failed(i32),
}

/// Removes the step's container when dropped.
struct Made<'a> {
    store: &'a Store,
    id: String,
    plugins: &'a PluginSet,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        let hooks = match self.plugins.may_have_hooks() {
            true => self.plugins.load().unwrap_or_default(),
            false => &[],
        };
        remove_step(self.store, &self.id, hooks);
    }
}

/// Removes a step's container, whatever it is doing; false (with a warning) if it stays.
fn remove_step(store: &Store, id: &str, hooks: &[crate::plugin::Plugin]) -> bool {
    match remove::remove(store, id, true, true, hooks) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("sbx: warning: the build step's container {} stays: {e}", &id[..12]);
            false
        }
    }
}

/// The annotation that marks a build step's container (and tells hooks which step it is).
pub const STEP_ANNOTATION: &str = "io.sbx.build.step";

/// Held, shared, by every build while it runs (the kernel lets go if it is killed): `builder
/// prune` takes it alone, so it removes step containers only when no build runs.
pub struct Building {
    _lock: std::fs::File,
}

fn building_lock(store: &Store, how: rustix::fs::FlockOperation) -> Result<Building, StoreError> {
    let path = store.root().join("building");
    let io = |source: std::io::Error| StoreError::Io { path: path.clone(), source };
    let f = std::fs::File::options().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    rustix::fs::flock(&f, how).map_err(|e| io(e.into()))?;
    Ok(Building { _lock: f })
}

impl Building {
    pub fn begin(store: &Store) -> Result<Building, StoreError> {
        building_lock(store, rustix::fs::FlockOperation::LockShared)
    }
}

/// Removes the step containers that killed builds left (`ps` shows them Dead), when no build
/// runs; None when one does. `hooks` hear of each. Returns their ids.
pub fn remove_left(store: &Store, hooks: &[crate::plugin::Plugin]) -> Option<Vec<String>> {
    use crate::container::state;
    let _alone = building_lock(store, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
    let left = state::list(store).into_iter().filter(|(dir, _)| {
        !state::is_running(dir) && state::load_spec(dir).is_some_and(|s| s.annotations.contains_key(STEP_ANNOTATION))
    });
    Some(left.filter(|(_, r)| remove_step(store, &r.id, hooks)).map(|(_, r)| r.id).collect())
}

/// Runs `step` in a container of `image`.
pub fn run(store: &Store, image: &ImageRecord, step: RunStep, plugins: &PluginSet) -> Result<Ran, RunError> {
    let mut overrides = step.overrides;
    overrides.cmd = step.argv;
    overrides.entrypoint = Some(String::new());
    overrides.env.extend(step.env);
    let opts = RunOptions {
        image: image.id.to_string(),
        found: Some(image.clone()),
        sig_proxy: true,
        attach_out: step.show,
        attach_err: step.show,
        overrides,
        ..RunOptions::default()
    };
    let (record, fresh) = create::create_starting(store, &opts, plugins)?;
    let made = Made { store, id: record.id.clone(), plugins };
    let dir = store.container_dir(&record.id);
    let idmap = record.idmap;
    let how = StartOptions { sig_proxy: true, shown: [step.show, step.show], ..StartOptions::default() };
    let code = start::start_record(store, dir.clone(), record, how, Some(fresh), plugins)?;
    if code != 0 {
        if !step.show {
            show_log(&dir);
        }
        return Ok(Ran::Failed(code));
    }
    let etc_files = crate::container::etc_files::FILES.iter().map(|(_, at)| *at);
    for at in step.mount_points.iter().map(String::as_str).chain(etc_files) {
        forget_mount_point(&dir.join("upper"), &step.lowers, at);
    }
    let layer = store_layer(store, step.what, |out| write_layer(&dir.join("upper"), idmap.as_ref(), out))?;
    drop(made);
    Ok(Ran::Layer(layer))
}

/// The output of a failed step that was not shown (`-q`), from its container's log, on stderr.
fn show_log(dir: &std::path::Path) {
    use std::io::Write;
    let text = std::fs::read_to_string(dir.join(crate::container::log::LOG)).unwrap_or_default();
    let mut err = std::io::stderr().lock();
    for line in text.lines().filter_map(|l| serde_json::from_str::<crate::container::log::LogLine>(l).ok()) {
        let _ = err.write_all(line.log.as_bytes());
    }
}

/// Takes out of the writable layer `upper` the mount point made at `at` (an empty file: a
/// secret's, or the container's /etc/hosts...) and the directories above it that hold nothing
/// else and add nothing to the image (`lowers`): made for the mount, or copied up from an image
/// directory of the same mode and owner and not made opaque.
fn forget_mount_point(upper: &Path, lowers: &[PathBuf], at: &str) {
    use std::os::unix::fs::MetadataExt;
    let rel = Path::new(at.trim_start_matches('/'));
    let file = upper.join(rel);
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file() && m.len() == 0) {
        let _ = std::fs::remove_file(&file);
    }
    let mut dir = rel.parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        let Ok(here) = std::fs::symlink_metadata(upper.join(d)) else { break };
        let below = lowers.iter().rev().find_map(|l| std::fs::symlink_metadata(l.join(d)).ok());
        let same = |b: &std::fs::Metadata| (b.mode(), b.uid(), b.gid()) == (here.mode(), here.uid(), here.gid());
        let opaque = rustix::fs::lgetxattr(upper.join(d), c"trusted.overlay.opaque", &mut [0u8; 1]).is_ok();
        if below.is_some_and(|b| !same(&b) || opaque) || std::fs::remove_dir(upper.join(d)).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// A RUN's argv: the exec form as written; the shell form through the stage's SHELL. With
/// heredocs, as BuildKit runs them: a command that is one heredoc alone (`RUN <<EOF`) runs the
/// heredoc as the script (one that starts with `#!` as a file, by its interpreter); any other
/// gives the shell the command as written with the heredocs' text after it, each ended by its
/// word, as a shell reads heredocs.
pub fn run_argv(command: &Command, heredocs: &[Heredoc], settings: &serde_json::Value) -> Vec<String> {
    let (Command::Shell(line), Some(first)) = (command, heredocs.first()) else {
        return dconfig::argv(command, settings);
    };
    let alone = heredocs.len() == 1
        && line.trim().trim_start_matches("<<").trim_start_matches('-').trim_matches(['"', '\'']) == first.word;
    let script = if !alone {
        let mut s = format!("{line}\n");
        for h in heredocs {
            s.push_str(&h.body);
            s.push_str(&h.word);
            s.push('\n');
        }
        s
    } else if first.body.starts_with("#!") {
        let end = "SBX_BUILD_SCRIPT_END";
        format!(
            "f=$(mktemp) && cat > \"$f\" <<'{end}' && chmod +x \"$f\" && {{ \"$f\"; r=$?; rm -f \"$f\"; exit $r; }}\n{}{end}\n",
            first.body,
        )
    } else {
        first.body.clone()
    };
    dconfig::argv(&Command::Shell(script), settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_flags_mount_secrets_and_refuse_other_mounts() {
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, Option<String>)> {
            pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect()
        };
        let r =
            run_flags(&f(&[("mount", "type=secret,id=token"), ("mount", "type=secret,id=k,target=/k,required=true")]));
        assert_eq!(
            r.unwrap().secrets,
            [("token".to_string(), "/run/secrets/token".to_string(), false), ("k".into(), "/k".into(), true)]
        );
        assert_eq!(run_flags(&f(&[("network", "none")])).unwrap().network.as_deref(), Some("none"));
        assert!(
            run_flags(&f(&[("mount", "type=cache,target=/x")])).unwrap_err().contains("type=cache is not supported")
        );
        assert!(run_flags(&f(&[("mount", "target=/x")])).unwrap_err().contains("type=bind"));
        assert!(run_flags(&f(&[("security", "insecure")])).unwrap_err().contains("RUN --security"));
    }

    #[test]
    fn a_run_with_heredocs_gets_them_as_a_shell_reads_them() {
        let settings = serde_json::json!({});
        let doc = |word: &str, body: &str| Heredoc { body: body.into(), expand: true, word: word.into() };
        let shell = |s: &str| Command::Shell(s.into());
        let only = run_argv(&shell("<<EOF"), &[doc("EOF", "echo one\necho two\n")], &settings);
        assert_eq!(only, ["/bin/sh", "-c", "echo one\necho two\n"]);
        let fed = run_argv(&shell("<<'END' python3"), &[doc("END", "print(1)\n")], &settings);
        assert_eq!(fed, ["/bin/sh", "-c", "<<'END' python3\nprint(1)\nEND\n"]);
        let two = run_argv(&shell("cat <<A > f && cat <<-B"), &[doc("A", "a\n"), doc("B", "b\n")], &settings);
        assert_eq!(two, ["/bin/sh", "-c", "cat <<A > f && cat <<-B\na\nA\nb\nB\n"]);
        let script = run_argv(&shell("<<-'EOF'"), &[doc("EOF", "#!/bin/awk -f\nBEGIN {}\n")], &settings);
        assert!(script[2].contains("chmod +x") && script[2].contains("#!/bin/awk -f\nBEGIN {}\n"), "{script:?}");
        let exec = run_argv(&Command::Exec(vec!["/bin/true".into()]), &[], &settings);
        assert_eq!(exec, ["/bin/true"]);
    }
}
