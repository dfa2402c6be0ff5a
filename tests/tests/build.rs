//! `sbx build`: Dockerfiles written by the tests, built on the busybox test image and on `FROM
//! scratch` with a static binary; the images built run; the build cache gives the same image again
//! and is invalidated from the step whose files changed; multi-stage builds copy only what they
//! name; `.dockerignore` keeps files out; bad Dockerfiles and contexts are refused naming the line;
//! policies run at build time; nothing is left behind.

use sbx_tests::harness::{NetNs, Run, Sandbox, plugin_arg, wait_for};
use std::path::{Path, PathBuf};

/// A build context in the sandbox's scratch directory, with `files` (path, content).
fn context(s: &Sandbox, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = s.scratch.join(name);
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn build(s: &Sandbox, dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let d = dir.to_string_lossy();
    all.push(&d);
    s.sbx(&all)
}

/// The steps a build's progress calls CACHED, by their instruction's keyword and line order.
fn cached_steps(r: &Run) -> Vec<bool> {
    let lines: Vec<&str> = r.stderr.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("STEP ") && !l.contains(": FROM ") && !l.contains(": ARG ") {
            let next = lines[i + 1..].iter().find(|n| n.starts_with("--> "));
            out.push(next.is_some_and(|n| n.starts_with("--> CACHED")));
        }
    }
    out
}

fn inspect_config(s: &Sandbox, image: &str) -> serde_json::Value {
    let r = s.sbx(&["image", "inspect", image]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v[0]["Config"].clone()
}

const APP: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE}
ARG GREETING=hello
ENV APP_HOME=/srv/app \
    MODE="two words"
WORKDIR $APP_HOME
COPY --chown=1000:1000 --chmod=750 run.sh bin/
COPY data/*.txt data/
COPY conf /etc/app/
RUN echo "$GREETING from $MODE" > greeting && chown 1000 greeting
RUN ["/bin/sh", "-c", "echo exec form > exec.txt"]
SHELL ["/bin/sh", "-ec"]
RUN <<EOF
echo heredoc one > heredoc.txt
echo heredoc two >> heredoc.txt
EOF
RUN cat <<EOF > conf.txt && cat <<'RAW' >> conf.txt
greeting=$GREETING
EOF
raw=$GREETING
RAW
COPY <<EOT /etc/motd
written by a heredoc for $GREETING
EOT
RUN ln -s /etc/motd motd && rm /etc/app/drop.conf
LABEL org.example.name="app" version=1
EXPOSE 8080 53/udp
VOLUME /srv/data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD test -f /srv/app/greeting
ONBUILD RUN echo triggered > /tmp/triggered
USER 1000:1000
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting"]
"#;

#[test]
fn a_dockerfile_builds_an_image_that_runs_and_the_cache_gives_it_again() {
    let s = Sandbox::with_busybox();
    let dir = context(
        &s,
        "app",
        &[
            ("Dockerfile", APP),
            ("run.sh", "#!/bin/sh\necho running\n"),
            ("data/a.txt", "a\n"),
            ("data/b.txt", "b\n"),
            ("data/c.md", "not copied\n"),
            ("conf/app.conf", "key=value\n"),
            ("conf/drop.conf", "dropped in a later step\n"),
        ],
    );
    let r = build(&s, &dir, &["-t", "app:1", "--label", "built.by=test"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    assert!(id.starts_with("sha256:") && r.stdout.lines().count() == 1, "only the id on stdout: {r:?}");
    assert!(r.stderr.contains("STEP 1/23: FROM busybox") && r.stderr.contains("STEP 23/23: CMD"), "{r:?}");
    assert!(!cached_steps(&r).contains(&true), "a first build makes every step: {r:?}");

    // The image runs as configured.
    let run = s.sbx(&["run", "--rm", "app:1"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello from two words\n"), "{run:?}");
    let files = "cat exec.txt heredoc.txt conf.txt motd /etc/app/app.conf data/a.txt data/b.txt; \
                 ls data; ls /etc/app; stat -c '%n %u:%g %a' bin/run.sh greeting; id -u; pwd";
    let run = s.sbx(&["run", "--rm", "app:1", files]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "exec form\nheredoc one\nheredoc two\ngreeting=hello\nraw=$GREETING\nwritten by a heredoc for hello\nkey=value\na\nb\na.txt\nb.txt\napp.conf\n\
         bin/run.sh 1000:1000 750\ngreeting 1000:0 644\n1000\n/srv/app\n",
        "{run:?}"
    );
    let c = inspect_config(&s, "app:1");
    assert_eq!(
        c["Env"].as_array().unwrap().iter().filter(|e| e.as_str().unwrap().starts_with("MODE=two words")).count(),
        1,
        "{c}"
    );
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Cmd"], serde_json::json!(["cat greeting"]));
    assert_eq!(c["Labels"]["org.example.name"], "app");
    assert_eq!(c["Labels"]["version"], "1");
    assert_eq!(c["Labels"]["built.by"], "test", "--label is on the image: {c}");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object() && c["ExposedPorts"]["53/udp"].is_object(), "{c}");
    assert!(c["Volumes"]["/srv/data"].is_object(), "{c}");
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo triggered > /tmp/triggered"]));
    // Metadata steps add no layer: busybox's, and one per RUN, COPY and ADD (4 COPY, 5 RUN).
    let history = s.sbx(&["history", "--no-trunc", "app:1"]);
    assert_eq!(history.code, 0, "{history:?}");
    let r = s.sbx(&["image", "inspect", "--format", "{{len .RootFS.Layers}}", "app:1"]);
    assert_eq!(r.stdout.trim(), "10", "{r:?}");
    // A RUN's layer holds what it wrote, not the mount points of its container's /etc files.
    let r = s.sbx(&["image", "inspect", "--format", "{{json .RootFS.Layers}}", "app:1"]);
    let layers: Vec<String> = serde_json::from_str(r.stdout.trim()).unwrap();
    let exec_run = s.root.join("layers").join(layers[5].trim_start_matches("sha256:")).join("diff");
    let top: Vec<_> = std::fs::read_dir(&exec_run).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(top, ["srv"], "{}", exec_run.display());

    // Nothing changed: every step from the cache, the same image.
    let again = build(&s, &dir, &["-t", "app:1", "--label", "built.by=test"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.stdout.trim(), id, "a cached build makes the same image");
    assert!(cached_steps(&again).iter().all(|c| *c), "{again:?}");
    // -q prints the id only.
    let quiet = build(&s, &dir, &["-q", "--label", "built.by=test"]);
    assert_eq!((quiet.code, quiet.stdout.trim(), quiet.stderr.as_str()), (0, id.as_str(), ""), "{quiet:?}");

    // A copied file touched, its content the same: still all cached, as docker's cache.
    let a = std::fs::File::options().append(true).open(dir.join("data/a.txt")).unwrap();
    a.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60)).unwrap();
    let touched = build(&s, &dir, &["-q", "--label", "built.by=test"]);
    assert_eq!((touched.code, touched.stdout.trim()), (0, id.as_str()), "{touched:?}");

    // One copied file changed: the steps before it cached, it and every later one made again.
    std::fs::write(dir.join("data/b.txt"), "b changed\n").unwrap();
    let changed = build(&s, &dir, &["-t", "app:2"]);
    assert_eq!(changed.code, 0, "{changed:?}");
    assert_ne!(changed.stdout.trim(), id);
    let cached = cached_steps(&changed);
    // ENV, WORKDIR, COPY run.sh cached; COPY data/*.txt and all after made.
    assert_eq!(&cached[..4], &[true, true, true, false], "{changed:?}");
    assert!(cached[4..].iter().all(|c| !c), "{changed:?}");
    let run = s.sbx(&["run", "--rm", "app:2", "cat data/b.txt"]);
    assert_eq!(run.stdout, "b changed\n", "{run:?}");
    // --no-cache makes every step again.
    let fresh = build(&s, &dir, &["--no-cache", "-t", "app:2"]);
    assert_eq!(fresh.code, 0, "{fresh:?}");
    assert!(!cached_steps(&fresh).contains(&true), "{fresh:?}");

    // A build FROM the image runs its ONBUILD trigger.
    let child = context(&s, "child", &[("Dockerfile", "FROM app:1\nRUN cat /tmp/triggered\n")]);
    let r = build(&s, &child, &["-t", "child"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("STEP 2/3: RUN echo triggered > /tmp/triggered") && r.stderr.contains("triggered\n"),
        "{r:?}"
    );
    assert!(inspect_config(&s, "child")["OnBuild"].is_null(), "triggers are not passed on");

    // The intermediate images are shown only with -a; builder prune takes them.
    let named = s.sbx(&["images", "-q"]).stdout.lines().count();
    let all = s.sbx(&["images", "-aq"]).stdout.lines().count();
    assert!(all > named + 10, "intermediate images with -a only: {named} of {all}");
    let prune = s.sbx(&["builder", "prune", "-f"]);
    assert_eq!(prune.code, 0, "{prune:?}");
    assert!(prune.stdout.contains("Deleted build cache"), "{prune:?}");
    let r = build(&s, &dir, &["-t", "app:2"]);
    assert!(!cached_steps(&r).contains(&true), "the cache is empty after a prune: {r:?}");
    assert_eq!(s.sbx(&["run", "--rm", "app:1", "cat greeting"]).stdout, "hello from two words\n");
    s.assert_clean(0);
}

#[test]
fn stages_copy_only_what_they_name_and_scratch_images_run_a_static_binary() {
    let s = Sandbox::with_busybox();
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static");
    let dir = context(
        &s,
        "stages",
        &[(
            "Dockerfile",
            "FROM busybox AS build\nARG VERSION=1\nRUN mkdir -p /out/lib && echo v$VERSION > /out/version && \
             echo junk > /out/junk && echo lib > /out/lib/x\n\
             FROM build AS unused\nRUN exit 9\n\
             FROM scratch\nCOPY busybox /bin/busybox\nCOPY --from=build /out/version /out/lib /app/\n\
             ENTRYPOINT [\"/bin/busybox\"]\nCMD [\"cat\", \"/app/version\"]\n",
        )],
    );
    std::fs::write(dir.join("busybox"), &busybox).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(dir.join("busybox")).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(dir.join("busybox"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let r = build(&s, &dir, &["-t", "tiny", "--build-arg", "VERSION=7", "--build-arg", "NEVER=1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("exit 9"), "a stage the target does not need is not built: {r:?}");
    assert!(r.stderr.contains("warning: build arguments not consumed by any ARG: NEVER"), "{r:?}");
    let run = s.sbx(&["run", "--rm", "tiny"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "v7\n"), "{run:?}");
    let run = s.sbx(&["run", "--rm", "tiny", "find", "/", "-xdev"]);
    let mut found: Vec<&str> = run.stdout.lines().collect();
    found.sort();
    // What COPY named, and the mount points of a running container.
    assert_eq!(
        found,
        [
            "/",
            "/app",
            "/app/version",
            "/app/x",
            "/bin",
            "/bin/busybox",
            "/dev",
            "/etc",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/proc",
            "/sys"
        ],
        "only what COPY named: {run:?}"
    );
    // --target builds a stage and what it needs.
    let r = build(&s, &dir, &["-t", "builder", "--target", "build", "--build-arg", "VERSION=7"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("STEP 3/3") && !r.stderr.contains("FROM scratch"), "{r:?}");
    let run = s.sbx(&["run", "--rm", "builder", "cat", "/out/junk"]);
    assert_eq!(run.stdout, "junk\n", "{run:?}");
    let r = build(&s, &dir, &["--target", "nosuch"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("target stage 'nosuch'") && r.stderr.contains("build, unused"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn dockerignore_keeps_files_out_and_a_context_comes_on_stdin() {
    let s = Sandbox::with_busybox();
    let dir = context(
        &s,
        "ignore",
        &[
            ("Dockerfile", "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n"),
            (".dockerignore", "secrets\n*.log\n!keep.log\n**/*.tmp\n"),
            ("secrets/key", "k"),
            ("a.log", "x"),
            ("keep.log", "kept"),
            ("src/main.c", "int main;"),
            ("src/deep/x.tmp", "t"),
        ],
    );
    let r = build(&s, &dir, &["-t", "ignored"]);
    assert_eq!(r.code, 0, "{r:?}");
    let listed = s.sbx(&["run", "--rm", "ignored", "find", "/ctx"]).stdout;
    let mut files: Vec<&str> = listed.lines().collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/ctx",
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/keep.log",
            "/ctx/src",
            "/ctx/src/deep",
            "/ctx/src/main.c"
        ]
    );
    // A file the ignore file leaves out cannot be named either.
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY secrets/key /\n").unwrap();
    let r = build(&s, &dir, &[]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("Dockerfile:2: secrets/key: not found in the build context"), "{r:?}");

    // `-`: the context as a tarball on stdin, its Dockerfile in it.
    let tar = s.scratch.join("ctx.tar");
    let out = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .args(["Dockerfile", "keep.log"])
        .status();
    assert!(out.unwrap().success());
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY keep.log /\nCMD [\"cat\", \"/keep.log\"]\n").unwrap();
    std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .args(["Dockerfile", "keep.log"])
        .status()
        .unwrap();
    let r = s.command(&["build", "-t", "fromtar", "-"]).stdin(std::fs::File::open(&tar).unwrap()).output().unwrap();
    let r: Run = r.into();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["run", "--rm", "fromtar"]).stdout, "kept");
    s.assert_clean(0);
}

#[test]
fn bad_dockerfiles_and_contexts_are_refused_naming_the_line_and_leave_nothing() {
    let s = Sandbox::with_busybox();
    let dir = context(&s, "bad", &[("f", "x"), ("Dockerfile", "")]);
    std::os::unix::fs::symlink("/etc/passwd", dir.join("out")).unwrap();
    std::os::unix::fs::symlink("../../..", dir.join("up")).unwrap();
    let layers = s.layers().len();
    let cases: [(&str, i32, &str); 14] = [
        ("FROM busybox\nFETCH x\n", 125, "Dockerfile:2: unknown instruction 'FETCH'"),
        ("RUN true\n", 125, "Dockerfile:1: expected FROM"),
        ("FROM busybox\nCOPY ../f /\n", 125, "Dockerfile:2: '../f' is outside the build context"),
        ("FROM busybox\nCOPY /etc/passwd /\n", 125, "Dockerfile:2: '/etc/passwd' is an absolute path"),
        ("FROM busybox\nCOPY out /\n", 125, "Dockerfile:2: 'out' is a symlink that leads out of the build context"),
        ("FROM busybox\nCOPY up/etc/passwd /\n", 125, "Dockerfile:2: 'up/etc/passwd' is a symlink that leads out"),
        ("FROM busybox\nCOPY nothere /\n", 125, "Dockerfile:2: nothere: not found in the build context"),
        ("FROM busybox\nRUN echo partial > /p; echo to stderr >&2; exit 3\n", 1, "Dockerfile:2: RUN echo partial"),
        ("FROM busybox\nENV A=$X\nARG X=1\n", 125, "Dockerfile:2: $X is used before its ARG on line 3"),
        ("FROM ${NOPE}\n", 125, "Dockerfile:1: FROM ${NOPE} names no image"),
        (
            "FROM busybox\nADD https://example.com/x /\n",
            125,
            "Dockerfile:2: ADD https://example.com/x: sbx build does not download",
        ),
        ("FROM busybox\nCOPY f f /d\n", 125, "Dockerfile:2: COPY of several sources needs a directory"),
        ("FROM scratch\nRUN true\n", 125, "Dockerfile:2: RUN needs files to run"),
        ("FROM busybox\nRUN cat <<EOF > /f\nnever ended\n", 125, "Dockerfile:2: the heredoc EOF is not ended"),
    ];
    for (text, code, message) in cases {
        std::fs::write(dir.join("Dockerfile"), text).unwrap();
        let r = build(&s, &dir, &["-t", "bad"]);
        assert_eq!(r.code, code, "{text}: {r:?}");
        assert!(r.stderr.contains(message), "{text}: {r:?}");
        assert!(!r.stdout.contains("sha256:"), "{text}: {r:?}");
    }
    // A failed RUN shows its output, and its code.
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN echo partial; echo to stderr >&2; exit 3\n").unwrap();
    for quiet in [&[][..], &["-q"][..]] {
        let r = build(&s, &dir, quiet);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("partial\n") && r.stderr.contains("to stderr\n"), "{quiet:?}: {r:?}");
        assert!(r.stderr.contains("returned a non-zero code: 3"), "{r:?}");
    }
    assert!(s.sbx(&["images", "-q", "bad"]).stdout.is_empty(), "no image is named by a failed build");
    assert_eq!(s.layers().len(), layers, "a failed step keeps no layer");
    // A build killed in a RUN leaves its step's container Dead; builder prune takes it (when no
    // build runs).
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN touch /started; sleep 60\n").unwrap();
    let d = dir.to_string_lossy();
    let mut killed = s.command(&["build", "-q", &d]).spawn().unwrap();
    wait_for("the step to run", || s.sbx(&["ps"]).stdout.contains(" Up "));
    killed.kill().unwrap();
    killed.wait().unwrap();
    wait_for("the step's container to die", || s.sbx(&["ps", "-a"]).stdout.contains(" Dead "));
    let prune = s.sbx(&["builder", "prune"]);
    assert!(prune.code == 0 && prune.stdout.starts_with("Deleted build container: "), "{prune:?}");
    assert_eq!(s.containers().len(), 0, "{prune:?}");
    let r = s.sbx(&["build", "/nonexistent/context"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/context is not a directory"), "{r:?}");
    let r = s.sbx(&["build", "--platform", "linux/s390x", &dir.to_string_lossy()]);
    assert!(r.code == 125 && r.stderr.contains("does not emulate"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn policies_check_base_images_new_layers_and_the_steps_containers() {
    let s = Sandbox::with_busybox();
    let config = s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("deny-setuid")));
    let dir = context(
        &s,
        "policy",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo fine > /fine\nRUN cp /bin/busybox /bin/sneaky && chmod u+s /bin/sneaky\nRUN echo never\n",
        )],
    );
    let layers = s.layers().len();
    let r = s.sbx(&["--config", &config, "build", "-t", "setuid", &dir.to_string_lossy()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Dockerfile:3: RUN cp /bin/busybox"), "the step is named: {r:?}");
    assert!(r.stderr.contains("deny-setuid") && r.stderr.contains("bin/sneaky"), "the file is named: {r:?}");
    assert!(!r.stderr.contains("never"), "{r:?}");
    assert_eq!(s.layers().len(), layers + 1, "the allowed step's layer is kept, the denied one is not");
    assert!(s.sbx(&["images", "-q", "setuid"]).stdout.is_empty());

    // The steps' containers are the policies' too: a spec check sees the build's annotations.
    let no_root = s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("non-root")));
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN true\n").unwrap();
    let r = s.sbx(&["--config", &no_root, "build", &dir.to_string_lossy()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Dockerfile:2: RUN true") && r.stderr.contains("non-root"), "{r:?}");
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nUSER 1000\nRUN id -u\n").unwrap();
    let r = s.sbx(&["--config", &no_root, "build", &dir.to_string_lossy()]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

/// A layer's entries as (path, permission bits, kind, uid, gid, link target), sorted, without
/// the mount points each tool leaves in RUN layers (podman's /dev, /proc, /run...; the
/// container's /etc files).
fn entries(layer: &[u8]) -> Vec<(String, u32, u8, u64, u64, String)> {
    let data = match layer[..2] == [0x1f, 0x8b] {
        true => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(layer), &mut out).unwrap();
            out
        }
        false => layer.to_vec(),
    };
    let runtime =
        ["dev", "proc", "sys", "run", "etc", "etc/hostname", "etc/hosts", "etc/resolv.conf", "run/.containerenv"];
    let mut out: Vec<_> = tar::Archive::new(&data[..])
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let path = e.path().unwrap().to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_string();
            let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
            (path, h.mode().unwrap() & 0o7777, h.entry_type().as_byte(), h.uid().unwrap(), h.gid().unwrap(), link)
        })
        .filter(|(p, ..)| !runtime.contains(&p.as_str()))
        .collect();
    out.sort();
    out
}

/// The layers of an OCI layout's (only) image, bottom first.
fn oci_layers(dir: &Path) -> Vec<Vec<u8>> {
    let blob =
        |digest: &str| std::fs::read(dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    manifest["layers"].as_array().unwrap().iter().map(|l| blob(l["digest"].as_str().unwrap())).collect()
}

/// podman's and buildah's storage and run root of a test's own, removed with what they left
/// when dropped.
struct Tools {
    dir: PathBuf,
    run_root: PathBuf,
    traces: sbx_tests::harness::PodmanTraces,
}

impl Tools {
    fn new(s: &Sandbox) -> Tools {
        let dir = s.scratch.join("tools");
        let run_root = PathBuf::from(format!("/run/sbx-build-test-{}", std::process::id()));
        let traces = sbx_tests::harness::PodmanTraces::new(&[&dir, &run_root]);
        Tools { dir, run_root, traces }
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let mut c = std::process::Command::new(tool);
        c.arg("--root").arg(self.dir.join("storage")).arg("--runroot").arg(&self.run_root);
        c.args(["--storage-driver", "overlay"]);
        c
    }
}

impl Drop for Tools {
    fn drop(&mut self) {
        let _ = self.command("podman").args(["rmi", "-af"]).output();
        let _ = self.command("buildah").args(["rmi", "-af"]).output();
        self.traces.remove();
    }
}

#[test]
fn images_sbx_builds_run_in_podman_and_hold_the_files_buildahs_build_holds() {
    use sbx_tests::harness::has_tool;
    if !has_tool("podman") || !has_tool("buildah") {
        assert!(std::env::var_os("CI").is_none(), "podman and buildah are needed under CI (examples/setup.sh)");
        eprintln!("skipped: podman or buildah is not installed");
        return;
    }
    let s = Sandbox::with_busybox();
    let dir = context(
        &s,
        "interop",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY --chmod=755 x.sh /usr/local/bin/\nCOPY d /opt/d/\nADD t.tar /opt/t/\n\
              RUN mkdir -m 700 /secret && echo s > /secret/f && chmod 600 /secret/f && rm /bin/vi && \
              ln -s /opt/d/a /link && chown 7:8 /opt/d/a\nWORKDIR /work\n\
              RUN echo w > w && rm -rf /opt/t && mkdir /opt/t && echo n > /opt/t/n\nCMD [\"cat\", \"/secret/f\"]\n",
            ),
            ("x.sh", "#!/bin/sh\necho x\n"),
            ("d/a", "a\n"),
        ],
    );
    let ok = |r: std::process::Output| {
        let r: Run = r.into();
        assert_eq!(r.code, 0, "{r:?}");
        r
    };
    ok(std::process::Command::new("tar")
        .arg("-cf")
        .arg(dir.join("t.tar"))
        .arg("-C")
        .arg(&dir)
        .arg("d")
        .output()
        .unwrap());
    let r = build(&s, &dir, &["-t", "interop"]);
    assert_eq!(r.code, 0, "{r:?}");
    let ours = s.scratch.join("ours");
    assert_eq!(s.sbx(&["save", "--format", "oci-dir", "-o", &ours.to_string_lossy(), "interop"]).code, 0);
    let archive = s.scratch.join("interop.tar");
    assert_eq!(s.sbx(&["save", "-o", &archive.to_string_lossy(), "interop"]).code, 0);

    // podman loads sbx's image and runs it; buildah builds the same Dockerfile from the same base.
    let tools = Tools::new(&s);
    let storage = |cmd: &str| tools.command(cmd);
    let loaded = ok(storage("podman").args(["load", "-q", "-i"]).arg(&archive).output().unwrap());
    let name = loaded.stdout.trim().rsplit(' ').next().unwrap().to_string();
    assert!(name.ends_with("interop:latest"), "{loaded:?}");
    let r = ok(storage("podman")
        .args(["--cgroup-manager", "cgroupfs", "--events-backend", "none", "run", "--rm", "--runtime", "runc"])
        .args(["--network", "none", "--ulimit", "nofile=1024:20000", "--ulimit", "nproc=4096:4096", &name])
        .output()
        .unwrap());
    assert_eq!(r.stdout, "s\n", "{r:?}");
    let base = s.scratch.join("busybox.tar");
    sbx_tests::harness::test_image("busybox").unwrap().write_docker_archive(&base).unwrap();
    ok(storage("buildah").arg("pull").arg("-q").arg(format!("docker-archive:{}", base.display())).output().unwrap());
    ok(storage("buildah").args(["tag", "busybox:latest", "localhost/busybox:latest"]).output().unwrap());
    ok(storage("buildah")
        .args(["bud", "--layers", "-q", "--runtime", "runc", "--network", "none", "--pull-never"])
        .args(["--ulimit", "nofile=1024:20000", "--ulimit", "nproc=4096:4096", "-t", "theirs"])
        .arg(&dir)
        .output()
        .unwrap());
    let theirs = s.scratch.join("theirs");
    ok(storage("buildah").args(["push", "-q", "theirs"]).arg(format!("oci:{}", theirs.display())).output().unwrap());
    let (a, b) = (oci_layers(&ours), oci_layers(&theirs));
    assert_eq!(a.len(), b.len(), "as many layers");
    // A whiteout and an opaque directory, as buildah writes them.
    let paths = |layer: &[u8]| entries(layer).into_iter().map(|e| e.0).collect::<Vec<_>>();
    assert!(paths(&a[4]).contains(&"bin/.wh.vi".to_string()), "{:?}", paths(&a[4]));
    assert!(paths(&a[5]).contains(&"opt/t/.wh..wh..opq".to_string()), "{:?}", paths(&a[5]));
    for (i, (x, y)) in a.iter().zip(&b).enumerate().skip(1) {
        assert_eq!(entries(x), entries(y), "layer {i}: the same files, modes and owners as buildah's");
    }
    drop(tools);
    s.assert_clean(0);
}

#[test]
fn secrets_are_mounted_for_the_steps_that_ask_and_are_in_no_layer() {
    let s = Sandbox::with_busybox();
    let dir = context(
        &s,
        "secret",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=secret,id=token test \"$(cat /run/secrets/token)\" = s3cret\n\
             RUN --mount=type=secret,id=token,target=/etc/token,required=true cat /etc/token > /dev/null\n\
             RUN --mount=type=secret,id=other true\nRUN --network=none true\n\
             CMD [\"sh\", \"-c\", \"ls /run/secrets /etc/token 2>&1; grep -rl s3cret /bin /etc /run /tmp /root 2>/dev/null; true\"]\n",
        )],
    );
    let token = s.scratch.join("token.txt");
    std::fs::write(&token, "s3cret").unwrap();
    let secret = format!("id=token,src={}", token.display());
    let r = build(&s, &dir, &["-t", "secret", "--secret", &secret]);
    assert_eq!(r.code, 0, "{r:?}");
    // Steps that changed nothing make the same empty layer; the image holds it four times and runs.
    let run = s.sbx(&["run", "--rm", "secret"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("/run/secrets: No such file") && run.stdout.contains("/etc/token: No such file"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("s3cret"), "the secret is in no layer: {run:?}");
    // Its content is no part of the cache key; a required one must be given.
    std::fs::write(&token, "changed").unwrap();
    let r = build(&s, &dir, &["-t", "secret", "--secret", &secret]);
    assert!(r.code == 0 && cached_steps(&r).iter().all(|c| *c), "{r:?}");
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN --mount=type=secret,id=token,required=true true\n")
        .unwrap();
    let r = build(&s, &dir, &[]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains("Dockerfile:2: secret token is required: give it with --secret id=token,src=FILE"),
        "{r:?}"
    );
    let r = build(&s, &dir, &["--secret", "id=token,src=/nonexistent"]);
    assert!(r.code == 125 && r.stderr.contains("/nonexistent is not a file"), "{r:?}");
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN --mount=type=cache,target=/c true\n").unwrap();
    let r = build(&s, &dir, &[]);
    assert!(r.code == 125 && r.stderr.contains("Dockerfile:2: RUN --mount=type=cache is not supported"), "{r:?}");
    s.assert_clean(0);
}

/// Where tests/debian-fixture.sh (run by examples/setup.sh) put a minbase Debian 12 rootfs and a
/// one-package apt repository, fetched from the machine's mirror.
const DEBIAN_FIXTURE: &str = "/var/cache/sbx-tests/debian-bookworm-1";

/// A Debian image built `FROM scratch` on the fixture's rootfs, whose RUN installs a package with
/// apt through `--network host`: the repository is served on 127.0.0.1 in a network namespace of
/// the test's own, so the build reaches nothing else.
#[test]
fn a_debian_image_installs_a_package_with_apt_on_the_builds_network() {
    let fixture = Path::new(DEBIAN_FIXTURE);
    if !fixture.join("rootfs.tar").exists() {
        let why = std::fs::read_to_string(fixture.join("UNREACHABLE"))
            .unwrap_or_else(|_| panic!("no Debian fixture in {DEBIAN_FIXTURE}: run tests/debian-fixture.sh"));
        eprintln!("SKIPPED: the machine's Debian mirror could not be reached when the fixture was made: {why}");
        return;
    }
    let s = Sandbox::new();
    let dir = context(
        &s,
        "debian",
        &[(
            "Dockerfile",
            "FROM scratch\nADD rootfs.tar /\nARG MIRROR\n\
             RUN echo \"deb [trusted=yes] $MIRROR ./\" > /etc/apt/sources.list && rm -f /etc/apt/sources.list.d/* \\\n \
             && apt-get update && apt-get install -y --no-install-recommends hello && apt-get clean\n\
             CMD [\"hello\"]\n",
        )],
    );
    let rootfs = dir.join("rootfs.tar");
    if std::fs::hard_link(fixture.join("rootfs.tar"), &rootfs).is_err() {
        std::fs::copy(fixture.join("rootfs.tar"), &rootfs).unwrap();
    }
    let ns = NetNs::new();
    let repo = fixture.join("repo");
    let mut httpd = std::process::Command::new("nsenter")
        .arg(format!("--net={}", ns.path()))
        .args(["busybox", "httpd", "-f", "-p", "127.0.0.1:80", "-h"])
        .arg(&repo)
        .spawn()
        .expect("busybox httpd");
    let probe = format!("ip netns exec {} bash -c 'echo > /dev/tcp/127.0.0.1/80' 2>/dev/null", ns.name);
    wait_for("the apt repository to answer", || {
        std::process::Command::new("sh").args(["-c", &probe]).status().is_ok_and(|s| s.success())
    });
    let args = ["build", "--network", "host", "--build-arg", "MIRROR=http://127.0.0.1", "-t", "deb:apt"];
    let d = dir.to_string_lossy();
    let r = s.sbx_in(&ns, &[&args[..], &[&d]].concat());
    let _ = httpd.kill();
    let _ = httpd.wait();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("Get:1 http://127.0.0.1 ./ hello") && r.stderr.contains("Setting up hello"), "{r:?}");
    let run = s.sbx(&["run", "--rm", "deb:apt"]);
    assert!(run.code == 0 && run.stdout == "Hello, world!\n", "{run:?}");
    let run = s.sbx(&["run", "--rm", "deb:apt", "dpkg-query", "-W", "-f", "${Status}", "hello"]);
    assert!(run.code == 0 && run.stdout == "install ok installed", "{run:?}");
    s.assert_clean(0);
}

/// A context of 100k files (100 directories of 1000) is copied whole, less what .dockerignore
/// leaves out, and a rebuild finds it all in the cache.
#[test]
fn a_context_of_100k_files_is_copied_and_cached() {
    let s = Sandbox::with_busybox();
    let dir = context(
        &s,
        "big",
        &[
            ("Dockerfile", "FROM busybox\nCOPY files/ /app/\nRUN find /app -type f | wc -l\n"),
            (".dockerignore", "files/7*\n"),
        ],
    );
    for d in 0..100 {
        let sub = dir.join("files").join(d.to_string());
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..1000 {
            std::fs::write(sub.join(format!("f{f}")), format!("{d}/{f}\n")).unwrap();
        }
    }
    let r = build(&s, &dir, &["-t", "big"]);
    assert_eq!(r.code, 0, "{r:?}");
    // 7 and 70..79 left out: 89 directories of 1000.
    assert!(r.stderr.contains("\n89000\n"), "{r:?}");
    let run = s.sbx(&["run", "--rm", "big", "cat", "/app/42/f999", "/app/0/f0"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "42/999\n0/0\n"), "{run:?}");
    let again = build(&s, &dir, &["-t", "big"]);
    assert!(again.code == 0 && cached_steps(&again).iter().all(|c| *c), "{again:?}");
    assert_eq!(again.stdout, r.stdout);
    s.assert_clean(0);
}
