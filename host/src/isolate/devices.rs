//! The device cgroup on cgroup v2, which has no devices.allow file: a BPF program of type
//! CGROUP_DEVICE attached to the container's cgroup decides every open and mknod of a device node.
//! [`program`] turns the v1-style allow lines ([`crate::spec::security::device_rules`]) into
//! that program (pure); [`attach`] loads it and attaches it to a cgroup directory.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One allow line: `TYPE MAJOR:MINOR ACCESS`, `a` and `*` matching anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// BPF_DEVCG_DEV_BLOCK (1) or BPF_DEVCG_DEV_CHAR (2); None for `a`.
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// BPF_DEVCG_ACC_MKNOD (1) | READ (2) | WRITE (4).
    pub access: u32,
}

pub fn parse(line: &str) -> Option<Rule> {
    let mut parts = line.split_whitespace();
    let kind = match parts.next()? {
        "a" => None,
        "b" => Some(1),
        "c" => Some(2),
        _ => return None,
    };
    let (major, minor) = parts.next().unwrap_or("*:*").split_once(':')?;
    let number = |n: &str| if n == "*" { Ok(None) } else { n.parse().map(Some) };
    let access = parts.next().unwrap_or("rwm").chars().try_fold(0, |a, c| match c {
        'm' => Some(a | 1),
        'r' => Some(a | 2),
        'w' => Some(a | 4),
        _ => None,
    })?;
    Some(Rule { kind, major: number(major).ok()?, minor: number(minor).ok()?, access })
}

/// One BPF instruction (struct bpf_insn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// dst in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND_K: u8 = 0x57; // r_dst &= imm
const RSH_K: u8 = 0x77; // r_dst >>= imm
const MOV_X: u8 = 0xbf; // r_dst = r_src
const MOV_K: u8 = 0xb7; // r_dst = imm
const JNE_K: u8 = 0x55; // if r_dst != imm: skip off
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: dst | (src << 4), off, imm }
}

/// The program: r2 = type, r3 = access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx); each
/// rule in turn returns 1 (allow) when it matches; 0 (deny) when none does.
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        // The tests of this rule, each jumping past the rule's allow when it fails.
        let mut tests = Vec::new();
        if let Some(kind) = rule.kind {
            tests.push(vec![insn(JNE_K, 2, 0, 0, kind as i32)]);
        }
        if rule.access != 7 {
            // Any access bit the rule does not grant: no match.
            tests.push(vec![
                insn(MOV_X, 1, 3, 0, 0),
                insn(AND_K, 1, 0, 0, !rule.access as i32 & 7),
                insn(JNE_K, 1, 0, 0, 0),
            ]);
        }
        if let Some(major) = rule.major {
            tests.push(vec![insn(JNE_K, 4, 0, 0, major as i32)]);
        }
        if let Some(minor) = rule.minor {
            tests.push(vec![insn(JNE_K, 5, 0, 0, minor as i32)]);
        }
        let mut block: Vec<Insn> = tests.into_iter().flatten().collect();
        block.extend([insn(MOV_K, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0)]);
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.extend([insn(MOV_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

fn bpf(cmd: libc::c_long, attr: &[u64; 16]) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, zero-padded union bpf_attr of the size passed; the pointers it
    // holds (instructions, license) outlive the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_ptr(), size_of_val(attr)) };
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Loads `program` and attaches it to the v2 cgroup directory `cgroup`; it stays attached (and
/// goes with the cgroup) after the descriptors close.
pub fn attach(cgroup: &std::fs::File, program: &[Insn]) -> io::Result<()> {
    let license = c"Apache-2.0";
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license; the rest zero.
    let mut load = [0u64; 16];
    load[0] = u64::from(BPF_PROG_TYPE_CGROUP_DEVICE) | (program.len() as u64) << 32;
    load[1] = program.as_ptr() as u64;
    load[2] = license.as_ptr() as u64;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    let prog = unsafe { OwnedFd::from_raw_fd(bpf(BPF_PROG_LOAD, &load)? as i32) };
    // For BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
    let mut at = [0u64; 16];
    at[0] = cgroup.as_raw_fd() as u64 | (prog.as_raw_fd() as u64) << 32;
    at[1] = u64::from(BPF_CGROUP_DEVICE);
    bpf(BPF_PROG_ATTACH, &at).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one device access, for the few instructions it uses.
    fn run(p: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | kind, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                AND_K => r[dst] &= i.imm as i64 as u64,
                RSH_K => r[dst] >>= i.imm,
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = i.imm as i64 as u64,
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K => {}
                EXIT => return r[0],
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    fn rules(lines: &[&str]) -> Vec<Rule> {
        lines.iter().map(|l| parse(l).unwrap()).collect()
    }

    #[test]
    fn the_program_allows_exactly_what_the_rules_allow() {
        let p = program(&rules(&["c *:* m", "b *:* m", "c 1:3 rwm", "c 136:* rw", "b 8:0 r"]));
        let (char, block) = (2, 1);
        let (mknod, read, write) = (1, 2, 4);
        assert_eq!(run(&p, char, read | write, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, char, mknod, 1, 11), 1, "mknod of any node");
        assert_eq!(run(&p, char, read, 1, 11), 0, "but not opening it");
        assert_eq!(run(&p, char, read | write, 136, 7), 1, "a pts");
        assert_eq!(run(&p, char, mknod, 136, 7), 1, "mknod by the catch-all");
        assert_eq!(run(&p, block, read, 8, 0), 1, "the --device, read");
        assert_eq!(run(&p, block, write, 8, 0), 0, "not written");
        assert_eq!(run(&p, block, read, 8, 1), 0, "another partition");
        assert_eq!(run(&p, char, read, 8, 0), 0, "the same numbers as a character device");
        let all = program(&rules(&["a *:* rwm"]));
        assert_eq!(run(&all, block, read | write, 254, 0), 1);
        assert_eq!(run(&program(&[]), char, read, 1, 3), 0, "no rule, nothing");
    }

    #[test]
    fn allow_lines_parse() {
        assert_eq!(parse("c 1:3 rwm"), Some(Rule { kind: Some(2), major: Some(1), minor: Some(3), access: 7 }));
        assert_eq!(parse("a *:* m"), Some(Rule { kind: None, major: None, minor: None, access: 1 }));
        assert_eq!(parse("x 1:3 r"), None);
        assert_eq!(parse("c 1:3 rx"), None);
    }
}
