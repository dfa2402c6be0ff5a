//! Images to and from registries: Debian's docker-registry on 127.0.0.1 (TLS from a test CA with
//! an htpasswd login, or plain HTTP listed as insecure), skopeo and podman on the other side, and a
//! hostile server for what a broken or malicious registry answers. Nothing reaches beyond
//! 127.0.0.1 (the harness sends anything else to a proxy that is not there).

use sbx_tests::harness::{Run, Sandbox, has_tool, is_root, plugin_arg, test_image};
use sbx_tests::image::{Image, Layer, sha256};
use sbx_tests::registry::{Answer, BodyLimit, HostileServer, PASSWORD, Registry, USER};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn output(cmd: &mut Command) -> Run {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}")).into()
}

/// podman with a store of its own (vfs: nothing mounted), for round trips.
struct Podman {
    root: PathBuf,
    run: PathBuf,
}

impl Podman {
    fn new(s: &Sandbox) -> Option<Podman> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        has_tool("podman").then(|| Podman {
            root: s.scratch.join("podman"),
            // podman's run root takes at most 50 characters, so not under the scratch directory.
            run: PathBuf::from(format!("/run/sbx-reg-{}-{n}", std::process::id())),
        })
    }

    fn podman(&self, args: &[&str]) -> Run {
        output(
            Command::new("podman")
                .arg("--root")
                .arg(&self.root)
                .arg("--runroot")
                .arg(&self.run)
                .args(["--storage-driver", "vfs", "--events-backend", "none"])
                .args(args),
        )
    }

    /// The short ids of its images, sorted.
    fn ids(&self) -> Vec<String> {
        let r = self.podman(&["images", "--format", "{{.ID}}"]);
        assert_eq!(r.code, 0, "{r:?}");
        let mut ids: Vec<String> = r.stdout.lines().map(String::from).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rmi", "-a", "-f"]);
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// The short ids `sbx images -q` lists.
fn ids(s: &Sandbox) -> Vec<String> {
    let r = s.sbx(&["images", "-q"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut ids: Vec<String> = r.stdout.lines().map(String::from).collect();
    ids.sort();
    ids
}

fn login(s: &Sandbox, cfg: &str, reg: &Registry, password: &str) -> Run {
    let mut cmd = s.command(&["--config", cfg, "login", "-u", USER, "--password-stdin", &reg.addr]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap().into()
}

fn digest_of_push(r: &Run) -> String {
    let line = r.stdout.lines().find(|l| l.contains(": digest: ")).unwrap_or_else(|| panic!("{r:?}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn push_login_pull_over_tls_and_round_trips_with_skopeo_and_podman() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let Some(reg) = Registry::start(&s.scratch.join("registry"), true) else { return };
    let cfg = s.write_config(&reg.sbx_config());
    let name = format!("{}/team/busybox:1", reg.addr);
    assert_eq!(s.sbx(&["tag", "busybox", &name]).code, 0);

    // The registry wants a login, and sbx says how to make one.
    let r = s.sbx(&["--config", &cfg, "push", &name]);
    assert!(r.code == 125 && r.stderr.contains(&format!("sbx login {}", reg.addr)), "{r:?}");
    let auth = s.scratch.join("auth.json");
    let r = login(&s, &cfg, &reg, "wrong");
    assert!(r.code == 125 && r.stderr.contains("incorrect username or password"), "{r:?}");
    assert!(!auth.exists(), "a refused login stores nothing");
    let r = login(&s, &cfg, &reg, PASSWORD);
    assert!(r.code == 0 && r.stdout.contains("Login Succeeded"), "{r:?}");
    assert_eq!(std::fs::metadata(&auth).unwrap().permissions().mode() & 0o777, 0o600);

    let r = s.sbx(&["--config", &cfg, "push", &name]);
    assert_eq!(r.code, 0, "{r:?}");
    let digest = digest_of_push(&r);
    assert!(r.stdout.contains("Pushed"), "{r:?}");
    let r = s.sbx(&["--config", &cfg, "push", &name]);
    assert!(r.code == 0 && r.stdout.contains("Layer already exists") && !r.stdout.contains("Pushed"), "{r:?}");
    assert_eq!(digest_of_push(&r), digest, "the same manifest");

    // skopeo and podman take what sbx pushed, as the same image.
    if has_tool("skopeo") {
        let mut cmd = Command::new("skopeo");
        cmd.arg("inspect").args(reg.tool_flags("--cert-dir")).arg(format!("docker://{name}"));
        let r = output(&mut cmd);
        assert_eq!(r.code, 0, "{r:?}");
        let inspected: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(inspected["Digest"], digest.as_str(), "{r:?}");
    }
    let id = ids(&s);
    if let Some(p) = Podman::new(&s) {
        let mut args = vec!["pull".to_string(), "-q".into()];
        args.extend(reg.tool_flags("--cert-dir"));
        args.push(name.clone());
        let r = p.podman(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(p.ids(), id, "podman's image is sbx's");
    }

    // Another store pulls it (with the first one's login file) as the same image, and runs it.
    let s2 = Sandbox::new();
    let authfile = auth.to_string_lossy().into_owned();
    let pull = |args: &[&str]| {
        let mut all = vec!["--config", cfg.as_str(), "pull", "--authfile", authfile.as_str()];
        all.extend(args);
        s2.sbx(&all)
    };
    let r = pull(&[&name]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Pull complete") && r.stdout.contains(&format!("Digest: {digest}")), "{r:?}");
    assert_eq!(r.stdout.lines().last(), Some(name.as_str()), "{r:?}");
    assert_eq!(ids(&s2), id);
    let r = s2.sbx(&["run", "--rm", &name, "echo", "pulled"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "pulled\n"), "{r:?}");
    let fetched = reg.requests("/blobs/sha256:").len();
    let r = pull(&[&name]);
    assert!(r.code == 0 && r.stdout.contains("Already exists") && r.stdout.contains("Image is up to date"), "{r:?}");
    assert_eq!(reg.requests("/blobs/sha256:").len(), fetched + 1, "only the config is fetched again");
    let r = pull(&["-q", &format!("{}/team/busybox@{digest}", reg.addr)]);
    assert!(r.code == 0 && r.stdout.trim().starts_with("sha256:"), "by digest, -q prints the id: {r:?}");

    // A tag the registry lacks: said with the repository and the tag, nothing stored.
    let layers = s2.layers();
    let r = pull(&[&format!("{}/team/busybox:nope", reg.addr)]);
    assert!(
        r.code == 125 && r.stderr.contains("team/busybox: manifest nope") && r.stderr.contains("MANIFEST_UNKNOWN"),
        "{r:?}"
    );
    assert_eq!(s2.layers(), layers);

    // Without the CA, the registry's certificate is refused, and sbx says what to do.
    let r = s2.sbx(&["pull", "--authfile", &authfile, &name]);
    assert!(r.code == 125 && r.stderr.contains("certificate") && r.stderr.contains("certs.d"), "{r:?}");

    let r = s.sbx(&["logout", &reg.addr]);
    assert!(r.code == 0 && r.stdout.contains(&format!("Removed login credentials for {}", reg.addr)), "{r:?}");
    let r = s.sbx(&["logout", &reg.addr]);
    assert!(r.code == 0 && r.stdout.contains("Not logged in"), "{r:?}");
    assert_eq!(s.sbx(&["--config", &cfg, "push", &name]).code, 125, "logged out");
    s.assert_clean(0);
    s2.assert_clean(0);
}

#[test]
fn policies_check_a_pulled_image_before_its_layers_are_fetched_and_run_pulls_what_is_missing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let Some(reg) = Registry::start(&s.scratch.join("registry"), false) else { return };
    let cfg = s.write_config(&reg.sbx_config());
    s.load(&test_image("setuid").unwrap());
    let (busybox, setuid) = (format!("{}/lib/busybox:1", reg.addr), format!("{}/lib/setuid:1", reg.addr));
    for (local, remote) in [("busybox", &busybox), ("setuid", &setuid)] {
        let r = s.sbx(&["--config", &cfg, "push", local, remote]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    // What sbx commits, pushed, is an image skopeo takes; --all-tags pushes each tag of a repository.
    assert_eq!(s.sbx(&["run", "--name", "c1", "busybox", "sh", "-c", "echo x > /x"]).code, 0);
    let committed = format!("{}/lib/committed", reg.addr);
    assert_eq!(s.sbx(&["commit", "c1", &format!("{committed}:1")]).code, 0);
    assert_eq!(s.sbx(&["tag", &format!("{committed}:1"), &format!("{committed}:2")]).code, 0);
    assert_eq!(s.sbx(&["rm", "c1"]).code, 0);
    let r = s.sbx(&["--config", &cfg, "push", "--all-tags", &committed]);
    assert!(r.code == 0 && r.stdout.contains("1: digest: ") && r.stdout.contains("2: digest: "), "{r:?}");
    if has_tool("skopeo") {
        let r = output(
            Command::new("skopeo").args(["inspect", "--tls-verify=false"]).arg(format!("docker://{committed}:2")),
        );
        assert!(r.code == 0 && r.stdout.contains("\"Layers\""), "{r:?}");
    }

    // An image check denies: one manifest and one config asked for, no layer.
    let s2 = Sandbox::new();
    let denying = s2.write_config(&format!(
        "{}plugins:\n  - path: {}\n    settings: {{names: [\"other.example/*\"]}}\n",
        reg.sbx_config(),
        plugin_arg("allowed-sources")
    ));
    let r = s2.sbx(&["--config", &denying, "pull", &busybox]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy allowed-sources"), "{r:?}");
    let blobs = reg.requests("GET /v2/lib/busybox/blobs/");
    assert_eq!(blobs.len(), 1, "the config only: {blobs:?}");
    assert!(s2.layers().is_empty());

    // A layer check denies the setuid layer before it enters the store.
    let cfg2 = s2.write_config(&reg.sbx_config());
    let r = s2.sbx(&["--config", &cfg2, "pull", "--policy", &plugin_arg("deny-setuid"), &setuid]);
    assert!(
        r.code == 125 && r.stderr.contains("denied by policy deny-setuid") && r.stderr.contains("usr/bin/su"),
        "{r:?}"
    );
    assert!(ids(&s2).is_empty());
    for layer in s2.layers() {
        assert!(!s2.root.join("layers").join(layer).join("diff/usr/bin/su").exists(), "the denied layer is not stored");
    }
    s2.assert_clean(0);

    // run and create pull a missing image (its progress on stderr); --pull never refuses.
    let s3 = Sandbox::new();
    let cfg3 = s3.write_config(&reg.sbx_config());
    let r = s3.sbx(&["--config", &cfg3, "run", "--rm", "--pull", "never", &busybox, "true"]);
    assert!(r.code == 125 && r.stderr.contains("no image"), "{r:?}");
    let r = s3.sbx(&["--config", &cfg3, "run", "--rm", &busybox, "echo", "hi"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");
    assert!(r.stderr.contains(&format!("Unable to find image '{busybox}' locally")), "{r:?}");
    let r = s3.sbx(&["--config", &cfg3, "run", "--rm", "--pull", "always", &busybox, "true"]);
    assert!(r.code == 0 && r.stderr.contains("Image is up to date"), "{r:?}");
    let r = s3.sbx(&["--config", &cfg3, "create", "--pull", "always", "--name", "c1", &busybox]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "create prints the id alone: {r:?}");
    assert_eq!(s3.sbx(&["rm", "c1"]).code, 0);
    s3.assert_clean(0);

    // On a terminal, a bar per layer with its bytes.
    let s4 = Sandbox::new();
    let term = sbx_tests::terminal::Terminal::open(30, 120);
    let mut child = term.spawn(s4.command(&["--config", &cfg3, "pull", &busybox]));
    let shown = term.read_until("Status: Downloaded newer image", std::time::Duration::from_secs(60));
    assert!(child.wait().unwrap().success(), "{shown:?}");
    let shown = shown.unwrap();
    assert!(shown.contains("Pull complete") && shown.contains("MiB") && shown.contains('['), "{shown}");
    s4.assert_clean(0);
}

/// Writes an OCI layout in `dir` whose index lists `images` for the platforms given.
fn multi_platform_layout(dir: &Path, images: &[(&sbx_tests::image::Image, &str)]) {
    let mut entries = Vec::new();
    for (i, (image, arch)) in images.iter().enumerate() {
        let one = dir.with_extension(format!("part{i}"));
        image.write_oci_layout(&one, sbx_tests::image::Compression::Gzip).unwrap();
        let index: serde_json::Value = serde_json::from_slice(&std::fs::read(one.join("index.json")).unwrap()).unwrap();
        let mut entry = index["manifests"][0].clone();
        entry.as_object_mut().unwrap().remove("annotations");
        entry["platform"] = serde_json::json!({ "os": "linux", "architecture": arch });
        entries.push(entry);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        for blob in std::fs::read_dir(one.join("blobs/sha256")).unwrap() {
            let blob = blob.unwrap();
            std::fs::copy(blob.path(), dir.join("blobs/sha256").join(blob.file_name())).unwrap();
        }
    }
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries,
    }))
    .unwrap();
    std::fs::write(dir.join("blobs/sha256").join(sha256(&nested)), &nested).unwrap();
    let top = serde_json::json!({ "schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": format!("sha256:{}", sha256(&nested)),
        "size": nested.len(), "annotations": { "org.opencontainers.image.ref.name": "multi" },
    }]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn an_index_gives_the_hosts_image_or_the_platform_asked_for() {
    if !is_root() || !has_tool("skopeo") {
        return;
    }
    let s = Sandbox::new();
    let Some(reg) = Registry::start(&s.scratch.join("registry"), false) else { return };
    let cfg = s.write_config(&reg.sbx_config());
    let (amd, arm) = (test_image("busybox").unwrap(), test_image("layered").unwrap());
    let layout = s.scratch.join("multi");
    multi_platform_layout(&layout, &[(&amd, "amd64"), (&arm, "arm64")]);
    let name = format!("{}/multi/app:1", reg.addr);
    let r = output(
        Command::new("skopeo")
            .args(["copy", "--all", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:multi", layout.display()))
            .arg(format!("docker://{name}")),
    );
    assert_eq!(r.code, 0, "{r:?}");

    // Each platform's image, as loading that image alone gives it.
    let id_of = |image: &sbx_tests::image::Image| {
        let alone = Sandbox::new();
        alone.load(image);
        ids(&alone)
    };
    let host = if std::env::consts::ARCH == "aarch64" { &arm } else { &amd };
    let r = s.sbx(&["--config", &cfg, "pull", "-q", &name]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ids(&s), id_of(host));
    let s2 = Sandbox::new();
    let r = s2.sbx(&["--config", &cfg, "pull", "--platform", "linux/arm64", &name]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ids(&s2), id_of(&arm));
    let r = s2.sbx(&["--config", &cfg, "pull", "--platform", "linux/s390x", &name]);
    assert!(r.code == 125 && r.stderr.contains("no image for linux/s390x (it has linux/amd64, linux/arm64)"), "{r:?}");
    let r = s2.sbx(&["--config", &cfg, "pull", "--platform", "s390x", &name]);
    assert!(r.code == 125 && r.stderr.contains("OS/ARCH"), "{r:?}");
    s.assert_clean(0);
    s2.assert_clean(0);
}

#[test]
fn a_corrupt_blob_in_the_registry_is_refused_and_the_next_pull_fetches_only_what_is_missing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let Some(reg) = Registry::start(&s.scratch.join("registry"), false) else { return };
    // One layer at a time, in order: the two below the corrupt one are whole before it is met.
    let cfg = s.write_config(&format!("{}  max-concurrent-downloads: 1\n", reg.sbx_config()));
    s.load(&test_image("layered").unwrap());
    let name = format!("{}/x/layered:1", reg.addr);
    let r = s.sbx(&["--config", &cfg, "push", "layered", &name]);
    assert_eq!(r.code, 0, "{r:?}");

    // The top layer's bytes in the registry's storage no longer match the manifest's digest.
    let r =
        output(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false"]).arg(format!("docker://{name}")));
    assert_eq!(r.code, 0, "{r:?}");
    let manifest: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let top = manifest["layers"][2]["digest"].as_str().unwrap().to_string();
    let file = reg.blob_file(&top);
    let original = std::fs::read(&file).unwrap();
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&original[..]), &mut tar).unwrap();
    // The same tarball, compressed otherwise: a valid layer, not the one the manifest names.
    let mut other = flate2::GzBuilder::new().filename("other").write(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut other, &tar).unwrap();
    std::fs::write(&file, other.finish().unwrap()).unwrap();
    let s2 = Sandbox::new();
    let r = s2.sbx(&["--config", &cfg, "pull", &name]);
    assert!(r.code == 125 && r.stderr.contains(&top) && r.stderr.to_lowercase().contains("digest"), "{r:?}");
    assert!(ids(&s2).is_empty(), "no image");
    assert_eq!(s2.layers().len(), 2, "the layers that were whole and verified stay, the corrupt one does not");
    s2.assert_clean(0);

    // Mended, the next pull fetches only what it lacks.
    std::fs::write(&file, &original).unwrap();
    let before = reg.requests("/blobs/sha256:").len();
    let r = s2.sbx(&["--config", &cfg, "pull", &name]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.matches("Already exists").count(), 2, "{r:?}");
    assert_eq!(reg.requests("/blobs/sha256:").len(), before + 2, "the config and the top layer");
    s2.assert_clean(0);

    // A registry that is down: pull and push say which, change nothing, and work once it is back.
    let mut reg = reg;
    reg.kill();
    let other = format!("{}/x/busybox:1", reg.addr);
    let r = s.sbx(&["--config", &cfg, "push", "busybox", &other]);
    assert!(r.code == 125 && r.stderr.contains(&format!("{}/x/busybox", reg.addr)), "{r:?}");
    let r = s2.sbx(&["--config", &cfg, "pull", &other]);
    assert!(r.code == 125 && r.stderr.contains(&format!("{}/x/busybox", reg.addr)), "{r:?}");
    assert_eq!(ids(&s2).len(), 1);
    reg.resume();
    assert_eq!(s.sbx(&["--config", &cfg, "push", "busybox", &other]).code, 0);
    let r = s2.sbx(&["--config", &cfg, "pull", &other]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ids(&s2).len(), 2);
    s.assert_clean(0);
    s2.assert_clean(0);
}

/// A small image for the hostile server: its manifest, config and layers, by digest.
struct Served {
    manifest: Vec<u8>,
    config: (String, Vec<u8>),
    layers: Vec<(String, Vec<u8>)>,
}

fn served(layers: Vec<Vec<u8>>, diff_ids: Vec<String>) -> Served {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap();
    let layers: Vec<(String, Vec<u8>)> = layers.into_iter().map(|l| (format!("sha256:{}", sha256(&l)), l)).collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256(&config)), "size": config.len() },
        "layers": layers.iter().map(|(d, b)| serde_json::json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": b.len() })).collect::<Vec<_>>(),
    }))
    .unwrap();
    Served { manifest, config: (format!("sha256:{}", sha256(&config)), config), layers }
}

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

impl Served {
    fn serve(&self, server: &HostileServer, repo: &str) {
        server.answer(&format!("/v2/{repo}/manifests/1"), Answer::Body(200, MANIFEST_TYPE, self.manifest.clone()));
        server.answer(
            &format!("/v2/{repo}/blobs/{}", self.config.0),
            Answer::Body(200, "application/json", self.config.1.clone()),
        );
        for (d, b) in &self.layers {
            server.answer(&format!("/v2/{repo}/blobs/{d}"), Answer::Body(200, "application/octet-stream", b.clone()));
        }
    }
}

fn diff_ids(layers: &[Vec<u8>]) -> Vec<String> {
    layers.iter().map(|l| format!("sha256:{}", sha256(l))).collect()
}

#[test]
fn a_hostile_registry_is_refused_by_name_within_bounds_and_the_store_stays_as_it_was() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let server = HostileServer::start();
    let cfg = s.write_config(&format!("registries:\n  insecure: [\"{}\"]\n  timeout-secs: 1\n", server.addr));
    let at = |repo: &str| format!("{}/{repo}:1", server.addr);
    let pull = |repo: &str| s.sbx_within(std::time::Duration::from_secs(60), &["--config", &cfg, "pull", &at(repo)]);
    let refused = |repo: &str, says: &str| {
        let r = pull(repo);
        assert!(
            r.code == 125 && r.stderr.contains(&format!("{}/{repo}", server.addr)) && r.stderr.contains(says),
            "{repo}: {r:?}"
        );
        assert!(ids(&s).is_empty() && s.layers().is_empty(), "{repo}: the store is unchanged");
        s.assert_clean(0);
    };

    let bad_manifest = |repo: &str, body: Vec<u8>| {
        server.answer(&format!("/v2/{repo}/manifests/1"), Answer::Body(200, MANIFEST_TYPE, body));
    };
    bad_manifest("h/notjson", b"<html>surprise</html>".to_vec());
    refused("h/notjson", "not JSON");
    bad_manifest("h/huge", vec![b' '; 5 << 20]);
    refused("h/huge", "over the limit");
    bad_manifest("h/schema1", br#"{"schemaVersion":1,"name":"h/schema1","fsLayers":[]}"#.to_vec());
    refused("h/schema1", "schema 1");
    server.answer("/v2/h/loop/manifests/1", Answer::Redirect("/v2/h/loop/manifests/1".into()));
    refused("h/loop", "redirect");
    server.answer("/v2/h/slow/manifests/1", Answer::Silent);
    refused("h/slow", "timed out");

    let layer = Layer::new().file("hello", 0o644, b"hi\n").into_bytes();
    let liar = served(vec![layer.clone()], vec![diff_ids(std::slice::from_ref(&layer))[0].clone(); 2]);
    liar.serve(&server, "h/liar");
    refused("h/liar", "lists 2 layers but the manifest has 1");
    // A blob longer than the manifest says is read no further than one byte past it.
    let long = served(vec![layer.clone()], diff_ids(std::slice::from_ref(&layer)));
    long.serve(&server, "h/long");
    let mut more = layer.clone();
    more.extend(vec![0u8; 4 << 20]);
    server
        .answer(&format!("/v2/h/long/blobs/{}", long.layers[0].0), Answer::Body(200, "application/octet-stream", more));
    refused("h/long", "digest mismatch");
    let text = b"this is not a tarball, only some text that says so. ".repeat(40);
    let not_tar = served(vec![text.clone()], diff_ids(&[text]));
    not_tar.serve(&server, "h/nottar");
    refused("h/nottar", &not_tar.layers[0].0);

    // A layer cut short every time: tried again, then refused; the whole layer beside it stays,
    // and once the registry serves it whole the next pull fetches only what was missing.
    let (a, b) = (
        Layer::new().file("a", 0o644, b"a\n").into_bytes(),
        Layer::new().file("b", 0o644, &[7u8; 100_000]).into_bytes(),
    );
    let img = served(vec![a.clone(), b.clone()], diff_ids(&[a, b.clone()]));
    img.serve(&server, "h/cut");
    let cut_path = format!("/v2/h/cut/blobs/{}", img.layers[1].0);
    server.answer(&cut_path, Answer::Cut { body: b.clone(), sent: 50_000 });
    let r = pull("h/cut");
    assert!(r.code == 125 && r.stderr.contains(&img.layers[1].0), "{r:?}");
    assert_eq!(server.hits(&cut_path), 4, "once and three more tries");
    assert_eq!(s.layers().len(), 1, "the whole layer stays");
    assert!(ids(&s).is_empty());
    s.assert_clean(0);
    server.answer(&cut_path, Answer::Body(200, "application/octet-stream", b));
    let r = pull("h/cut");
    assert!(r.code == 0 && r.stdout.contains("Already exists"), "{r:?}");
    assert_eq!(
        server.hits(&format!("/v2/h/cut/blobs/{}", img.layers[0].0)),
        1,
        "the stored layer is not fetched again"
    );
    assert_eq!(ids(&s).len(), 1);

    // What a pull cut short left (a layer no image names) goes with `image prune`, blob and all.
    let (c, d) = (
        Layer::new().file("c", 0o644, b"c\n").into_bytes(),
        Layer::new().file("d", 0o644, &[8u8; 100_000]).into_bytes(),
    );
    let left = served(vec![c.clone(), d.clone()], diff_ids(&[c, d.clone()]));
    left.serve(&server, "h/left");
    server.answer(&format!("/v2/h/left/blobs/{}", left.layers[1].0), Answer::Cut { body: d, sent: 10 });
    let (layers, blobs) = (s.layers(), std::fs::read_dir(s.root.join("blobs/sha256")).unwrap().count());
    assert_eq!(pull("h/left").code, 125);
    assert_eq!(s.layers().len(), layers.len() + 1);
    let r = s.sbx(&["image", "prune", "-f"]);
    // An uncompressed layer: its blob's digest is its diff id, which prune names.
    assert!(r.code == 0 && r.stdout.contains(&format!("deleted: {}", left.layers[0].0)), "{r:?}");
    assert_eq!(s.layers(), layers);
    assert_eq!(std::fs::read_dir(s.root.join("blobs/sha256")).unwrap().count(), blobs);

    // Names that cannot be references, and a registry where nothing listens.
    let before = ids(&s);
    let nowhere = format!("127.0.0.1:{}/h/none", sbx_tests::registry::free_port());
    for (name, says) in [
        (format!("{}/Bad/Name:1", server.addr), "not a valid image reference"),
        (format!("{}/h/tag:{}", server.addr, "t".repeat(129)), "not a valid image reference"),
        (format!("{nowhere}:1"), nowhere.as_str()),
    ] {
        let r = s.sbx_within(std::time::Duration::from_secs(60), &["--config", &cfg, "pull", &name]);
        assert!(r.code == 125 && r.stderr.contains(says), "{name}: {r:?}");
    }
    // A host no resolver can name, looked up in a network namespace of the test's own where
    // nothing is reachable (the resolver neither), the proxy bypassed for that name.
    let mut cmd = s.command_under(&["unshare", "--net"], &["--config", &cfg, "pull", "nosuch.invalid/h/app:1"]);
    let r = output(cmd.env("NO_PROXY", "127.0.0.1,.invalid"));
    assert!(r.code == 125 && r.stderr.contains("cannot find the registry's host nosuch.invalid ("), "{r:?}");
    assert_eq!(ids(&s), before);
    s.assert_clean(0);
}

#[test]
fn save_writes_archives_that_sbx_podman_and_skopeo_load_as_the_same_images() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let base = ids(&s);
    let r = s.sbx(&["run", "--name", "c1", "busybox", "sh", "-c", "echo made > /made"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["commit", "c1", "mine:1"]).code, 0);
    assert_eq!(s.sbx(&["rm", "c1"]).code, 0);
    let all = ids(&s);
    let out = |f: &str| s.scratch.join(f).to_string_lossy().into_owned();

    for (format, file) in [("docker-archive", "d.tar"), ("oci-archive", "o.tar")] {
        let r = s.sbx(&["save", "--format", format, "-o", &out(file), "busybox", "mine:1"]);
        assert_eq!(r.code, 0, "{r:?}");
        // podman loads one image of an oci-archive (it asks which of several): the new one alone.
        let one = out(&format!("one-{file}"));
        let r = s.sbx(&["save", "--format", format, "-o", &one, "mine:1"]);
        assert_eq!(r.code, 0, "{r:?}");
        let s2 = Sandbox::new();
        let r = s2.sbx(&["load", "-i", &out(file)]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(ids(&s2), all, "{format}: the same images");
        let r = s2.sbx(&["run", "--rm", "mine:1", "cat", "/made"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "made\n"), "{r:?}");
        if let Some(p) = Podman::new(&s2) {
            let r = p.podman(&["load", "-i", &one]);
            assert_eq!(r.code, 0, "{format}: {r:?}");
            let loaded = p.ids();
            assert!(
                loaded.len() == 1 && all.contains(&loaded[0]) && !base.contains(&loaded[0]),
                "{format}: {loaded:?}"
            );
        }
    }
    let dir = out("layout");
    let r = s.sbx(&["save", "--format", "oci-dir", "-o", &dir, "mine:1"]);
    assert_eq!(r.code, 0, "{r:?}");
    if has_tool("skopeo") {
        let copied = out("copied.tar");
        let r = output(
            Command::new("skopeo").arg("copy").arg(format!("oci:{dir}")).arg(format!("oci-archive:{copied}:mine:1")),
        );
        assert_eq!(r.code, 0, "{r:?}");
        let s3 = Sandbox::new();
        assert_eq!(s3.sbx(&["load", "-i", &copied]).code, 0);
        let copied_ids = ids(&s3);
        assert!(copied_ids.len() == 1 && all.contains(&copied_ids[0]), "{copied_ids:?} of {all:?}");
    }
    if let Some(p) = Podman::new(&s) {
        assert_eq!(p.podman(&["load", "-i", &out("d.tar")]).code, 0);
        let saved = out("podman.tar");
        let mine = all.iter().find(|i| !base.contains(i)).unwrap().clone();
        let r = p.podman(&["save", "--format", "docker-archive", "-o", &saved, &mine]);
        assert_eq!(r.code, 0, "{r:?}");
        let s4 = Sandbox::new();
        assert_eq!(s4.sbx(&["load", "-i", &saved]).code, 0);
        assert!(ids(&s4).iter().all(|i| all.contains(i)) && ids(&s4).len() == 1, "podman's save is sbx's image");
    }

    // Bad requests leave nothing behind.
    let r = s.sbx(&["save", "-o", &out("none.tar"), "nosuch"]);
    assert!(r.code == 125 && r.stderr.contains("nosuch") && !Path::new(&out("none.tar")).exists(), "{r:?}");
    let r = s.sbx(&["save", "--format", "oci-dir", "-o", &dir, "busybox"]);
    assert!(r.code == 125 && r.stderr.contains("not an empty directory"), "{r:?}");
    let r = s.sbx(&["save", "--format", "oci-dir", "busybox"]);
    assert!(r.code == 125 && r.stderr.contains("-o DIR"), "{r:?}");

    // Removed, an image's blobs go with its layers.
    assert_eq!(s.sbx(&["rmi", "mine:1", "busybox"]).code, 0);
    let blobs: Vec<_> = std::fs::read_dir(s.root.join("blobs/sha256")).unwrap().collect();
    assert!(blobs.is_empty(), "{blobs:?}");
    s.assert_clean(0);
}

#[test]
fn a_registry_that_refuses_a_blob_in_one_request_gets_it_in_chunks() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let Some(reg) = Registry::start(&s.scratch.join("registry"), false) else { return };
    let proxy = BodyLimit::start(&reg.addr, 5 << 20);
    let cfg = s.write_config(&format!("registries:\n  insecure: [\"{}\", \"{}\"]\n", reg.addr, proxy.addr));
    // 12 MiB that no compression shrinks (xorshift), so the layer's blob is over the proxy's limit.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..(12 << 20) / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    s.load(&Image::new("noisy:latest", vec![Layer::new().file("noise", 0o644, &noise)]));
    let r = s.sbx(&["--config", &cfg, "push", "noisy", &format!("{}/big/noisy:1", proxy.addr)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Pushing in chunks"), "{r:?}");
    assert_eq!(
        proxy.refused.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one upload refused, not retried as it was"
    );
    assert!(reg.requests("PATCH /v2/big/noisy/blobs/uploads/").len() >= 3, "12 MiB in 4 MiB chunks");

    // What went up in chunks is the image: pulled straight from the registry, it has the same id.
    let s2 = Sandbox::new();
    let r = s2.sbx(&["--config", &cfg, "pull", "-q", &format!("{}/big/noisy:1", reg.addr)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ids(&s2), ids(&s));
    s.assert_clean(0);
    s2.assert_clean(0);
}
