//! The container's cgroup: `sbx/<id>` under each hierarchy sbx uses, created before the container
//! starts and removed after it ends. cgroup v2 (one unified hierarchy) and v1 (a hierarchy per
//! controller; hybrid machines mount a mostly empty v2 beside them, which sbx leaves alone).
//!
//! How the container enters it matters for speed: writing a pid to `cgroup.procs` takes the
//! kernel's global threadgroup lock for writing, which waits for an RCU grace period (10-20 ms
//! here). So on v2 the child is cloned straight into the cgroup (CLONE_INTO_CGROUP), and on v1 the
//! child moves its own single thread by writing "0" to each `tasks` file, which skips that lock.

use crate::rootfs::plan::CgroupFs;
use crate::spec::Limits;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot create cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot move the container into cgroup {path}: {source}")]
    Attach { path: PathBuf, source: io::Error },
    #[error("cannot remove cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
    #[error("cannot set the {what} limit: this machine has no {controller} cgroup controller mounted")]
    NoController { what: &'static str, controller: &'static str },
    #[error("cannot set the {what} limit in {path}: {source}")]
    Limit { what: &'static str, path: PathBuf, source: io::Error },
    #[error("cannot {verb} the container: {message}")]
    Freezer { verb: &'static str, message: String },
}

/// One limit as a write: (what, controller, file, value).
pub type LimitWrite = (&'static str, &'static str, &'static str, String);

/// The files to write for `limits`, in cgroup v2 (`v2`) or v1 terms. Pure.
pub fn limit_writes(limits: &Limits, v2: bool) -> Vec<LimitWrite> {
    const PERIOD_US: u64 = 100_000;
    let mut w = Vec::new();
    if let Some(bytes) = limits.memory_bytes {
        let file = if v2 { "memory.max" } else { "memory.limit_in_bytes" };
        w.push(("memory", "memory", file, bytes.to_string()));
    }
    if let Some(pids) = limits.pids {
        w.push(("pids", "pids", "pids.max", pids.to_string()));
    }
    if let Some(millis) = limits.cpu_millis {
        let quota = (millis * PERIOD_US / 1000).max(1000);
        if v2 {
            w.push(("cpu", "cpu", "cpu.max", format!("{quota} {PERIOD_US}")));
        } else {
            w.push(("cpu", "cpu", "cpu.cfs_period_us", PERIOD_US.to_string()));
            w.push(("cpu", "cpu", "cpu.cfs_quota_us", quota.to_string()));
        }
    }
    if let Some(total) = limits.memory_swap {
        // v2 limits swap alone; docker's --memory-swap is memory plus swap (-1: no limit on swap).
        let value = match (v2, u64::try_from(total)) {
            (true, Err(_)) => "max".to_string(),
            (false, Err(_)) => "-1".to_string(),
            (true, Ok(t)) => t.saturating_sub(limits.memory_bytes.unwrap_or(0)).to_string(),
            (false, Ok(t)) => t.to_string(),
        };
        let file = if v2 { "memory.swap.max" } else { "memory.memsw.limit_in_bytes" };
        w.push(("memory-swap", "memory", file, value));
    }
    if let Some(shares) = limits.cpu_shares {
        if v2 {
            let weight = 1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142;
            w.push(("cpu-shares", "cpu", "cpu.weight", weight.to_string()));
        } else {
            w.push(("cpu-shares", "cpu", "cpu.shares", shares.to_string()));
        }
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        w.push(("cpuset", "cpuset", "cpuset.cpus", cpus.clone()));
    }
    w
}

/// v1 controllers a container gets a cgroup in (cpuset only when it asks for CPUs: a v1 cpuset
/// cgroup must be given CPUs and memory nodes before anything can join it).
const V1_CONTROLLERS: [&str; 6] = ["pids", "memory", "cpu", "cpuacct", "devices", "freezer"];

/// The parent directories for container cgroups on this machine, e.g. /sys/fs/cgroup/sbx or
/// /sys/fs/cgroup/{pids,memory,cpu,cpuacct,devices}/sbx, and .../cpuset/sbx with `cpuset`.
pub fn hierarchies(mount: &Path, cpuset: bool) -> Vec<PathBuf> {
    if mount.join("cgroup.controllers").exists() {
        return vec![mount.join("sbx")];
    }
    V1_CONTROLLERS
        .iter()
        .chain(cpuset.then_some(&"cpuset"))
        .map(|c| mount.join(c))
        .filter(|p| p.join("cgroup.procs").exists())
        .map(|p| p.join("sbx"))
        .collect()
}

/// Whether `parents` (of [`hierarchies`]) are cgroup v2's: a process is cloned into its cgroup
/// there, which must exist first; on v1 it joins by writing to `tasks` files.
pub fn unified(parents: &[PathBuf]) -> bool {
    matches!(parents, [p] if p.parent().is_some_and(|m| m.join("cgroup.controllers").exists()))
}

/// The v1 `tasks` files of container `id`'s cgroup under `parents`.
pub fn tasks_files(parents: &[PathBuf], id: &str) -> Vec<PathBuf> {
    parents.iter().map(|p| p.join(id).join("tasks")).collect()
}

/// The hierarchies' directories (as [`hierarchies`] without `sbx`), and every other v1 hierarchy
/// that the cgroup filesystem `shown` shows the container: it gets a cgroup of its own in each, as
/// runc gives it, so that its cgroup namespace shows it that cgroup and not the host's tree.
pub fn roots(mount: &Path, cpuset: bool, shown: Option<&CgroupFs>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> =
        hierarchies(mount, cpuset).iter().filter_map(|p| p.parent()).map(Path::to_path_buf).collect();
    if let Some(CgroupFs::V1 { hierarchies: shown, .. }) = shown {
        // Co-mounted controllers may be one directory under two names.
        let known: Vec<PathBuf> = roots.iter().filter_map(|r| fs::canonicalize(r).ok()).collect();
        let more: Vec<PathBuf> = shown
            .iter()
            .map(|(dir, _)| mount.join(dir))
            .filter(|r| fs::canonicalize(r).is_ok_and(|c| !known.contains(&c)))
            .collect();
        roots.extend(more);
    }
    roots
}

/// How many processes of the cgroup `dirs` the kernel's OOM killer killed (`oom_kill` in v1's
/// memory.oom_control, v2's memory.events).
pub fn oom_kills(dirs: &[PathBuf]) -> u64 {
    let v2 = is_v2(dirs);
    let file = if v2 { "memory.events" } else { "memory.oom_control" };
    let count = |text: String| {
        text.lines().find_map(|l| l.strip_prefix("oom_kill ").and_then(|v| v.trim().parse::<u64>().ok())).unwrap_or(0)
    };
    // On v1 only the memory hierarchy (mounted or linked as `memory`, see [`hierarchies`]) has it.
    let memory = |d: &&PathBuf| v2 || d.components().any(|c| c.as_os_str() == "memory");
    dirs.iter().filter(memory).filter_map(|d| fs::read_to_string(d.join(file)).ok()).map(count).sum()
}

/// The cgroup filesystem a container of this machine gets (see [`CgroupFs`]): cgroup2, or on v1
/// (and hybrid machines, whose mostly empty v2 mount is left out, as runc does) the hierarchies
/// mounted under /sys/fs/cgroup.
pub fn container_fs(read_only: bool) -> CgroupFs {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return CgroupFs::V2 { read_only };
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    CgroupFs::V1 { read_only, hierarchies: v1_hierarchies(&mountinfo) }
}

/// `shown` with only the v1 hierarchies of the controllers that `parents` (of [`hierarchies`])
/// are directories of: a container is shown the cgroups it has, and needs no more made (which
/// [`roots`] would make). Pure.
pub fn within(shown: CgroupFs, parents: &[PathBuf]) -> CgroupFs {
    match shown {
        CgroupFs::V1 { read_only, hierarchies } => {
            let names: Vec<&str> = parents.iter().filter_map(|p| p.parent()?.file_name()?.to_str()).collect();
            let hierarchies = hierarchies.into_iter().filter(|(_, c)| c.iter().any(|c| names.contains(&c.as_str())));
            CgroupFs::V1 { read_only, hierarchies: hierarchies.collect() }
        }
        v2 => v2,
    }
}

/// What the kernel names v1 controllers (a hierarchy's other mount options are not passed on).
const KNOWN_CONTROLLERS: [&str; 14] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The v1 hierarchies mounted in directories of /sys/fs/cgroup in `mountinfo` (the format of
/// /proc/self/mountinfo): (directory, controller options). Pure.
pub fn v1_hierarchies(mountinfo: &str) -> Vec<(String, Vec<String>)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split(' ');
            let (fstype, super_options) = (right.next()?, right.nth(1)?);
            let dir = left.split(' ').nth(4)?.strip_prefix("/sys/fs/cgroup/")?;
            let controllers: Vec<String> = super_options
                .split(',')
                .filter(|o| KNOWN_CONTROLLERS.contains(o) || o.starts_with("name="))
                .map(String::from)
                .collect();
            (fstype == "cgroup" && !dir.contains(['/', '\\']) && !controllers.is_empty())
                .then(|| (dir.to_string(), controllers))
        })
        .collect()
}

/// The cgroup directories of container `id` that exist now (for exec, stats and rm).
pub fn existing(id: &str) -> Vec<PathBuf> {
    hierarchies(Path::new("/sys/fs/cgroup"), true).into_iter().map(|p| p.join(id)).filter(|d| d.exists()).collect()
}

/// Whether a container's cgroup directories `dirs` are one v2 directory.
pub fn is_v2(dirs: &[PathBuf]) -> bool {
    matches!(dirs, [dir] if dir.join("cgroup.controllers").exists())
}

/// The directory of `controller` among a container's cgroup directories: the v2 one, or on v1
/// the one in that controller's hierarchy (`/sys/fs/cgroup/<controller>/...`).
pub fn controller_dir<'a>(dirs: &'a [PathBuf], controller: &str) -> Option<&'a PathBuf> {
    if is_v2(dirs) {
        return dirs.first();
    }
    let hierarchy = Path::new("/sys/fs/cgroup").join(controller);
    dirs.iter().find(|d| d.starts_with(&hierarchy))
}

/// The way into the existing cgroups `dirs` (one v2 directory, or v1 ones), for a process that
/// joins a running container (`sbx exec`).
pub fn entry_of(dirs: &[PathBuf]) -> Result<Entry, CgroupError> {
    let attach_err = |dir: &Path| {
        let path = dir.to_path_buf();
        move |source| CgroupError::Attach { path, source }
    };
    match dirs {
        [dir] if is_v2(dirs) => {
            let fd = fs::File::options()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(dir)
                .map_err(attach_err(dir))?;
            Ok(Entry::Clone(fd.into()))
        }
        dirs => dirs
            .iter()
            .map(|d| fs::File::options().write(true).open(d.join("tasks")).map(OwnedFd::from).map_err(attach_err(d)))
            .collect::<Result<_, _>>()
            .map(Entry::Tasks),
    }
}

/// On v2 a cgroup's limits need their controllers enabled in every cgroup above it: the root's and
/// each level's down to `parent` get in `cgroup.subtree_control` those of cpu, cpuset, memory and
/// pids the machine has.
fn enable_controllers(parent: &Path) -> io::Result<()> {
    let mut levels: Vec<&Path> = parent.ancestors().take_while(|l| l.join("cgroup.controllers").exists()).collect();
    levels.reverse();
    let Some(root) = levels.first().copied().filter(|r| !r.join("cgroup.type").exists()) else { return Ok(()) };
    let available = fs::read_to_string(root.join("cgroup.controllers"))?;
    for level in levels {
        let enabled = fs::read_to_string(level.join("cgroup.subtree_control"))?;
        let missing: Vec<String> = ["cpu", "cpuset", "memory", "pids"]
            .into_iter()
            .filter(|c| available.split_whitespace().any(|a| a == *c) && !enabled.split_whitespace().any(|e| e == *c))
            .map(|c| format!("+{c}"))
            .collect();
        if !missing.is_empty() {
            fs::write(level.join("cgroup.subtree_control"), missing.join(" "))?;
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and nothing can join it: it
/// takes its parent's (the container's own `cpuset.cpus` is written with the limits).
fn inherit_cpuset(dir: &Path) -> io::Result<()> {
    let root = Path::new("/sys/fs/cgroup/cpuset");
    let Ok(below) = dir.strip_prefix(root) else { return Ok(()) };
    // Each level down from the hierarchy's root (an engine's path makes several) takes its
    // parent's CPUs and memory nodes, without which no process may join.
    let mut from = root.to_path_buf();
    for part in below.components() {
        let to = from.join(part);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if fs::read_to_string(to.join(file))?.trim().is_empty() {
                fs::write(to.join(file), fs::read_to_string(from.join(file))?.trim())?;
            }
        }
        from = to;
    }
    Ok(())
}

pub struct Cgroup {
    dirs: Vec<PathBuf>,
    /// Parent directories this value made (an engine's cgroup path), deepest first: a failed
    /// start removes them too.
    made: Vec<PathBuf>,
}

/// How the child gets into its cgroup (see the module doc).
pub enum Entry {
    /// v2: a directory descriptor for clone3's CLONE_INTO_CGROUP.
    Clone(OwnedFd),
    /// v1: one `tasks` file per hierarchy, opened for the child to write "0" into.
    Tasks(Vec<OwnedFd>),
}

impl Entry {
    /// The descriptors as clone3's cgroup and the child's `tasks` files.
    pub fn raw(&self) -> (Option<i32>, Vec<i32>) {
        match self {
            Entry::Clone(fd) => (Some(fd.as_raw_fd()), Vec::new()),
            Entry::Tasks(fds) => (None, fds.iter().map(|f| f.as_raw_fd()).collect()),
        }
    }
}

impl Cgroup {
    pub fn create(parents: &[PathBuf], id: &str) -> Result<Cgroup, CgroupError> {
        let mut cg = Cgroup { dirs: Vec::new(), made: Vec::new() };
        for parent in parents {
            let dir = parent.join(id);
            // One mkdir where the parent is there already, as sbx's is once made (see
            // `keep_parents`); otherwise the parents are made first.
            let mut made = fs::create_dir(&dir);
            if made.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
                cg.made.extend(parent.ancestors().take_while(|a| !a.exists()).map(Path::to_path_buf));
                made = fs::create_dir_all(parent).and_then(|()| fs::create_dir(&dir));
            }
            // On error `cg` drops and removes what was made so far, this cgroup included.
            made.map_err(|source| CgroupError::Create { path: dir.clone(), source })?;
            cg.dirs.push(dir.clone());
            // Best effort: a controller it could not enable shows as a limit it cannot set.
            let _ = enable_controllers(parent);
            inherit_cpuset(&dir).map_err(|source| CgroupError::Create { path: dir, source })?;
        }
        Ok(cg)
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Leaves the parent directories it made in place, whatever happens to the cgroup: sbx's own
    /// (`/sys/fs/cgroup/CONTROLLER/sbx`) stays once made, as docker's does. Removing it at each
    /// container's end cost a run 0.6 ms here (v1: six rmdirs, then six mkdirs at the next run)
    /// and raced with a concurrent run making its cgroup in it.
    pub fn keep_parents(mut self) -> Cgroup {
        self.made.clear();
        self
    }

    /// Keeps the cgroup past this value (a runtime container's outlives the `create` that made
    /// it; `delete` removes its directories).
    pub fn keep(mut self) {
        self.dirs.clear();
        self.made.clear();
    }

    fn is_v2(&self) -> bool {
        is_v2(&self.dirs)
    }

    /// Whether the kernel's OOM killer killed a process of the cgroup.
    pub fn oom_killed(&self) -> bool {
        oom_kills(&self.dirs) > 0
    }

    /// Writes the container's resource limits before it starts.
    pub fn set_limits(&self, limits: &Limits) -> Result<(), CgroupError> {
        write_limits(&self.dirs, limits)
    }

    /// Lets the container use only the devices of `allow` (lines of the v1 `devices.allow`
    /// format, see [`crate::spec::security::device_rules`]), everything else denied: v1
    /// writes them to the devices controller, v2 attaches them as a BPF program.
    pub fn set_devices(&self, allow: &[String]) -> Result<(), CgroupError> {
        let what = "device";
        if self.is_v2() {
            let dir = &self.dirs[0];
            let rules: Vec<_> = allow.iter().filter_map(|l| super::devices::parse(l)).collect();
            let attach = fs::File::open(dir).and_then(|d| super::devices::attach(&d, &super::devices::program(&rules)));
            return attach.map_err(|source| CgroupError::Limit { what, path: dir.clone(), source });
        }
        let dir =
            controller_dir(&self.dirs, "devices").ok_or(CgroupError::NoController { what, controller: "devices" })?;
        let err = |path: PathBuf| move |source| CgroupError::Limit { what, path, source };
        let (deny, allow_path) = (dir.join("devices.deny"), dir.join("devices.allow"));
        fs::write(&deny, "a").map_err(err(deny))?;
        // One rule per write(2), through one open file.
        let mut file = fs::File::options().write(true).open(&allow_path).map_err(err(allow_path.clone()))?;
        allow.iter().try_for_each(|rule| io::Write::write_all(&mut file, rule.as_bytes())).map_err(err(allow_path))
    }

    pub fn entry(&self) -> Result<Entry, CgroupError> {
        entry_of(&self.dirs)
    }

    /// Removes the cgroups. Processes of a dead PID namespace may take a moment to leave, so a
    /// busy cgroup is retried for up to a second.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        remove_dirs(std::mem::take(&mut self.dirs))?;
        self.remove_made();
        Ok(())
    }

    fn remove_made(&mut self) {
        for dir in std::mem::take(&mut self.made) {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Writes `limits` to the cgroup directories `dirs`, before the container starts or while it
/// runs (`update`). A write the kernel refuses is tried again after the others, as some depend on
/// their order (v1's memory limit may not exceed memory plus swap, which may be raised after it).
pub fn write_limits(dirs: &[PathBuf], limits: &Limits) -> Result<(), CgroupError> {
    let v2 = is_v2(dirs);
    let mut refused = Vec::new();
    for (what, controller, file, value) in limit_writes(limits, v2) {
        let dir = controller_dir(dirs, controller).ok_or(CgroupError::NoController { what, controller })?;
        let path = dir.join(file);
        if v2 && !path.exists() {
            return Err(CgroupError::NoController { what, controller });
        }
        if fs::write(&path, &value).is_err() {
            refused.push((what, path, value));
        }
    }
    for (what, path, value) in refused {
        fs::write(&path, &value).map_err(|source| CgroupError::Limit { what, path, source })?;
    }
    Ok(())
}

/// Whether the container whose cgroup directories are `dirs` is frozen (paused), by the v2
/// `cgroup.events` or the v1 freezer's state.
pub fn frozen(dirs: &[PathBuf]) -> bool {
    if is_v2(dirs) {
        let events = fs::read_to_string(dirs[0].join("cgroup.events")).unwrap_or_default();
        return events.lines().any(|l| l.trim() == "frozen 1");
    }
    controller_dir(dirs, "freezer")
        .and_then(|d| fs::read_to_string(d.join("freezer.state")).ok())
        .is_some_and(|s| s.trim() == "FROZEN")
}

/// Freezes (`freeze`) or thaws every process of the cgroup `dirs` and waits until the kernel says
/// it is done (both freezers work asynchronously); a freeze that does not finish within five
/// seconds is undone and reported.
pub fn set_frozen(dirs: &[PathBuf], freeze: bool) -> Result<(), CgroupError> {
    let verb = if freeze { "pause" } else { "resume" };
    let fail = |message: String| CgroupError::Freezer { verb, message };
    let (file, value) = match is_v2(dirs) {
        true => (dirs[0].join("cgroup.freeze"), if freeze { "1" } else { "0" }),
        false => {
            let dir = controller_dir(dirs, "freezer")
                .ok_or_else(|| fail("this machine has no freezer cgroup controller mounted".into()))?;
            (dir.join("freezer.state"), if freeze { "FROZEN" } else { "THAWED" })
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        // v1 may stop at FREEZING when a process forks meanwhile: writing again goes on.
        fs::write(&file, value).map_err(|e| fail(format!("{}: {e}", file.display())))?;
        if frozen(dirs) == freeze {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            if freeze {
                let _ = set_frozen(dirs, false);
            }
            return Err(fail(format!("{} did not reach the state asked within 5 s", file.display())));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The processes in the cgroup `dirs` (each hierarchy's `cgroup.procs`; the same in all of them
/// but for one moving in), sorted.
pub fn processes(dirs: &[PathBuf]) -> Vec<i32> {
    let mut pids: Vec<i32> = dirs
        .iter()
        .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<i32>>())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Kills every process left in the cgroup `dirs` and waits, up to a second, until none is: a
/// container whose PID namespace is not its own (`--pid host|container:`) keeps what it started
/// when its first process ends.
pub fn kill_all(dirs: &[PathBuf]) {
    for _ in 0..100 {
        let pids = processes(dirs);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes a container's cgroup directories. A cgroup whose last process was just killed stays busy
/// until the kernel has finished that process's exit: each removal is retried for up to a second.
pub fn remove_dirs(dirs: Vec<PathBuf>) -> Result<(), CgroupError> {
    for dir in dirs {
        let mut tries = 0;
        loop {
            match fs::remove_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(source) => return Err(CgroupError::Remove { path: dir, source }),
            }
        }
    }
    Ok(())
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
        self.remove_made();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn v1_hierarchies_come_from_the_mounts_under_sys_fs_cgroup_with_their_controllers() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,xattr,cpu,cpuacct
33 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
34 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
35 23 0:39 / /mnt/other rw,relatime - cgroup cgroup rw,pids
36 31 0:40 / /sys/fs/cgroup/odd\\040dir rw,relatime - cgroup cgroup rw,memory";
        assert_eq!(
            v1_hierarchies(mountinfo),
            [
                ("cpu,cpuacct".to_string(), vec!["cpu".to_string(), "cpuacct".to_string()]),
                ("systemd".to_string(), vec!["name=systemd".to_string()]),
            ]
        );
    }

    use super::*;

    #[test]
    fn a_container_is_shown_the_v1_hierarchies_it_has_a_cgroup_in() {
        let shown = CgroupFs::V1 {
            read_only: true,
            hierarchies: vec![
                ("cpu,cpuacct".into(), vec!["cpu".into(), "cpuacct".into()]),
                ("blkio".into(), vec!["blkio".into()]),
                ("systemd".into(), vec!["name=systemd".into()]),
                ("pids".into(), vec!["pids".into()]),
            ],
        };
        let parents = [PathBuf::from("/sys/fs/cgroup/pids/sbx"), PathBuf::from("/sys/fs/cgroup/cpu/sbx")];
        let CgroupFs::V1 { hierarchies, .. } = within(shown, &parents) else { panic!("v1 stays v1") };
        assert_eq!(hierarchies.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(), ["cpu,cpuacct", "pids"]);
        assert_eq!(within(CgroupFs::V2 { read_only: true }, &parents), CgroupFs::V2 { read_only: true });
    }

    #[test]
    fn limits_in_v1_and_v2_terms() {
        let l = Limits { memory_bytes: Some(64 << 20), pids: Some(50), cpu_millis: Some(1500), ..Default::default() };
        let files = |v2| limit_writes(&l, v2).into_iter().map(|(_, _, f, v)| format!("{f}={v}")).collect::<Vec<_>>();
        assert_eq!(
            files(false),
            ["memory.limit_in_bytes=67108864", "pids.max=50", "cpu.cfs_period_us=100000", "cpu.cfs_quota_us=150000"]
        );
        assert_eq!(files(true), ["memory.max=67108864", "pids.max=50", "cpu.max=150000 100000"]);
        assert!(limit_writes(&Limits::default(), false).is_empty());
        let more = Limits {
            memory_bytes: Some(32 << 20),
            memory_swap: Some(64 << 20),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0-1".into()),
            ..Default::default()
        };
        let files = |v2| limit_writes(&more, v2).into_iter().map(|(_, _, f, v)| format!("{f}={v}")).collect::<Vec<_>>();
        assert_eq!(files(false)[1..], ["memory.memsw.limit_in_bytes=67108864", "cpu.shares=512", "cpuset.cpus=0-1"]);
        assert_eq!(files(true)[1..], ["memory.swap.max=33554432", "cpu.weight=20", "cpuset.cpus=0-1"]);
        let unlimited = Limits { memory_swap: Some(-1), ..more };
        assert_eq!(limit_writes(&unlimited, true)[1].3, "max");
    }
}
