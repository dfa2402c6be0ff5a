//! `sbx cp` both ways, for stopped and running containers, as docker copies: into a directory
//! under the source's name, a directory's contents with `/.`, tar streams with `-`, owners kept
//! only with `-a`. A container's symlinks resolve inside its root and are copied as links: no
//! copy reads or writes a host path through one.

use sbx_tests::harness::{Sandbox, is_root};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[test]
fn cp_copies_out_of_and_into_a_stopped_container_without_following_its_links_out() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let out = s.scratch.join("out");
    std::fs::create_dir(&out).unwrap();
    // A host directory the container's links name, which no copy may touch.
    let bait = s.scratch.join("bait");
    std::fs::create_dir(&bait).unwrap();
    let bait_text = bait.to_string_lossy().into_owned();
    let script = format!(
        "mkdir -p /d/sub && echo a > /d/f && echo b > /d/sub/g && chown 1000:1000 /d/f && \
         ln -s /etc/shadow /d/shadow && ln -s / /d/root && ln -s ../../../../..{bait_text} /escape && mkdir -p {bait_text}"
    );
    assert_eq!(s.sbx(&["run", "--name", "c1", "busybox", "sh", "-c", &script]).code, 0);

    // Out: a directory under its own name, links as links, owners this user's without -a.
    let r = s.sbx(&["cp", "c1:/d", &out.to_string_lossy()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read_to_string(out.join("d/sub/g")).unwrap(), "b\n");
    assert_eq!(std::fs::read_link(out.join("d/shadow")).unwrap(), Path::new("/etc/shadow"));
    assert_eq!(std::fs::symlink_metadata(out.join("d/f")).unwrap().uid(), 0);
    // Its contents with /., owners kept with -a; a file under another name; a tar stream.
    let all = out.join("all");
    assert_eq!(s.sbx(&["cp", "-a", "c1:/d/.", &all.to_string_lossy()]).code, 0);
    assert_eq!(std::fs::metadata(all.join("f")).unwrap().uid(), 1000);
    assert!(all.join("sub/g").is_file() && !all.join("d").exists());
    assert_eq!(s.sbx(&["cp", "c1:/d/f", &out.join("renamed").to_string_lossy()]).code, 0);
    assert_eq!(std::fs::read_to_string(out.join("renamed")).unwrap(), "a\n");
    let r = s.command(&["cp", "c1:/d/sub", "-"]).output().unwrap();
    let names: Vec<String> = tar::Archive::new(r.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["sub/", "sub/g"]);
    // Through the container's link to its root: its own /etc, not the host's.
    assert_eq!(s.sbx(&["cp", "c1:/d/root/etc/hostname", &out.join("h").to_string_lossy()]).code, 0);
    assert_ne!(std::fs::read(out.join("h")).unwrap(), std::fs::read("/etc/hostname").unwrap());

    // In: a file into a directory, a directory under a new name; /escape leads to the
    // container's own copy of the bait path, not the host's.
    let file = s.scratch.join("in.txt");
    std::fs::write(&file, "hello\n").unwrap();
    assert_eq!(s.sbx(&["cp", &file.to_string_lossy(), "c1:/d/"]).code, 0);
    assert_eq!(s.sbx(&["cp", &out.join("d").to_string_lossy(), "c1:/copied"]).code, 0);
    assert_eq!(s.sbx(&["cp", &file.to_string_lossy(), "c1:/escape/"]).code, 0);
    assert_eq!(std::fs::read_dir(&bait).unwrap().count(), 0, "nothing written through the link");
    let r = s.sbx(&["diff", "c1"]);
    for added in ["A /d/in.txt", "A /copied/sub/g", &format!("A {bait_text}/in.txt")] {
        assert!(r.stdout.lines().any(|l| l == added), "{added}: {r:?}");
    }
    // A tar stream in.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    tar.append_data(&mut h, "streamed", &b"hi\n"[..]).unwrap();
    let mut child = s.command(&["cp", "-", "c1:/d"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&tar.into_inner().unwrap()).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(s.sbx(&["diff", "c1"]).stdout.contains("A /d/streamed"));

    // -L: a link's target copied under the link's name, resolved in the container's root: /d/shadow
    // names the container's /etc/shadow, which busybox has not (the host's is never read), and
    // /escape the container's own copy of the bait path.
    let followed = out.join("followed");
    std::fs::create_dir(&followed).unwrap();
    let into = followed.to_string_lossy().into_owned();
    let r = s.sbx(&["cp", "-L", "c1:/d/shadow", &into]);
    assert!(r.code == 1 && r.stderr.contains("could not find the file /d/shadow"), "{r:?}");
    assert!(!followed.join("shadow").exists());
    let r = s.sbx(&["cp", "-L", "c1:/escape", &into]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(followed.join("escape").is_dir() && followed.join("escape/in.txt").is_file(), "the container's copy");
    let link = s.scratch.join("link-to-file");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    assert_eq!(s.sbx(&["cp", "-L", &link.to_string_lossy(), "c1:/d/"]).code, 0);
    assert!(s.sbx(&["diff", "c1"]).stdout.lines().any(|l| l == "A /d/link-to-file"));

    // Bad input: named, docker's exit codes.
    for (args, code, says) in [
        (&["cp", "c1:/nope", "/tmp"][..], 1, "could not find the file /nope in container c1"),
        (&["cp", "nosuch:/d", "/tmp"][..], 1, "no such container: nosuch"),
        (&["cp", "c1:/d", &out.join("renamed").to_string_lossy()][..], 1, "to a file"),
        (&["cp", "c1:/d/f", &out.join("no/such/").to_string_lossy()][..], 1, "does not exist"),
        (&["cp", "c1:/d", "c1:/e"][..], 1, "does not copy between two containers"),
        (&["cp", "/etc/hostname", "/tmp/x"][..], 1, "give one side as CONTAINER:PATH"),
    ] {
        let r = s.sbx(args);
        assert!(r.code == code && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    assert_eq!(s.sbx(&["rm", "c1"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn cp_reaches_a_running_containers_root_and_its_volumes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "r1", "-v", "vol:/data", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let file = s.scratch.join("in.txt");
    std::fs::write(&file, "to a running one\n").unwrap();
    assert_eq!(s.sbx(&["cp", &file.to_string_lossy(), "r1:/data/x"]).code, 0);
    let r = s.sbx(&["exec", "r1", "cat", "/data/x"]);
    assert_eq!(r.stdout, "to a running one\n", "{r:?}");
    assert!(s.root.join("volumes/vol/_data/x").is_file(), "it went into the volume");
    let back = s.scratch.join("back");
    assert_eq!(s.sbx(&["cp", "r1:/data/x", &back.to_string_lossy()]).code, 0);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "to a running one\n");
    assert_eq!(s.sbx(&["rm", "-f", "r1"]).code, 0);
    assert_eq!(s.sbx(&["volume", "rm", "vol"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn a_stopped_container_being_copied_into_is_not_shown_running() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["create", "--name", "cpw", "busybox", "true"]).code, 0);
    let id = s.sbx(&["inspect", "-f", "{{.Id}}", "cpw"]).stdout.trim().to_string();
    // A tar stream on stdin, held open: the copy holds the container's run lock meanwhile.
    let mut child = s.command(&["cp", "-", "cpw:/tmp"]).stdin(std::process::Stdio::piped()).spawn().expect("sbx cp");
    // Seen in /proc/locks, not by trying the lock (which could make the copy miss it).
    let inode = std::fs::metadata(s.root.join("containers").join(&id)).unwrap().ino();
    sbx_tests::harness::wait_for("the copy to hold the container", || {
        let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        locks.lines().any(|l| l.contains("FLOCK") && l.contains(" WRITE ") && l.contains(&format!(":{inode} ")))
    });
    let r = s.sbx(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(r.stdout, "cpw created\n", "{r:?}");
    assert_eq!(s.sbx(&["inspect", "-f", "{{.State.Running}}", "cpw"]).stdout, "false\n");
    drop(child.stdin.take());
    child.wait().unwrap();
    assert_eq!(s.sbx(&["rm", "cpw"]).code, 0);
    s.assert_clean(0);
}
