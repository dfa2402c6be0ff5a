//! `sbx info` and `sbx version`: what this sbx is and what it runs on, with docker's field names
//! (`--format json` for scripts).

use super::format::{self, Format};
use crate::container::state::{self, Live};
use crate::image::Store;
use crate::isolate::{cgroup, rootless};
use clap::Args;
use serde_json::{Value, json};
use std::path::Path;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// table, json, or a Go template ('{{.Containers}}', '{{.Client.Version}}').
    #[arg(short, long, default_value = "table", value_parser = super::format::parse)]
    pub format: Format,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn os_release_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let pretty = text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="));
    pretty.map_or_else(|| "unknown".into(), |v| v.trim_matches('"').to_string())
}

fn kernel() -> String {
    nix::sys::utsname::uname().map_or_else(|_| "unknown".into(), |u| u.release().to_string_lossy().into_owned())
}

fn architecture() -> &'static str {
    std::env::consts::ARCH
}

/// docker's `info` document for what sbx has: counts from the store, the host's facts.
fn info_document(store: &Store, config: Option<&Path>) -> Value {
    let containers = state::list(store);
    let live: Vec<Live> = containers.iter().map(|(d, r)| state::live(d, r)).collect();
    let count = |l: Live| live.iter().filter(|x| **x == l).count();
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let plugins = super::config::resolve(config).map(|c| c.plugins).unwrap_or_default();
    let memory = crate::container::stats::host_memory();
    json!({
        "Name": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
        "ServerVersion": VERSION,
        "Containers": containers.len(),
        "ContainersRunning": count(Live::Running),
        "ContainersPaused": count(Live::Paused),
        "ContainersStopped": count(Live::Stopped),
        "Images": store.images().map_or(0, |i| i.len()),
        "Driver": "overlay",
        "DockerRootDir": store.root(),
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if v2 { "2" } else { "1" },
        "KernelVersion": kernel(),
        "OperatingSystem": os_release_name(),
        "OSType": "linux",
        "Architecture": architecture(),
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": memory,
        "SecurityOptions": ["name=seccomp,profile=builtin", if rootless::is_host_root() { "name=cgroupns" } else { "name=rootless" }],
        "Rootless": !rootless::is_host_root(),
        "DefaultRuntime": "sbx",
        "Plugins": { "Policies": plugins.iter().map(|p| p.name.clone()).collect::<Vec<_>>() },
        "Warnings": if cgroup::hierarchies(Path::new("/sys/fs/cgroup"), false).is_empty() {
            vec!["no cgroup controllers are mounted: limits, stats and pause are not available"]
        } else {
            vec![]
        },
    })
}

pub fn info(store: &Store, args: InfoArgs, config: Option<&Path>) -> i32 {
    let doc = info_document(store, config);
    if args.format != Format::Table {
        return format::print(&args.format, &[doc], &Value::Null, || {});
    }
    let s = |k: &str| match &doc[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    say!("Containers: {}", s("Containers"));
    say!(" Running: {}", s("ContainersRunning"));
    say!(" Paused: {}", s("ContainersPaused"));
    say!(" Stopped: {}", s("ContainersStopped"));
    say!("Images: {}", s("Images"));
    say!("Server Version: {}", s("ServerVersion"));
    say!("Storage Driver: {}", s("Driver"));
    say!("Cgroup Driver: {}", s("CgroupDriver"));
    say!("Cgroup Version: {}", s("CgroupVersion"));
    say!("Policies: {}", doc["Plugins"]["Policies"].as_array().map_or(0, Vec::len));
    say!("Default Runtime: {}", s("DefaultRuntime"));
    say!("Security Options:");
    for o in doc["SecurityOptions"].as_array().into_iter().flatten() {
        say!(" {}", o.as_str().unwrap_or_default());
    }
    say!("Kernel Version: {}", s("KernelVersion"));
    say!("Operating System: {}", s("OperatingSystem"));
    say!("OSType: {}", s("OSType"));
    say!("Architecture: {}", s("Architecture"));
    say!("CPUs: {}", s("NCPU"));
    say!("Total Memory: {}", crate::container::stats::size(doc["MemTotal"].as_u64().unwrap_or(0)));
    say!("Name: {}", s("Name"));
    say!("Docker Root Dir: {}", s("DockerRootDir"));
    for w in doc["Warnings"].as_array().into_iter().flatten() {
        eprintln!("WARNING: {}", w.as_str().unwrap_or_default());
    }
    0
}

fn version_document() -> Value {
    json!({
        "Client": {
            "Version": VERSION,
            "ApiVersion": "none (sbx has no daemon)",
            "Os": "linux",
            // Go's name for it, as docker's version shows it.
            "Arch": match architecture() {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            },
            "KernelVersion": kernel(),
            "OciRuntimeSpec": crate::runtime::verbs::features()["ociVersionMax"],
        },
    })
}

pub fn version(args: InfoArgs) -> i32 {
    let doc = version_document();
    if args.format != Format::Table {
        return format::print(&args.format, &[doc], &Value::Null, || {});
    }
    let c = &doc["Client"];
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    say!("Client: sbx");
    say!(" Version:           {}", s("Version"));
    say!(" API version:       {}", s("ApiVersion"));
    say!(" OCI runtime spec:  {}", s("OciRuntimeSpec"));
    say!(" OS/Arch:           {}/{}", s("Os"), s("Arch"));
    say!(" Kernel:            {}", s("KernelVersion"));
    0
}
