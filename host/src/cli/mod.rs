//! Command-line parsing (clap) and dispatch to the verbs, one file each. No logic lives here: the
//! verbs call the library and map its errors to docker's exit codes.

/// println! that does not panic when stdout is a closed pipe (`sbx rm a b c | true`): the output is
/// lost, the verb's work goes on to its end.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod attach;
mod build;
mod commit;
mod config;
mod control;
mod cp;
mod create;
mod diff;
mod events;
mod exec;
mod export;
mod format;
mod go_print;
mod history;
mod images;
mod import;
mod info;
mod inspect;
mod load;
mod login;
mod logs;
mod monitor;
mod network;
mod operands;
mod plugin;
mod plugin_new;
mod policy;
mod port;
mod ps;
mod pull;
mod push;
mod quick;
mod rename;
mod rm;
mod rmi;
mod run;
mod runtime;
mod save;
mod start;
mod stats;
mod system;
mod tag;
mod top;
mod update;
mod volume;

use crate::isolate::rootless;
use crate::plugin::bindings::LogLevel;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// sbx: a daemonless container sandbox whose policies are WebAssembly components.
#[derive(Parser, Debug)]
#[command(name = "sbx", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every verb takes.
#[derive(clap::Args, Debug)]
pub struct Globals {
    /// Where images, layers and containers are kept [default: /var/lib/sbx for root, else
    /// $XDG_DATA_HOME/sbx or ~/.local/share/sbx].
    #[arg(long, global = true, env = "SBX_ROOT")]
    pub root: Option<PathBuf>,
    /// The plugin configuration (default: /etc/sbx/sbx.yaml for root, else
    /// $XDG_CONFIG_HOME/sbx/sbx.yaml, when it exists).
    #[arg(long, global = true, env = "SBX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The least severe plugin messages shown (info: also what the policies found and allowed).
    #[arg(long, global = true, value_enum, default_value = "warn")]
    pub log_level: LogLevelArg,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(flatten)]
    Containers(ContainerVerb),
    /// Show containers' or images' config and state as JSON.
    Inspect(inspect::InspectArgs),
    /// Manage containers (docker's `container` group: the container verbs, ls, inspect, prune).
    #[command(subcommand)]
    Container(ContainerCommand),
    /// The monitor of a detached container (started by `sbx run -d`).
    #[command(name = "_monitor", hide = true)]
    Monitor(monitor::MonitorArgs),
    /// Fills a new volume from its container's image (started by sbx's create).
    #[command(name = "_fill-volume", hide = true)]
    FillVolume(volume::FillArgs),
    /// Compiles a component from stdin into a cache file (started by sbx, with a time limit).
    #[command(name = "_compile", hide = true)]
    Compile(plugin::CompileArgs),
    /// Load an image from a docker-archive, oci-archive or OCI layout.
    Load(load::LoadArgs),
    /// Pull an image from a registry.
    Pull(pull::PullArgs),
    /// Push an image to a registry.
    Push(push::PushArgs),
    /// Write images to a docker-archive, oci-archive or OCI layout.
    Save(save::SaveArgs),
    /// Log in to a registry (the credentials are kept for pull and push).
    Login(login::LoginArgs),
    /// Log out of a registry.
    Logout(login::LogoutArgs),
    /// Make an image of a root filesystem tarball; prints its id.
    Import(import::ImportArgs),
    /// Build an image from a Dockerfile; prints its id.
    Build(build::BuildArgs),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// List images.
    Images(images::ImagesArgs),
    /// Remove images (a name of several only untags it).
    Rmi(rmi::RmiArgs),
    /// Give an image another name.
    Tag(tag::TagArgs),
    /// Check the plugin configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Try policies against an image without running it.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Show what happened to containers, images and volumes (the store's journal).
    Events(events::EventsArgs),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Show what sbx runs on and what its store holds.
    Info(info::InfoArgs),
    /// Show sbx's version.
    Version(info::InfoArgs),
    /// Show how an image was made, newest step first.
    History(history::HistoryArgs),
    /// Manage the store: df, check, prune, info.
    #[command(subcommand)]
    System(system::SystemCommand),
    /// The OCI runtime CLI (runc's commands on a bundle), also reached as the binary `sbx-runtime`:
    /// `sbx runtime --help`.
    #[command(disable_help_flag = true)]
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The verbs on containers, reached at the top level and under `sbx container`.
#[derive(Subcommand, Debug)]
pub enum ContainerVerb {
    /// Run a command in a new container.
    Run(Box<run::RunArgs>),
    /// Create a container without starting it; prints its id.
    Create(Box<run::RunArgs>),
    /// Start a created or stopped container (with -a, in the foreground).
    Start(start::StartArgs),
    /// Stop containers and start them again, on the same writable layer.
    Restart(control::StopArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Show what a container changed in its writable layer.
    Diff(diff::DiffArgs),
    /// Make a new image of a container's changes.
    Commit(commit::CommitArgs),
    /// Write a container's filesystem as a tarball.
    Export(export::ExportArgs),
    /// Run a command in a running container.
    Exec(exec::ExecArgs),
    /// Show running containers' CPU, memory and processes.
    Stats(stats::StatsArgs),
    /// Show a container's output.
    Logs(logs::LogsArgs),
    /// Show a running container's output until it ends, and exit with its exit code.
    Attach(attach::AttachArgs),
    /// Stop containers: their stop signal (TERM), then SIGKILL after a grace period.
    Stop(control::StopArgs),
    /// Send a signal to containers.
    Kill(control::KillArgs),
    /// Wait for containers to end and print their exit codes.
    Wait(control::ContainersArgs),
    /// Freeze every process of containers.
    Pause(control::ContainersArgs),
    /// Thaw paused containers.
    Unpause(control::ContainersArgs),
    /// Give a container another name.
    Rename(rename::RenameArgs),
    /// Show a container's processes (the host's ps, cut to the container's).
    Top(top::TopArgs),
    /// Show the host addresses of a running container's published ports.
    Port(port::PortArgs),
    /// Copy files between a container and the host (CONTAINER:PATH on one side).
    Cp(cp::CpArgs),
    /// Change containers' resource limits (at once for a running one).
    Update(update::UpdateArgs),
    /// Remove containers and their writable layers.
    Rm(rm::RmArgs),
}

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// List containers.
    #[command(alias = "list")]
    Ls(ps::PsArgs),
    /// Show containers' config and state as JSON.
    Inspect(inspect::KindInspectArgs),
    /// Remove every stopped container.
    Prune(rm::PruneArgs),
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogLevelArg {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Load an image from a docker-archive, oci-archive or OCI layout.
    Load(load::LoadArgs),
    /// Pull an image from a registry.
    Pull(pull::PullArgs),
    /// Push an image to a registry.
    Push(push::PushArgs),
    /// Write images to a docker-archive, oci-archive or OCI layout.
    Save(save::SaveArgs),
    /// List images.
    #[command(alias = "ls")]
    List(images::ImagesArgs),
    /// Remove images (a name of several only untags it).
    #[command(alias = "remove")]
    Rm(rmi::RmiArgs),
    /// Remove images without a name (with -a, every image no container uses).
    Prune(rmi::PruneArgs),
    /// Give an image another name.
    Tag(tag::TagArgs),
    /// Make an image of a root filesystem tarball; prints its id.
    Import(import::ImportArgs),
    /// Build an image from a Dockerfile; prints its id.
    Build(build::BuildArgs),
    /// Show images' names, config and layers as JSON.
    Inspect(inspect::KindInspectArgs),
    /// Show how an image was made, newest step first.
    History(history::HistoryArgs),
}

/// Exit code for sbx's own failures, as docker uses it.
pub const EXIT_SBX: i32 = 125;

/// Prints rows as docker does: columns padded to their widest cell, three spaces apart.
pub fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns).map(width).collect();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        say!("{}", line.join("   ").trim_end());
    }
}

/// `-i -t` attaches sbx's stdin to the container's terminal in raw mode, which needs stdin to be a
/// terminal (as docker says).
pub fn check_terminal_input(interactive: bool, tty: bool) -> Result<(), &'static str> {
    use std::os::fd::AsFd;
    if interactive && tty && !crate::container::terminal::is_terminal(std::io::stdin().as_fd()) {
        return Err("the input device is not a TTY: drop -t (or -i), or run sbx from a terminal");
    }
    Ok(())
}

/// As a user that is not root, the verbs that make or change containers and layers run in a user
/// namespace where the user is root (see [`rootless`]); `exec` joins its container's. Done while
/// sbx is still single-threaded.
fn enter_rootless(command: &Command, store: &crate::image::Store) -> Result<(), i32> {
    if nix::unistd::geteuid().is_root() {
        return Ok(()); // host root, or already in the namespace (the monitor of a detached container)
    }
    let entered = match command {
        Command::Containers(
            ContainerVerb::Run(_)
            | ContainerVerb::Create(_)
            | ContainerVerb::Start(_)
            | ContainerVerb::Restart(_)
            | ContainerVerb::Rm(_)
            | ContainerVerb::Commit(_)
            | ContainerVerb::Export(_)
            | ContainerVerb::Cp(_),
        )
        | Command::Container(ContainerCommand::Prune(_))
        | Command::Volume(volume::VolumeCommand::Rm(_) | volume::VolumeCommand::Prune(_))
        | Command::System(system::SystemCommand::Prune(_))
        | Command::Load(_)
        | Command::Pull(_)
        | Command::Rmi(_)
        | Command::Import(_)
        | Command::Image(
            ImageCommand::Load(_)
            | ImageCommand::Pull(_)
            | ImageCommand::Rm(_)
            | ImageCommand::Prune(_)
            | ImageCommand::Import(_),
        ) => rootless::enter(),
        Command::Containers(ContainerVerb::Exec(args)) => match crate::container::state::find(store, &args.container) {
            Ok((_, record)) => match record.pid {
                Some(pid) => rootless::join(pid),
                None => return Ok(()), // exec says it is not running
            },
            Err(e) => return Err(fail(e)),
        },
        _ => return Ok(()),
    };
    entered.map_err(fail)
}

pub fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("sbx: {e}");
    EXIT_SBX
}

/// docker's rule for the verbs that act on what exists (all but run and create, whose every
/// failure is 125): 1 when what the verb names is not there or the act is refused as things
/// stand (running, not running, in use), 125 when sbx itself failed.
pub fn refuse_or_fail(e: impl std::fmt::Display, refused: bool) -> i32 {
    eprintln!("sbx: {e}");
    if refused { 1 } else { EXIT_SBX }
}

/// Parses the command line and runs the verb; returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Engines call the runtime by its binary's name (a `sbx-runtime` link) with runc's arguments.
    if args.first().and_then(|a| std::path::Path::new(a).file_name()).is_some_and(|n| n == "sbx-runtime") {
        return runtime::main(args);
    }
    if args.get(1).is_some_and(|a| a == "runtime") {
        return runtime::main(
            [std::ffi::OsString::from("sbx runtime")].into_iter().chain(args[2..].iter().cloned()).collect(),
        );
    }
    let quick = quick::parse(&args);
    let full = || {
        let mut cmd = Cli::command();
        let args = operands::end_at_operand(&mut cmd, args);
        cmd.try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m))
    };
    let cli = match quick.map_or_else(full, Ok) {
        Ok(cli) => cli,
        Err(e) => {
            // clap's tip for an unknown verb names any verb a few letters away (`rmi` for `rmii`
            // and `rm`, `ps` for `pus`): one that removes or runs is no safe guess.
            use clap::error::{ContextKind, ContextValue, ErrorKind};
            if let (ErrorKind::InvalidSubcommand, Some(ContextValue::String(verb))) =
                (e.kind(), e.get(ContextKind::InvalidSubcommand))
            {
                return fail(format!("'{verb}' is not an sbx command: see 'sbx --help'"));
            }
            let code = if e.use_stderr() { EXIT_SBX } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    crate::plugin::host::set_log_level(match cli.globals.log_level {
        LogLevelArg::Debug => LogLevel::Debug,
        LogLevelArg::Info => LogLevel::Info,
        LogLevelArg::Warn => LogLevel::Warn,
        LogLevelArg::Error => LogLevel::Error,
    });
    if let Command::Compile(args) = cli.command {
        return plugin::compile_child(args); // needs no store
    }
    if let Some(config) = &cli.globals.config {
        let absolute = std::path::absolute(config).unwrap_or_else(|_| config.clone());
        // Every sbx this one starts (a detached container's monitor, its health probes, which
        // are execs that the configuration's policies check) uses the same configuration.
        // SAFETY: no thread runs yet: sbx makes its threads after the command line is parsed.
        unsafe { std::env::set_var("SBX_CONFIG", absolute) };
    }
    let config = cli.globals.config.as_deref();
    let root = match cli.globals.root.clone() {
        Some(root) => root,
        None if rootless::is_host_root() => PathBuf::from("/var/lib/sbx"),
        None => match rootless::default_root(|k| std::env::var(k).ok()) {
            Some(root) => root,
            None => return fail("no store: set HOME, XDG_DATA_HOME or SBX_ROOT, or give --root"),
        },
    };
    let store = match sbx_store(&root, config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let command = cli.command.unaliased();
    if let Err(code) = enter_rootless(&command, &store) {
        return code;
    }
    match command {
        Command::Containers(verb) => container_verb(&store, verb, config),
        Command::Inspect(args) => inspect::inspect(&store, args),
        Command::Container(ContainerCommand::Inspect(args)) => inspect::container_inspect(&store, args),
        Command::Container(ContainerCommand::Prune(args)) => rm::prune(&store, args, config),
        Command::Container(_) => unreachable!("unaliased before"),
        Command::Info(args) | Command::System(system::SystemCommand::Info(args)) => info::info(&store, args, config),
        Command::Version(args) => info::version(args),
        Command::History(args) | Command::Image(ImageCommand::History(args)) => history::history(&store, args),
        Command::Monitor(args) => monitor::monitor(&store, args, config),
        Command::FillVolume(args) => volume::fill(&store, args),
        Command::Volume(cmd) => volume::run(&store, cmd),
        Command::Network(cmd) => network::run(&store, cmd, config),
        Command::Events(args) | Command::System(system::SystemCommand::Events(args)) => events::events(&store, args),
        Command::Compile(_) => unreachable!("handled before the store"),
        Command::Config(cmd) => config::run(cmd, config),
        Command::Plugin(cmd) => plugin::run(&store, cmd, config),
        Command::Policy(cmd) => policy::run(&store, cmd, config),
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => load::load(&store, args),
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => pull::pull(&store, args, config),
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => push::push(&store, args, config),
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => save::save(&store, args),
        Command::Login(args) => match config::resolve(config) {
            Ok(c) => login::login(args, &c),
            Err(code) => code,
        },
        Command::Logout(args) => login::logout(args),
        Command::Images(args) | Command::Image(ImageCommand::List(args)) => images::images(&store, args),
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => rmi::rmi(&store, args),
        Command::Image(ImageCommand::Prune(args)) => rmi::prune(&store, args),
        Command::Image(ImageCommand::Inspect(args)) => inspect::image_inspect(&store, args),
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => tag::tag(&store, args),
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => import::import(&store, args),
        Command::Build(args) | Command::Image(ImageCommand::Build(args)) => build::build(&store, args, config),
        Command::Builder(cmd) => build::run(&store, cmd, config),
        Command::System(cmd) => system::run(&store, cmd, config),
        Command::Runtime { .. } => unreachable!("taken by runtime::main before the store"),
    }
}

/// Runs a verb on containers.
fn container_verb(store: &crate::image::Store, verb: ContainerVerb, config: Option<&std::path::Path>) -> i32 {
    match verb {
        ContainerVerb::Run(args) => run::run(store, *args, config),
        ContainerVerb::Create(args) => create::create(store, *args, config),
        ContainerVerb::Start(args) => start::start(store, args, config),
        ContainerVerb::Restart(args) => start::restart(store, args, config),
        ContainerVerb::Ps(args) => ps::ps(store, args),
        ContainerVerb::Diff(args) => diff::diff(store, args),
        ContainerVerb::Exec(args) => exec::exec(store, args, config),
        ContainerVerb::Commit(args) => commit::commit(store, args, config),
        ContainerVerb::Export(args) => export::export(store, args),
        ContainerVerb::Logs(args) => logs::logs(store, args),
        ContainerVerb::Attach(args) => attach::attach(store, args),
        ContainerVerb::Stats(args) => stats::stats(store, args),
        ContainerVerb::Stop(args) => control::stop(store, args),
        ContainerVerb::Kill(args) => control::kill(store, args),
        ContainerVerb::Wait(args) => control::wait(store, args),
        ContainerVerb::Pause(args) => control::pause(store, args, true),
        ContainerVerb::Unpause(args) => control::pause(store, args, false),
        ContainerVerb::Rename(args) => rename::rename(store, args),
        ContainerVerb::Top(args) => top::top(store, args),
        ContainerVerb::Port(args) => port::port(store, args),
        ContainerVerb::Cp(args) => cp::cp(store, args),
        ContainerVerb::Update(args) => update::update(store, args, config),
        ContainerVerb::Rm(args) => rm::rm(store, args, config),
    }
}

impl Command {
    /// A verb reached under a management group (`sbx container ls`, `sbx system info`) as the
    /// top-level verb it is another name of.
    fn unaliased(self) -> Command {
        match self {
            Command::Container(ContainerCommand::Verb(v)) => Command::Containers(v),
            Command::Container(ContainerCommand::Ls(args)) => Command::Containers(ContainerVerb::Ps(args)),
            other => other,
        }
    }
}

/// Asks on stderr whether to go on (docker's prune prompt); true for y or yes.
pub fn confirm(what: &str) -> bool {
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// The store at `root`, with the layer limits and search registries of the configuration (`config`, or the default
/// file when it exists).
fn sbx_store(root: &std::path::Path, config: Option<&std::path::Path>) -> Result<crate::image::Store, i32> {
    let mut store = crate::image::Store::open(root).map_err(|e| fail(format!("cannot open the store: {e}")))?;
    let config = config::resolve(config)?;
    store.layer_limits = config.layers;
    store.search_registries = config.registries.search;
    Ok(store)
}
