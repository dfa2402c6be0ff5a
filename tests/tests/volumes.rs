//! Named and anonymous volumes, as docker keeps them: `sbx volume create|ls|inspect|rm|prune`,
//! `-v NAME:/path`, `--mount type=volume|bind|tmpfs`, anonymous volumes for an image's VOLUME
//! paths (filled from the image without following its symlinks, removed by `rm -v` and `--rm`),
//! and the refusals: a volume in use, a bad name, a bad --mount.

use sbx_tests::harness::{Sandbox, is_root};
use sbx_tests::image::{Image, busybox};
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn volumes(s: &Sandbox) -> Vec<String> {
    let r = s.sbx(&["volume", "ls", "-q"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout.lines().map(str::to_string).collect()
}

#[test]
fn a_named_volume_outlives_its_containers_and_is_not_removed_while_used() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["volume", "create", "--label", "tier=db", "data"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "data\n"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "-v", "data:/d", "busybox", "sh", "-c", "echo kept > /d/f"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Read-only, through -v and through --mount; a volume made on first use.
    let r = s.sbx(&["run", "--rm", "-v", "data:/d:ro", "busybox", "sh", "-c", "cat /d/f; touch /d/g"]);
    assert!(r.code != 0 && r.stdout == "kept\n" && r.stderr.contains("Read-only"), "{r:?}");
    let mount = "type=volume,source=data,target=/m,readonly";
    let r = s.sbx(&["run", "--rm", "--mount", mount, "--mount", "src=fresh,dst=/n", "busybox", "cat", "/m/f"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "kept\n"), "{r:?}");
    assert_eq!(volumes(&s), ["data", "fresh"], "a named volume stays after --rm");

    let r = s.sbx(&["volume", "ls"]);
    assert_eq!(r.stdout.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(), ["DRIVER", "VOLUME", "NAME"]);
    let r = s.sbx(&["volume", "ls", "-q", "--filter", "label=tier=db"]);
    assert_eq!(r.stdout, "data\n", "{r:?}");
    let r = s.sbx(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}", "--filter", "name=fre"]);
    assert_eq!(r.stdout, "fresh local\n", "{r:?}");
    let r = s.sbx(&["volume", "inspect", "data"]);
    let v = &json(&r.stdout)[0];
    let mountpoint = s.root.join("volumes/data/_data");
    assert_eq!(v["Mountpoint"], json!(mountpoint), "{v}");
    assert_eq!((v["Driver"].as_str(), &v["Labels"]), (Some("local"), &json!({"tier": "db"})), "{v}");
    assert_eq!(std::fs::read_to_string(mountpoint.join("f")).unwrap(), "kept\n");
    assert_eq!(s.sbx(&["inspect", "-f", "{{.Name}}", "data"]).stdout, "data\n", "inspect finds volumes too");

    // In use by a container, running or not: refused with exit 1, naming the container.
    assert_eq!(s.sbx(&["create", "--name", "holder", "-v", "data:/d", "busybox"]).code, 0);
    let r = s.sbx(&["volume", "rm", "data"]);
    assert!(r.code == 1 && r.stderr.contains("volume data is in use by container holder"), "{r:?}");
    let r = s.sbx(&["volume", "prune", "-a", "-f"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(volumes(&s), ["data"], "prune -a removes only the unused one");
    let r = s.sbx(&["inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}", "holder"]);
    assert_eq!(r.stdout, "volume data /d true\n", "{r:?}");
    assert_eq!(s.sbx(&["rm", "-v", "holder"]).code, 0);
    assert_eq!(volumes(&s), ["data"], "rm -v keeps named volumes");
    let r = s.sbx(&["volume", "rm", "data"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "data\n"), "{r:?}");
    let r = s.sbx(&["volume", "rm", "data"]);
    assert!(r.code == 1 && r.stderr.contains("no such volume: data"), "{r:?}");
    assert_eq!(s.sbx(&["volume", "rm", "-f", "data"]).code, 0, "-f: a missing volume is no error");

    // Bad input, named.
    let r = s.sbx(&["volume", "create", "a b"]);
    assert!(r.code == 125 && r.stderr.contains("'a b' is not a valid volume name"), "{r:?}");
    let r = s.sbx(&["volume", "create", "-o", "type=nfs", "x1"]);
    assert!(r.code == 125 && r.stderr.contains("volume option 'type=nfs' is not supported"), "{r:?}");
    for (flags, says) in [
        (&["-v", "b@d:/d"][..], "'b@d' is not a valid volume name"),
        (&["--mount", "type=nfs,dst=/d"][..], "unknown type 'nfs'"),
        (&["--mount", "type=bind,src=/nonexistent-sbx,dst=/d"][..], "/nonexistent-sbx"),
        (&["--mount", "type=volume,src=x1"][..], "destination (dst, target) is required"),
        (&["-v", "x1:/d", "--userns=auto"][..], "not supported with --userns=auto"),
    ] {
        let r = s.sbx(&[&["run", "--rm"], flags, &["busybox", "true"]].concat());
        assert!(r.code == 125 && r.stderr.contains(says), "{flags:?}: {r:?}");
    }
    assert!(volumes(&s).is_empty(), "a refused run makes no volume");
    s.assert_clean(0);
}

#[test]
fn an_images_volumes_are_anonymous_filled_from_the_image_without_following_its_links() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let layer = busybox()
        .unwrap()
        .dir("data", 0o750)
        .file_owned("data/seed", 0o640, 1000, 1000, b"from the image\n")
        .symlink("data/escape", "/etc/shadow")
        .symlink("link", "/data");
    let config = json!({"Env": ["PATH=/bin"], "Cmd": ["sh"], "Volumes": {"/data": {}, "/link": {}, "/empty": {}}});
    s.load(&Image::new("vol:latest", vec![layer]).with_config(config));

    let script = "cat /data/seed; readlink /data/escape; echo new > /data/w; ls /empty | wc -l";
    let r = s.sbx(&["run", "--name", "c1", "vol", "sh", "-c", script]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "from the image\n/etc/shadow\n0\n"), "{r:?}");
    let mounts = json(&s.sbx(&["inspect", "-f", "{{json .Mounts}}", "c1"]).stdout);
    let data = mounts.as_array().unwrap().iter().find(|m| m["Destination"] == "/data").expect("/data").clone();
    assert_eq!(data["Type"], "volume", "{mounts}");
    let dir = std::path::PathBuf::from(data["Source"].as_str().unwrap());
    // Owner, mode and content as the image has them; its link copied as a link, not followed.
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o750);
    let seed = std::fs::metadata(dir.join("seed")).unwrap();
    assert_eq!((seed.uid(), seed.gid(), seed.mode() & 0o7777), (1000, 1000, 0o640));
    assert_eq!(std::fs::read_link(dir.join("escape")).unwrap(), std::path::Path::new("/etc/shadow"));
    // /link is the image's link to /data, followed inside the container's root: its volume is
    // filled from /data and mounted on /data, over the first, so the container wrote there.
    let link = mounts.as_array().unwrap().iter().find(|m| m["Destination"] == "/link").expect("/link").clone();
    let link = std::path::PathBuf::from(link["Source"].as_str().unwrap());
    assert!(link.join("seed").is_file() && !dir.join("w").exists(), "{mounts}");
    assert_eq!(std::fs::read_to_string(link.join("w")).unwrap(), "new\n");
    assert_eq!(volumes(&s).len(), 3);

    // rm keeps them (docker's), prune removes the anonymous ones no container uses.
    assert_eq!(s.sbx(&["rm", "c1"]).code, 0);
    assert_eq!(volumes(&s).len(), 3);
    let r = s.sbx(&["system", "df"]);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("Local Volumes") && l.split_whitespace().nth(2) == Some("3")),
        "{r:?}"
    );
    let r = s.sbx(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert!(r.stdout.lines().any(|l| l == "Local Volumes=3"), "{r:?}");
    let r = s.sbx(&["volume", "prune", "-f"]);
    assert!(r.code == 0 && r.stdout.starts_with("Deleted Volumes:"), "{r:?}");
    assert!(volumes(&s).is_empty());

    // --rm and rm -v remove a container's anonymous volumes; a named one at an image's VOLUME
    // path replaces that anonymous volume, filled from the image unless nocopy.
    assert_eq!(s.sbx(&["run", "--rm", "vol", "true"]).code, 0);
    assert!(volumes(&s).is_empty(), "--rm removes them");
    assert_eq!(s.sbx(&["run", "--name", "c2", "-v", "/extra", "vol", "true"]).code, 0);
    assert_eq!(volumes(&s).len(), 4);
    assert_eq!(s.sbx(&["rm", "-v", "c2"]).code, 0);
    assert!(volumes(&s).is_empty(), "rm -v removes them");
    let r = s.sbx(&["run", "--rm", "-v", "mine:/data", "-v", "bare:/link:nocopy", "vol", "ls", "/data"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "/link's empty volume is on /data, over mine: {r:?}");
    assert_eq!(volumes(&s), ["bare", "mine"], "named volumes stay; the anonymous /empty went with --rm");
    assert!(s.root.join("volumes/mine/_data/seed").is_file(), "a new named volume is filled");
    assert_eq!(std::fs::read_dir(s.root.join("volumes/bare/_data")).unwrap().count(), 0, "nocopy");
    s.assert_clean(0);
}

#[test]
fn a_new_anonymous_volume_does_not_keep_a_run_from_the_cached_policy_decision() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let image = Image::new("volcache:latest", vec![busybox().unwrap()]).with_config(json!({
        "Cmd": ["sh", "-c", "touch /data/x && echo ran"],
        "Volumes": { "/data": {} },
        "Labels": { "sbx.test.hostile": "log" },
    }));
    s.load(&image);
    let policy = sbx_tests::harness::plugin_arg("test-hostile");
    let run = || {
        let r = s.sbx(&["--log-level", "info", "run", "--rm", "--policy", &policy, "volcache"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{r:?}");
        r.stderr.contains("test-hostile checked the image")
    };
    assert!(run(), "the first run asks the plugin");
    assert!(!run(), "the second, with another anonymous volume, reads the decision");
    assert!(volumes(&s).is_empty(), "each went with its --rm container");
    s.assert_clean(0);
}
