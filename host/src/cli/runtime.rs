//! `sbx runtime VERB` and the binary called as `sbx-runtime`: runc's command line (parsed by the
//! liboci-cli crate, which defines it with clap) on OCI bundles. Errors go to stderr and, with
//! `--log FILE`, to that file in `--log-format text|json` (json as runc writes it, which
//! containerd's shim reads back to show the user).

use crate::config::PluginSpec;
use crate::plugin::PluginSet;
use crate::runtime::create::{CreateOptions, create};
use crate::runtime::exec::{ExecOptions, exec};
use crate::runtime::state::{State, default_root};
use crate::runtime::{RuntimeError, resources, verbs};
use clap::{Parser, Subcommand};
use liboci_cli::{CommonCmd, StandardCmd};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// sbx as an OCI runtime: runc's commands on a bundle, with sbx's policies and hooks.
#[derive(Parser, Debug)]
#[command(name = "sbx-runtime", version)]
struct RuntimeCli {
    #[command(flatten)]
    global: liboci_cli::GlobalOpts,
    /// The plugin configuration whose policies and hooks apply to every container (default:
    /// /etc/sbx/sbx.yaml when it exists).
    #[arg(long, env = "SBX_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    #[command(flatten)]
    Standard(Box<StandardCmd>),
    #[command(flatten)]
    Common(Box<CommonCmd>),
}

/// Where errors go besides stderr.
struct Log {
    file: Option<PathBuf>,
    json: bool,
}

impl Log {
    fn error(&self, message: &str) {
        eprintln!("sbx-runtime: {message}");
        self.write("error", message);
    }

    fn warn(&self, message: &str) {
        self.write("warning", message);
    }

    fn write(&self, level: &str, message: &str) {
        let Some(path) = &self.file else { return };
        let time = crate::time::now_rfc3339();
        let line = if self.json {
            serde_json::json!({ "level": level, "msg": message, "time": time }).to_string()
        } else {
            format!("time=\"{time}\" level={level} msg={message:?}")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn plugins(config: Option<&Path>) -> Result<PluginSet, i32> {
    let specs: Vec<PluginSpec> = super::config::resolve(config)?.plugins;
    Ok(PluginSet::new(&crate::plugin::compile::cache_dir(), specs))
}

/// Runs the runtime CLI on `args` (the program's name first); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match RuntimeCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // runc's checkpoint and restore (liboci-cli spells the first "checkpointt").
            let verb = e.get(clap::error::ContextKind::InvalidSubcommand).map(ToString::to_string);
            if let Some(verb @ ("checkpoint" | "restore")) = verb.as_deref() {
                eprintln!(
                    "sbx-runtime: {verb} is not supported: sbx cannot checkpoint containers (it has no CRIU support)"
                );
                return super::EXIT_SBX;
            }
            let code = if e.use_stderr() { super::EXIT_SBX } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let log = Log { file: cli.global.log.clone(), json: cli.global.log_format.as_deref() == Some("json") };
    let root = cli.global.root.clone().unwrap_or_else(default_root);
    let result = if cli.global.systemd_cgroup {
        Err(RuntimeError::NotSupported(
            "--systemd-cgroup: sbx manages cgroups itself (cgroupfs); configure the engine without SystemdCgroup"
                .into(),
        ))
    } else {
        match plugins(cli.config.as_deref()) {
            Ok(plugins) => run(&root, cli.verb, &plugins, &log),
            Err(code) => return code,
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            log.error(&e.to_string());
            super::EXIT_SBX
        }
    }
}

/// Runs the verb; returns the exit code (an exec's own when it waits for its process).
fn run(root: &Path, verb: Verb, plugins: &PluginSet, log: &Log) -> Result<i32, RuntimeError> {
    if let Verb::Common(cmd) = &verb
        && let CommonCmd::Exec(e) = cmd.as_ref()
    {
        let opts = ExecOptions {
            root,
            id: &e.container_id,
            process: e.process.as_deref(),
            command: e.command.clone(),
            env: e.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            cwd: e.cwd.as_ref().map(|c| c.to_string_lossy().into_owned()),
            user: e.user.map(|(uid, gid)| (uid, gid.unwrap_or(0))),
            tty: e.tty,
            detach: e.detach,
            pid_file: e.pid_file.as_deref(),
            console_socket: e.console_socket.as_deref(),
            preserve_fds: preserved(e.preserve_fds)?,
        };
        return exec(&opts, plugins);
    }
    if let Verb::Common(cmd) = &verb
        && let CommonCmd::Run(r) = cmd.as_ref()
    {
        return run_container(root, r, plugins, log);
    }
    run_verb(root, verb, plugins, log).map(|()| 0)
}

/// `create` (also `run`'s first step), with what sbx does its own way in the log.
fn create_logged(opts: &CreateOptions, plugins: &PluginSet, log: &Log) -> Result<(), RuntimeError> {
    for notice in create(opts, plugins)? {
        log.warn(&notice);
    }
    Ok(())
}

/// `run`: create and start; unless detached, wait for the process (a child of this one) and
/// return its status, then delete the container (unless `--keep`).
fn run_container(root: &Path, r: &liboci_cli::Run, plugins: &PluginSet, log: &Log) -> Result<i32, RuntimeError> {
    let opts = CreateOptions {
        root,
        id: &r.container_id,
        bundle: &r.bundle,
        pid_file: r.pid_file.as_deref(),
        console_socket: r.console_socket.as_deref(),
        preserve_fds: preserved(r.preserve_fds)?,
    };
    create_logged(&opts, plugins, log)?;
    if let Err(e) = verbs::start(root, &r.container_id, plugins) {
        let _ = verbs::delete(root, &r.container_id, true, plugins);
        return Err(e);
    }
    if r.detach {
        return Ok(0);
    }
    let pid = State::load(root, &r.container_id)?.pid;
    crate::container::signals::forward_to(pid);
    let code = crate::isolate::spawn::wait_for(nix::unistd::Pid::from_raw(pid)).code;
    crate::container::signals::stop();
    if !r.keep {
        verbs::delete(root, &r.container_id, true, plugins)?;
    }
    Ok(code)
}

fn run_verb(root: &Path, verb: Verb, plugins: &PluginSet, log: &Log) -> Result<(), RuntimeError> {
    match verb {
        Verb::Standard(cmd) => match *cmd {
            StandardCmd::Create(c) => {
                let opts = CreateOptions {
                    root,
                    id: &c.container_id,
                    bundle: &c.bundle,
                    pid_file: c.pid_file.as_deref(),
                    console_socket: c.console_socket.as_deref(),
                    preserve_fds: preserved(c.preserve_fds)?,
                };
                create_logged(&opts, plugins, log)
            }
            StandardCmd::Start(s) => verbs::start(root, &s.container_id, plugins),
            StandardCmd::State(s) => {
                let state = State::load(root, &s.container_id)?;
                say!("{}", serde_json::to_string_pretty(&state.report(root)).expect("JSON serializes"));
                Ok(())
            }
            StandardCmd::Kill(k) => verbs::kill(root, &k.container_id, &k.signal, k.all),
            StandardCmd::Delete(d) => verbs::delete(root, &d.container_id, d.force, plugins),
        },
        Verb::Common(cmd) => match *cmd {
            CommonCmd::List(l) => {
                let json = l.format == "json";
                print!("{}", verbs::list(root, json)?);
                Ok(())
            }
            CommonCmd::Ps(p) => {
                print!("{}", verbs::ps(root, &p.container_id, p.format == "json", &p.ps_options)?);
                Ok(())
            }
            CommonCmd::Update(u) => resources::update(root, &u.container_id, resources::asked(&u)?, plugins),
            CommonCmd::Events(e) => resources::events(root, &e.container_id, e.interval, e.stats),
            CommonCmd::Pause(p) => verbs::freeze(root, &p.container_id, true),
            CommonCmd::Resume(r) => verbs::freeze(root, &r.container_id, false),
            CommonCmd::Spec(s) if s.rootless => Err(RuntimeError::NotSupported(
                "spec --rootless: sbx's runtime runs containers as root (a bundle may still have a user namespace: add linux.uidMappings and gidMappings)".into(),
            )),
            CommonCmd::Spec(s) => verbs::spec(s.bundle.as_deref().unwrap_or(Path::new("."))),
            CommonCmd::Features(_) => {
                say!("{}", serde_json::to_string_pretty(&verbs::features()).expect("JSON serializes"));
                Ok(())
            }
            other => {
                Err(RuntimeError::NotSupported(format!("{} is not supported by sbx's runtime yet", verb_name(&other))))
            }
        },
    }
}

/// `--preserve-fds N`, checked: each of the N descriptors after stderr must be open.
fn preserved(n: i32) -> Result<u32, RuntimeError> {
    let n = u32::try_from(n).map_err(|_| RuntimeError::NotSupported(format!("--preserve-fds {n}: not a count")))?;
    for fd in 3..3 + n {
        // SAFETY: F_GETFD only asks whether the descriptor is open.
        if unsafe { libc::fcntl(fd as i32, libc::F_GETFD) } < 0 {
            return Err(RuntimeError::NotSupported(format!(
                "--preserve-fds {n}: descriptor {fd} is not open; pass that many after stderr"
            )));
        }
    }
    Ok(n)
}

fn verb_name(cmd: &CommonCmd) -> &'static str {
    match cmd {
        CommonCmd::Checkpointt(_) => "checkpoint",
        CommonCmd::Events(_) => "events",
        CommonCmd::Exec(_) => "exec",
        CommonCmd::Features(_) => "features",
        CommonCmd::List(_) => "list",
        CommonCmd::Pause(_) => "pause",
        CommonCmd::Ps(_) => "ps",
        CommonCmd::Resume(_) => "resume",
        CommonCmd::Run(_) => "run",
        CommonCmd::Update(_) => "update",
        CommonCmd::Spec(_) => "spec",
    }
}
