//! Seccomp: which rules of a profile ([`crate::spec::seccomp`]) apply to a container ([`select`], pure: its
//! capabilities, the architecture, the kernel), and their compilation to a BPF program by
//! libseccomp ([`compile`]) that the child loads just before exec.

use crate::spec::seccomp::{Arg, DEFAULT_PROFILE, Profile, Rule, SeccompError};

/// The architecture sbx runs on, in the names profiles use: (libseccomp's, Go's).
pub fn native_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
        "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
        "x86" => ("SCMP_ARCH_X86", "386"),
        "arm" => ("SCMP_ARCH_ARM", "arm"),
        "riscv64" => ("SCMP_ARCH_RISCV64", "riscv64"),
        "s390x" => ("SCMP_ARCH_S390X", "s390x"),
        "powerpc64" => ("SCMP_ARCH_PPC64LE", "ppc64le"),
        other => ("SCMP_ARCH_NATIVE", other),
    }
}

fn cap_name(c: &str) -> String {
    let upper = c.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").map(str::to_string).unwrap_or(upper)
}

fn version(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether `rule` applies to a container with `caps` on architecture `arch` (Go's name) and
/// `kernel`, as docker decides it. Pure.
pub fn applies(rule: &Rule, caps: &[String], arch: &str, kernel: (u32, u32)) -> bool {
    let held: Vec<String> = caps.iter().map(|c| cap_name(c)).collect();
    let has = |c: &String| held.contains(&cap_name(c));
    let (inc, exc) = (&rule.includes, &rule.excludes);
    let included = (inc.arches.is_empty() || inc.arches.iter().any(|a| a == arch))
        && inc.caps.iter().all(has)
        && inc.min_kernel.as_deref().is_none_or(|m| kernel >= version(m));
    let excluded = exc.arches.iter().any(|a| a == arch)
        || exc.caps.iter().any(has)
        || exc.min_kernel.as_deref().is_some_and(|m| kernel >= version(m));
    included && !excluded
}

/// The architectures the filter covers: the native one and its sub-architectures (so a 32-bit
/// entry point cannot go around the filter), or the profile's older `architectures` list.
pub fn arches(profile: &Profile, native: &str) -> Vec<String> {
    if let Some(m) = profile.arch_map.iter().find(|m| m.architecture == native) {
        return std::iter::once(m.architecture.clone()).chain(m.sub_architectures.iter().cloned()).collect();
    }
    if profile.architectures.iter().any(|a| a == native) {
        return profile.architectures.clone();
    }
    vec![native.to_string()]
}

/// The rules that apply, in the profile's order.
pub fn select<'a>(profile: &'a Profile, caps: &[String], kernel: (u32, u32)) -> Vec<&'a Rule> {
    let arch = native_arch().1;
    profile.syscalls.iter().filter(|r| applies(r, caps, arch, kernel)).collect()
}

fn action(name: &str, errno: Option<u32>, default_errno: u32) -> Result<libseccomp::ScmpAction, SeccompError> {
    use libseccomp::ScmpAction as A;
    Ok(match name {
        "SCMP_ACT_ALLOW" => A::Allow,
        "SCMP_ACT_ERRNO" => A::Errno(errno.unwrap_or(default_errno) as i32),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => A::KillThread,
        "SCMP_ACT_KILL_PROCESS" => A::KillProcess,
        "SCMP_ACT_TRAP" => A::Trap,
        "SCMP_ACT_LOG" => A::Log,
        "SCMP_ACT_TRACE" => A::Trace(errno.unwrap_or(0) as u16),
        "SCMP_ACT_NOTIFY" => return Err(SeccompError::Unsupported(name.to_string())),
        other => return Err(SeccompError::Action(other.to_string())),
    })
}

fn compare(arg: &Arg) -> Result<libseccomp::ScmpArgCompare, SeccompError> {
    use libseccomp::ScmpCompareOp as Op;
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => Op::NotEqual,
        "SCMP_CMP_LT" => Op::Less,
        "SCMP_CMP_LE" => Op::LessOrEqual,
        "SCMP_CMP_EQ" => Op::Equal,
        "SCMP_CMP_GE" => Op::GreaterEqual,
        "SCMP_CMP_GT" => Op::Greater,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEqual(arg.value),
        other => return Err(SeccompError::Op(other.to_string())),
    };
    let datum = if arg.op == "SCMP_CMP_MASKED_EQ" { arg.value_two } else { arg.value };
    Ok(libseccomp::ScmpArgCompare::new(arg.index, op, datum))
}

fn arch(name: &str) -> Result<libseccomp::ScmpArch, SeccompError> {
    use libseccomp::ScmpArch as A;
    Ok(match name {
        "SCMP_ARCH_NATIVE" => A::Native,
        "SCMP_ARCH_X86" => A::X86,
        "SCMP_ARCH_X86_64" => A::X8664,
        "SCMP_ARCH_X32" => A::X32,
        "SCMP_ARCH_ARM" => A::Arm,
        "SCMP_ARCH_AARCH64" => A::Aarch64,
        "SCMP_ARCH_MIPS" => A::Mips,
        "SCMP_ARCH_MIPS64" => A::Mips64,
        "SCMP_ARCH_MIPS64N32" => A::Mips64N32,
        "SCMP_ARCH_MIPSEL" => A::Mipsel,
        "SCMP_ARCH_MIPSEL64" => A::Mipsel64,
        "SCMP_ARCH_MIPSEL64N32" => A::Mipsel64N32,
        "SCMP_ARCH_PPC" => A::Ppc,
        "SCMP_ARCH_PPC64" => A::Ppc64,
        "SCMP_ARCH_PPC64LE" => A::Ppc64Le,
        "SCMP_ARCH_S390" => A::S390,
        "SCMP_ARCH_S390X" => A::S390X,
        "SCMP_ARCH_RISCV64" => A::Riscv64,
        other => return Err(SeccompError::Arch(other.to_string())),
    })
}

/// Whether this kernel serves x32 system calls (x86_64's ILP32 entry point, bit 30 of the
/// number): Debian's and most distributions' kernels build it but leave it off, and then such a
/// call fails with ENOSYS. A call any filter of sbx's own parent refuses counts as served.
pub fn kernel_serves_x32() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        const X32_GETPID: libc::c_long = 0x4000_0000 | libc::SYS_getpid;
        // SAFETY: getpid through the x32 entry point takes no arguments, touches no memory and
        // either returns the pid or fails with ENOSYS (or what a parent's filter says).
        let pid = unsafe { libc::syscall(X32_GETPID) };
        pid >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS)
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The BPF program of `profile` for a container holding `caps` on a `kernel` that serves x32
/// calls or not ([`kernel_serves_x32`]), as 8-byte `sock_filter`s. Syscall names this libseccomp
/// does not know are skipped (as docker does); rules whose action is the default one are
/// redundant and skipped.
///
/// Where the kernel does not serve x32, the filter has no x32 part (a third of docker's profile's
/// program, whose length the kernel's JIT pays at every run) and answers an x32 call with the
/// ENOSYS the kernel would give.
pub fn compile(profile: &Profile, caps: &[String], kernel: (u32, u32), x32: bool) -> Result<Vec<u64>, SeccompError> {
    use libseccomp::{ScmpFilterContext, ScmpSyscall};
    let build = |e: libseccomp::error::SeccompError| SeccompError::Build(e.to_string());
    let default_errno = profile.default_errno_ret.unwrap_or(libc::EPERM as u32);
    let default = action(&profile.default_action, profile.default_errno_ret, default_errno)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(build)?;
    // No SCMP_FLTATR_CTL_NNP: the child sets no_new_privs itself when the spec asks for it.
    ctx.set_ctl_nnp(false).map_err(build)?;
    // A binary tree over syscall numbers instead of one long list: the kernel's load-time work
    // (the allow cache walks the filter for every syscall number) and each syscall's check both
    // follow the path length, not the filter's size.
    ctx.set_ctl_optimize(2).map_err(build)?;
    let native = native_arch().0;
    let mut covered = arches(profile, native);
    if !x32 && covered.iter().any(|a| a == "SCMP_ARCH_X32") {
        covered.retain(|a| a != "SCMP_ARCH_X32");
        ctx.set_act_badarch(libseccomp::ScmpAction::Errno(libc::ENOSYS)).map_err(build)?;
    }
    for a in covered {
        let a = arch(&a)?;
        if a != libseccomp::ScmpArch::Native && !ctx.is_arch_present(a).map_err(build)? {
            ctx.add_arch(a).map_err(build)?;
        }
    }
    for rule in select(profile, caps, kernel) {
        let act = action(&rule.action, rule.errno_ret, default_errno)?;
        if act == default {
            continue;
        }
        let comparisons = rule.args.iter().map(compare).collect::<Result<Vec<_>, _>>()?;
        for name in rule.names.iter().chain(&rule.name) {
            let Ok(syscall) = ScmpSyscall::from_name(name) else { continue };
            ctx.add_rule_conditional(act, syscall, &comparisons)
                .map_err(|e| SeccompError::Rule { name: name.clone(), message: e.to_string() })?;
        }
    }
    export(&ctx)
}

/// [`compile`], through a cache in `dir`: libseccomp takes ~15 ms for the default profile, a cached
/// program is one small read. The key holds everything the program depends on: the profile, the
/// capabilities, the kernel, the architecture and libseccomp's version. A cache that cannot be
/// written only costs the next run the compile.
///
/// `profile` None is the default profile, keyed by [`DEFAULT_PROFILE_HASH`] and parsed only on a
/// miss: the common run neither parses, serializes nor hashes its 12 KB (the key's JSON and its
/// digest took 105 us of each run with the text in them, uprobes on 40 runs).
pub fn compile_cached(
    dir: &std::path::Path,
    profile: Option<&Profile>,
    caps: &[String],
    kernel: (u32, u32),
    x32: bool,
) -> Result<Vec<u64>, SeccompError> {
    let lib = libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro));
    let input = serde_json::json!({
        "format": 4,
        "x32": x32,
        "libseccomp": lib.unwrap_or_default(),
        "arch": native_arch().0,
        "kernel": [kernel.0, kernel.1],
        "caps": caps,
        "profile": match profile {
            Some(p) => serde_json::to_value(p).expect("serializable"),
            None => serde_json::Value::String(format!("default {DEFAULT_PROFILE_HASH:016x}")),
        },
    });
    let key = crate::image::Digest::of(input.to_string().as_bytes()).hex().to_string();
    let path = dir.join(format!("{key}.bpf"));
    if let Ok(bytes) = std::fs::read(&path)
        && !bytes.is_empty()
        && bytes.len() % 8 == 0
    {
        return Ok(bytes.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes"))).collect());
    }
    let program = match profile {
        Some(p) => compile(p, caps, kernel, x32)?,
        None => compile(&Profile::default_profile(), caps, kernel, x32)?,
    };
    let bytes: Vec<u8> = program.iter().flat_map(|i| i.to_ne_bytes()).collect();
    let _ = std::fs::create_dir_all(dir);
    let _ = crate::image::store::write_atomic_unsynced(&path, &bytes);
    Ok(program)
}

/// The default profile's text as a number, computed when sbx is compiled (64-bit FNV-1a: a few
/// lines rather than a crate, for a text sbx itself embeds; it only has to change when the text
/// does), for the cache's key.
const DEFAULT_PROFILE_HASH: u64 = fnv1a(DEFAULT_PROFILE.as_bytes());

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The filter's BPF, through a memfd (libseccomp 2.5 exports only to a descriptor).
fn export(ctx: &libseccomp::ScmpFilterContext) -> Result<Vec<u64>, SeccompError> {
    use std::io::{Read, Seek};
    let fd = nix::sys::memfd::memfd_create(c"sbx-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| SeccompError::Build(e.to_string()))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file).map_err(|e| SeccompError::Build(e.to_string()))?;
    let mut bytes = Vec::new();
    file.rewind().and_then(|()| file.read_to_end(&mut bytes)).map_err(|e| SeccompError::Build(e.to_string()))?;
    Ok(bytes.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes"))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::seccomp::Filter;

    fn caps(v: &[&str]) -> Vec<String> {
        v.iter().map(|c| c.to_string()).collect()
    }

    fn rule_for<'a>(p: &'a Profile, name: &str, held: &[String]) -> Vec<&'a Rule> {
        select(p, held, (6, 1)).into_iter().filter(|r| r.names.iter().any(|n| n == name)).collect()
    }

    #[test]
    fn the_default_profile_denies_what_docker_denies() {
        let p = Profile::default_profile();
        let docker = caps(&crate::spec::caps::DEFAULT);
        for denied in ["keyctl", "add_key", "request_key", "bpf", "kexec_load", "open_by_handle_at", "mount", "umount2"]
        {
            assert!(rule_for(&p, denied, &docker).is_empty(), "{denied} is allowed");
        }
        for denied in ["unshare", "setns", "init_module", "reboot", "userfaultfd", "io_uring_setup", "clock_settime"] {
            assert!(rule_for(&p, denied, &docker).is_empty(), "{denied} is allowed");
        }
        for allowed in ["read", "execve", "clone", "chroot", "socket", "ptrace", "personality"] {
            assert!(!rule_for(&p, allowed, &docker).is_empty(), "{allowed} is denied");
        }
        let clone = rule_for(&p, "clone", &docker);
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args[0].op, "SCMP_CMP_MASKED_EQ", "clone only without namespace flags");
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let p = Profile::default_profile();
        let admin = caps(&["CAP_SYS_ADMIN"]);
        assert!(!rule_for(&p, "mount", &admin).is_empty());
        assert!(!rule_for(&p, "unshare", &admin).is_empty());
        let clone = rule_for(&p, "clone", &admin);
        assert!(clone.iter().all(|r| r.args.is_empty()), "any clone with CAP_SYS_ADMIN");
        assert!(!rule_for(&p, "init_module", &caps(&["SYS_MODULE"])).is_empty(), "names with or without CAP_");
        assert!(rule_for(&p, "chroot", &[]).is_empty(), "no CAP_SYS_CHROOT, no chroot");
    }

    #[test]
    fn includes_and_excludes_read_as_dockers() {
        let rule = |includes: Filter, excludes: Filter| Rule {
            names: vec!["x".into()],
            name: None,
            action: "SCMP_ACT_ALLOW".into(),
            errno_ret: None,
            args: vec![],
            includes,
            excludes,
        };
        let arches = |a: &[&str]| Filter { arches: a.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        assert!(applies(&rule(arches(&["amd64"]), Filter::default()), &[], "amd64", (6, 1)));
        assert!(!applies(&rule(arches(&["arm64"]), Filter::default()), &[], "amd64", (6, 1)));
        assert!(!applies(&rule(Filter::default(), arches(&["amd64"])), &[], "amd64", (6, 1)));
        let min = Filter { min_kernel: Some("4.8".into()), ..Default::default() };
        assert!(applies(&rule(min.clone(), Filter::default()), &[], "amd64", (4, 8)));
        assert!(!applies(&rule(min, Filter::default()), &[], "amd64", (4, 7)));
    }

    #[test]
    fn a_profile_compiles_and_bad_ones_are_named() {
        let p = Profile::default_profile();
        let bpf = compile(&p, &caps(&crate::spec::caps::DEFAULT), (6, 1), true).unwrap();
        assert!(bpf.len() > 100, "{} instructions", bpf.len());
        if cfg!(target_arch = "x86_64") {
            let without_x32 = compile(&p, &caps(&crate::spec::caps::DEFAULT), (6, 1), false).unwrap();
            assert!(without_x32.len() < bpf.len() * 3 / 4, "{} -> {}", bpf.len(), without_x32.len());
        }
        let bad = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_DANCE"}]}"#,
            "p.json",
        )
        .unwrap();
        assert!(matches!(compile(&bad, &[], (6, 1), true), Err(SeccompError::Action(a)) if a == "SCMP_ACT_DANCE"));
        let err = Profile::parse("{", "p.json").unwrap_err().to_string();
        assert!(err.starts_with("seccomp profile p.json:"), "{err}");
        let notify = Profile::parse(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#, "p.json").unwrap();
        assert!(matches!(compile(&notify, &[], (6, 1), true), Err(SeccompError::Unsupported(_))));
    }

    #[test]
    fn the_default_profile_is_cached_under_a_key_of_its_own() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        let dir = tempfile::tempdir().unwrap();
        let held = caps(&crate::spec::caps::DEFAULT);
        let programs = || std::fs::read_dir(dir.path()).unwrap().count();
        let fresh = compile_cached(dir.path(), None, &held, (6, 1), false).unwrap();
        assert_eq!(fresh, compile(&Profile::default_profile(), &held, (6, 1), false).unwrap());
        assert_eq!(programs(), 1);
        assert_eq!(compile_cached(dir.path(), None, &held, (6, 1), false).unwrap(), fresh, "read from the cache");
        assert_eq!(programs(), 1);
        // The same profile given as a file is keyed by its content: another entry, the same program.
        let given = compile_cached(dir.path(), Some(&Profile::default_profile()), &held, (6, 1), false).unwrap();
        assert_eq!((given, programs()), (fresh.clone(), 2));
        // What the program depends on is in the key.
        let fewer = compile_cached(dir.path(), None, &caps(&["CAP_CHOWN"]), (6, 1), false).unwrap();
        assert_eq!(programs(), 3);
        assert_ne!(fewer, fresh);
    }
}
