//! host/link-ordered.sh, the linker of the sbx binary, on objects compiled here: the functions its
//! list names go first in the text, in the list's order, matched by name and size; one whose size
//! changed is still placed when its name is the only one of that name in the list and in the
//! objects; a name that two functions share is placed only by its size. Needs cc, nm and rustc's
//! own lld (the linker rustc gives the sbx binary), as building sbx does.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The directory holding rustc's `ld.lld` for cc's `-B` (how rustc links with its own lld).
fn rust_lld_dir() -> PathBuf {
    let sysroot = run(Command::new("rustc").args(["--print", "sysroot"]));
    let dir = Path::new(sysroot.trim()).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld");
    assert!(dir.join("ld.lld").exists(), "rustc's lld is not at {}", dir.display());
    dir
}

/// The sizes (hex, without leading zeros, as the list gives them) of the functions named `name` in
/// `object`.
fn sizes(object: &Path, name: &str) -> Vec<String> {
    run(Command::new("nm").args(["--defined-only", "--format=posix"]).arg(object))
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 4 && w[0] == name)
        .map(|w| w[3].trim_start_matches('0').to_string())
        .collect()
}

/// A scratch directory, removed when dropped (also when an assertion fails).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn listed_functions_go_first_by_name_and_size_or_by_a_unique_name() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("host/link-ordered.sh is used on x86_64 only");
        return;
    }
    let scratch = Scratch(std::env::temp_dir().join(format!("sbx-link-order-{}", std::process::id())));
    let dir = scratch.0.clone();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("link-ordered.sh");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/link-ordered.sh"), &script).unwrap();
    // Functions named as rustc names Rust functions (a hash before the final `E`), which the list
    // names without it. Each body differs so that each has its own size. The two `helper`s, in
    // two objects, differ only in their hashes.
    let (exact, resized, unlisted) = ("_ZN4test5exact", "_ZN4test7resized", "_ZN4test8unlisted");
    let helper = "_ZN4test6helper";
    std::fs::write(
        dir.join("a.c"),
        format!(
            "static int {helper}17h00000000000000aaE(int x) {{ return x * 3 + 1; }}\n\
             int {exact}17h0000000000000001E(int x) {{ return {helper}17h00000000000000aaE(x) + 2; }}\n\
             int {resized}17h0000000000000002E(int x) {{ return x > 7 ? x * x : x - 5; }}\n\
             int {unlisted}17h0000000000000003E(int x) {{ return x ^ 0x55; }}\n\
             int other(int);\n\
             int main(int argc, char **argv) {{ (void)argv; return {exact}17h0000000000000001E(argc)\
             + {resized}17h0000000000000002E(argc) + {unlisted}17h0000000000000003E(argc) + other(argc); }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("b.c"),
        format!(
            "static int {helper}17h00000000000000bbE(int x) {{ return x - 9; }}\n\
             int other(int x) {{ return {helper}17h00000000000000bbE(x); }}\n"
        ),
    )
    .unwrap();
    for c in ["a", "b"] {
        run(Command::new("cc")
            .args(["-c", "-O1", "-fno-inline", "-ffunction-sections", "-o"])
            .arg(dir.join(format!("{c}.o")))
            .arg(dir.join(format!("{c}.c"))));
    }
    let (a, b) = (dir.join("a.o"), dir.join("b.o"));
    let size = |object: &Path, name: &str| sizes(object, name).pop().unwrap_or_else(|| panic!("no {name}"));
    let exact_size = size(&a, &format!("{exact}17h0000000000000001E"));
    // `resized` and the `helper`s are listed with a size no function has, `exact` with its own;
    // the list's order is the reverse of the objects'.
    std::fs::write(
        dir.join("link-order.txt"),
        format!("# test\n{helper} fff0\n{resized} fff0\n{exact} {exact_size}\n"),
    )
    .unwrap();
    let prog = dir.join("prog");
    run(Command::new(&script).arg(&a).arg(&b).arg("-o").arg(&prog).arg("-fuse-ld=lld").arg("-B").arg(rust_lld_dir()));
    let text: Vec<String> = run(Command::new("nm").args(["-n", "--defined-only"]).arg(&prog))
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "t" | "T", name] => Some(name.to_string()),
            _ => None,
        })
        .collect();
    let at =
        |name: &str| text.iter().position(|n| n.starts_with(name)).unwrap_or_else(|| panic!("{name} not in {text:?}"));
    assert_eq!(at(resized), 0, "the function of a unique name goes first, as the list says: {text:?}");
    assert_eq!(at(exact), 1, "the function of the listed size comes next: {text:?}");
    assert!(at(helper) > 1, "a name two functions share is not placed without its size: {text:?}");
    assert!(at(unlisted) > 1, "{text:?}");
}
