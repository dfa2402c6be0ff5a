//! Bridge networks, as docker's: the default `bridge` network, user-defined networks whose
//! containers find each other by name and alias and not across networks, `--internal` networks
//! with no way out, masquerade for the others, addresses never leased twice (20 runs at once),
//! and nothing left behind (veths, bridges, nftables tables, leases) after `rm -f`, `network rm`,
//! or an sbx killed while its container ran. Every test runs in a network namespace of its own
//! (`NetNs`), with a second one as the "outside" where a test needs one: nothing here touches the
//! machine's network.

use sbx_tests::harness::{NetNs, Sandbox, is_root, plugin_arg, wait_for};
/// The links of `ns` that sbx made: bridges (`sbx-…`) and veths (`sbx…`).
fn sbx_links(ns: &NetNs) -> Vec<String> {
    ns.run(&["ip", "-o", "link"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with("sbx"))
        .collect()
}

fn leases(s: &Sandbox, network: &str) -> Vec<String> {
    std::fs::read_dir(s.root.join("networks").join(network).join("leases"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn ip_of(s: &Sandbox, ns: &NetNs, name: &str) -> String {
    let r = s.sbx_in(ns, &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name]);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout.trim().to_string()
}

#[test]
fn the_default_network_gives_a_container_an_address_a_route_and_its_own_hosts_line() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    let r = s.sbx_in(
        &ns,
        &[
            "run",
            "--rm",
            "--hostname",
            "web",
            "busybox",
            "sh",
            "-c",
            "ip -o -4 addr show eth0; ip route; cat /etc/hosts",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let addr = r.stdout.split_whitespace().find(|w| w.starts_with("10.99.")).expect("an address of the pool");
    let ip = addr.split('/').next().unwrap();
    assert!(r.stdout.contains("default via 10.99."), "{r:?}");
    assert!(r.stdout.contains(&format!("{ip}\tweb\n")), "its own name for its address: {r:?}");
    let r = s.sbx_in(&ns, &["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(r.stdout, "bridge bridge\n", "{r:?}");
    let r = s.sbx_in(&ns, &["network", "rm", "bridge"]);
    assert!(r.code == 125 && r.stderr.contains("bridge is the default network and cannot be removed"), "{r:?}");
    // `--network none` is still there: loopback only.
    let r = s.sbx_in(&ns, &["run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"]);
    assert!(r.code == 0 && r.stdout.lines().count() == 1 && r.stdout.contains("lo"), "{r:?}");
    wait_for("the veth to go with the container's namespace", || sbx_links(&ns).iter().all(|l| l.starts_with("sbx-")));
    assert!(leases(&s, "bridge").is_empty(), "{:?}", leases(&s, "bridge"));
    s.assert_clean(0);
}

#[test]
fn containers_of_a_network_find_each_other_by_name_and_not_across_networks_and_internal_has_no_way_out() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    // The "outside": a second namespace routed from the first, reached only through masquerade
    // (it has no route back to the containers' subnets).
    let far = NetNs::new();
    ns.run(&["ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1", "netns", &far.name]);
    ns.run(&["ip", "addr", "add", "198.51.100.2/24", "dev", "out0"]);
    ns.run(&["ip", "link", "set", "out0", "up"]);
    far.run(&["ip", "addr", "add", "198.51.100.1/24", "dev", "out1"]);
    far.run(&["ip", "link", "set", "out1", "up"]);
    let s = Sandbox::with_busybox();
    for args in [
        &["network", "create", "app"][..],
        &["network", "create", "other"],
        &["network", "create", "--internal", "closed"],
    ] {
        let r = s.sbx_in(&ns, args);
        assert!(r.code == 0 && r.stdout.trim().len() == 64, "{r:?}");
    }
    let r = s.sbx_in(
        &ns,
        &[
            "run",
            "-d",
            "--name",
            "db",
            "--network",
            "app",
            "--network-alias",
            "database",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let db = ip_of(&s, &ns, "db");
    // busybox's nc: its wget looks up the "http" service through NSS, which a static glibc
    // binary cannot load.
    let fetch = |network: &str, host: &str| {
        let get = format!("printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80");
        s.sbx_in(&ns, &["run", "--rm", "--network", network, "busybox", "sh", "-c", &get])
    };
    for host in ["db", "database", db.as_str()] {
        let r = fetch("app", host);
        assert!(r.code == 0 && r.stdout.contains("root:x:0:0"), "{host}: {r:?}");
    }
    let r = fetch("other", "db");
    assert!(r.code != 0 && !r.stdout.contains("root:"), "another network does not know the name: {r:?}");
    let r = s.sbx_in(&ns, &["run", "--rm", "--network", "other", "busybox", "cat", "/etc/hosts"]);
    let names_db = r.stdout.split_whitespace().any(|w| w == "db" || w == "database" || w == db);
    assert!(r.code == 0 && !names_db, "{r:?}");
    let r = fetch("other", &db);
    assert!(r.code != 0, "nor reaches its address: {r:?}");
    let r = s.sbx_in(&ns, &["exec", "db", "cat", "/etc/hosts"]);
    assert!(r.stdout.contains(&format!("{db}\t")), "{r:?}");

    // Out through masquerade; not from an internal network.
    let ping = |network: &str| {
        s.sbx_in(&ns, &["run", "--rm", "--network", network, "busybox", "ping", "-c", "1", "-W", "2", "198.51.100.1"])
    };
    let r = ping("app");
    assert_eq!(r.code, 0, "{r:?}");
    let r = ping("closed");
    assert!(r.code != 0 && r.stderr.contains("unreachable"), "{r:?}");

    let r = s.sbx_in(&ns, &["network", "inspect", "-f", "{{.Internal}} {{len .Containers}}", "closed", "app"]);
    assert_eq!(r.stdout, "true 0\nfalse 1\n", "{r:?}");
    let r = s.sbx_in(&ns, &["network", "rm", "app"]);
    assert!(r.code == 125 && r.stderr.contains("network app is in use by container db"), "{r:?}");
    assert_eq!(s.sbx_in(&ns, &["rm", "-f", "db"]).code, 0);
    let r = s.sbx_in(&ns, &["network", "rm", "app", "other"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "app\nother\n"), "{r:?}");
    let r = s.sbx_in(&ns, &["network", "prune", "-f"]);
    assert!(r.code == 0 && r.stdout.contains("closed"), "{r:?}");
    wait_for("sbx's links to go", || sbx_links(&ns).is_empty());
    let rules = ns.run(&["nft", "list", "ruleset"]);
    assert!(!rules.contains("sbx"), "{rules}");
    s.assert_clean(0);
}

#[test]
fn published_ports_answer_on_the_address_asked_and_a_taken_port_is_refused() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    let get = |port: &str| {
        let script = format!("printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 127.0.0.1 {port}");
        ns.run(&["sh", "-c", &script])
    };
    let web = ["run", "-d", "--name", "web", "-p", "127.0.0.1:8080:80", "-p", "8081:80", "-p", "90/udp"];
    let r = s.sbx_in(&ns, &[&web[..], &["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("httpd to answer on 127.0.0.1:8080", || get("8080").contains("root:x:0:0"));
    assert!(get("8081").contains("root:x:0:0"));
    let r = s.sbx_in(&ns, &["port", "web"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[..2], ["80/tcp -> 127.0.0.1:8080", "80/tcp -> 0.0.0.0:8081"], "{r:?}");
    assert!(lines[2].starts_with("90/udp -> 0.0.0.0:") && !lines[2].ends_with(":0"), "a free port chosen: {r:?}");
    assert_eq!(s.sbx_in(&ns, &["port", "web", "80"]).stdout, "127.0.0.1:8080\n0.0.0.0:8081\n");
    let r = s.sbx_in(&ns, &["port", "web", "81"]);
    assert!(r.code == 1 && r.stderr.contains("no public port '81/tcp' published for web"), "{r:?}");
    let r = s.sbx_in(&ns, &["ps", "--format", "{{.Ports}}"]);
    assert!(r.stdout.starts_with("127.0.0.1:8080->80/tcp, 0.0.0.0:8081->80/tcp, 0.0.0.0:"), "{r:?}");
    let r = s.sbx_in(&ns, &["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"]);
    assert!(
        r.stdout
            .contains(r#""80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"},{"HostIp":"0.0.0.0","HostPort":"8081"}]"#),
        "{r:?}"
    );

    // From another network's container, through the host's address on its own network.
    assert_eq!(s.sbx_in(&ns, &["network", "create", "--subnet", "10.124.0.0/24", "other"]).code, 0);
    let script = "printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.124.0.1 8081";
    let r = s.sbx_in(&ns, &["run", "--rm", "--network", "other", "busybox", "sh", "-c", script]);
    assert!(r.code == 0 && r.stdout.contains("root:x:0:0"), "{r:?}");

    // Taken: by another container, or by a listener of the host.
    let r = s.sbx_in(&ns, &["run", "-d", "--name", "late", "-p", "127.0.0.1:8080:80", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("port 8080/tcp is already in use on 127.0.0.1"), "{r:?}");
    // As docker's, the container stays, created but not started.
    assert_eq!(s.sbx_in(&ns, &["inspect", "-f", "{{.State.Status}}", "late"]).stdout, "created\n");
    assert_eq!(s.sbx_in(&ns, &["rm", "late"]).code, 0);
    let listener = ns.listen("0.0.0.0:9000");
    let r = s.sbx_in(&ns, &["run", "--rm", "-p", "9000:80", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("port 9000/tcp is already in use on 0.0.0.0"), "{r:?}");
    drop(listener);
    for (args, says) in [
        (
            &["run", "--rm", "--network", "none", "-p", "80", "busybox", "true"][..],
            "publishing 80/tcp needs a bridge network",
        ),
        (&["run", "--rm", "-p", "80/sctp", "busybox", "true"], "bad -p '80/sctp'"),
    ] {
        let r = s.sbx_in(&ns, args);
        assert!(r.code == 125 && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    assert_eq!(s.sbx_in(&ns, &["network", "create", "--internal", "closed"]).code, 0);
    let r = s.sbx_in(&ns, &["run", "--rm", "--network", "closed", "-p", "80", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("network closed is internal"), "{r:?}");

    assert_eq!(s.sbx_in(&ns, &["rm", "-f", "web"]).code, 0);
    let rules = ns.run(&["nft", "list", "ruleset"]);
    assert!(!rules.contains("sbx-c-"), "{rules}");
    let reserved = std::fs::read_dir(s.root.join("networks/.ports")).unwrap().count();
    assert_eq!(reserved, 0, "no port stays reserved");
    s.assert_clean(0);
}

#[test]
fn network_rules_refuses_networks_and_addresses_its_settings_do_not_allow_and_moves_ports_to_one() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx_in(&ns, &["network", "create", "app"]).code, 0);
    let rules = |settings: &str| {
        s.write_config(&format!("plugins:\n  - path: {}\n    settings: {settings}\n", plugin_arg("network-rules")))
    };
    let strict = rules("{ networks: [app], ports: [8000, 8999] }");
    for (args, says) in [
        (&["--network", "bridge"][..], "network bridge is not allowed (allowed: app)"),
        (&["--network", "app", "-p", "127.0.0.1:80:80"], "host port 80 (for 80/tcp) is outside 8000-8999"),
        (&["--network", "app", "-p", "8080:80"], "port 80/tcp is published on every host address"),
    ] {
        let r =
            s.sbx_in(&ns, &[&["--config", strict.as_str(), "run", "--rm"][..], args, &["busybox", "true"]].concat());
        assert!(r.code == 125 && r.stderr.contains("network-rules") && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    let r = s.sbx_in(
        &ns,
        &["--config", &strict, "run", "--rm", "--network", "app", "-p", "127.0.0.1:8080:80", "busybox", "true"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    // Connecting later is checked as a create is: the policy refuses the network there too.
    let r = s.sbx_in(&ns, &["--config", &strict, "create", "--name", "later", "--network", "app", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx_in(&ns, &["--config", &strict, "network", "connect", "bridge", "later"]);
    assert!(r.code == 125 && r.stderr.contains("network bridge is not allowed (allowed: app)"), "{r:?}");
    let r = s.sbx_in(&ns, &["inspect", "-f", "{{len .NetworkSettings.Networks}}", "later"]);
    assert_eq!(r.stdout.trim(), "1", "a refused connect changes nothing: {r:?}");
    assert_eq!(s.sbx_in(&ns, &["rm", "later"]).code, 0);
    let moving = rules("{ publish_on: 127.0.0.1 }");
    let r =
        s.sbx_in(&ns, &["--config", &moving, "run", "-d", "--name", "web", "-p", "8080:80", "busybox", "sleep", "60"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx_in(&ns, &["port", "web"]).stdout, "80/tcp -> 127.0.0.1:8080\n");
    assert_eq!(s.sbx_in(&ns, &["rm", "-f", "web"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn twenty_containers_started_at_once_get_distinct_addresses_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx_in(&ns, &["network", "create", "--subnet", "10.123.0.0/24", "many"]).code, 0);
    let names: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    std::thread::scope(|scope| {
        for name in &names {
            let (s, ns) = (&s, &ns);
            scope.spawn(move || {
                let r = s.sbx_in(ns, &["run", "-d", "--name", name, "--network", "many", "busybox", "sleep", "60"]);
                assert_eq!(r.code, 0, "{name}: {r:?}");
            });
        }
    });
    let mut ips: Vec<String> = names.iter().map(|n| ip_of(&s, &ns, n)).collect();
    assert!(ips.iter().all(|ip| ip.starts_with("10.123.0.")), "{ips:?}");
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "{ips:?}");
    assert_eq!(leases(&s, "many").len(), 20);
    let mut rm = vec!["rm", "-f"];
    rm.extend(names.iter().map(String::as_str));
    assert_eq!(s.sbx_in(&ns, &rm).code, 0);
    assert!(leases(&s, "many").is_empty(), "{:?}", leases(&s, "many"));
    wait_for("the veths to go", || sbx_links(&ns).iter().all(|l| l.starts_with("sbx-")));
    assert_eq!(s.sbx_in(&ns, &["network", "rm", "many"]).code, 0);
    assert!(sbx_links(&ns).is_empty(), "{:?}", sbx_links(&ns));
    assert!(!ns.run(&["nft", "list", "ruleset"]).contains("sbx"));
    s.assert_clean(0);
}

#[test]
fn what_a_killed_sbx_left_on_a_network_goes_with_rm() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx_in(&ns, &["network", "create", "net1"]).code, 0);
    let mut child =
        s.command_in(&ns, &["run", "--name", "victim", "--network", "net1", "busybox", "sleep", "60"]).spawn().unwrap();
    wait_for("its lease", || leases(&s, "net1").len() == 1);
    wait_for("it to run", || s.sbx_in(&ns, &["inspect", "-f", "{{.State.Running}}", "victim"]).stdout == "true\n");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(leases(&s, "net1").len(), 1, "the killed sbx could not give it back");
    let r = s.sbx_in(&ns, &["rm", "-f", "victim"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(leases(&s, "net1").is_empty(), "{:?}", leases(&s, "net1"));
    wait_for("its veth to go", || sbx_links(&ns).iter().all(|l| l.starts_with("sbx-")));
    s.assert_clean(0);
}

#[test]
fn bad_network_input_is_refused_by_name_and_makes_nothing() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx_in(&ns, &["network", "create", "--subnet", "10.77.0.0/16", "taken"]).code, 0);
    for (args, says) in [
        (&["network", "create", "taken"][..], "network taken exists"),
        (&["network", "create", "--subnet", "10.77.5.0/24", "x"], "overlaps network taken (10.77.0.0/16)"),
        (&["network", "create", "--subnet", "10.1.2.3", "x"], "bad --subnet '10.1.2.3'"),
        (&["network", "create", "--subnet", "10.1.2.0/24", "--gateway", "10.9.9.9", "x"], "bad --gateway '10.9.9.9'"),
        (&["network", "create", "--subnet", "fd00::/64", "x"], "IPv6"),
        (&["network", "create", "a/b"], "not a valid network name"),
        (&["network", "rm", "nope"], "no such network: nope"),
        (&["run", "--rm", "--network", "nope", "busybox", "true"], "no such network: nope"),
        (
            &["run", "--rm", "--network", "bridge", "--network-alias", "x", "busybox", "true"],
            "--network-alias needs a user-defined network",
        ),
        (&["run", "--rm", "--network", "container:db", "busybox", "true"], "is not supported"),
        (&["run", "--rm", "--dns", "not-an-ip", "busybox", "true"], "bad --dns 'not-an-ip'"),
    ] {
        let r = s.sbx_in(&ns, args);
        assert!(r.code == 125 && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    let r = s.sbx_in(&ns, &["network", "ls", "-q", "--filter", "name=x"]);
    assert_eq!(r.stdout, "", "nothing half-made: {r:?}");
    s.assert_clean(0);
}

/// `--network slirp4netns` as root: the container's tap0 and route, slirp4netns's forwarder first
/// in its resolv.conf, a published port answering in the namespace; and slirp4netns's sandbox
/// leaves the host's mounts alone (run by root in the host's mount namespace, its unmount of the
/// old root used to reach `ip netns`'s shared mounts and unmount this very namespace's file).
#[test]
fn slirp4netns_gives_root_containers_a_user_mode_network_and_leaves_the_hosts_mounts() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    let r = s.sbx_in(
        &ns,
        &[
            "run",
            "--rm",
            "--network",
            "slirp4netns",
            "busybox",
            "sh",
            "-c",
            "ip -o -4 addr show tap0; ip route; cat /etc/resolv.conf",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("10.0.2.100/24") && r.stdout.contains("default via 10.0.2.2"), "{r:?}");
    assert!(r.stdout.contains("nameserver 10.0.2.3\n"), "{r:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(mounts.contains(&ns.path()), "the namespace's file is still mounted: {mounts}");

    let serve = "echo served > /tmp/index.html; exec httpd -f -p 80 -h /tmp";
    let r = s.sbx_in(
        &ns,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "slirp4netns",
            "-p",
            "127.0.0.1:18081:80",
            "busybox",
            "sh",
            "-c",
            serve,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let get = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | busybox nc 127.0.0.1 18081";
    wait_for("the published port to answer", || {
        let out =
            std::process::Command::new("nsenter").arg(format!("--net={}", ns.path())).args(["sh", "-c", get]).output();
        out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).ends_with("served\n"))
    });
    let r = s.sbx_in(&ns, &["inspect", "-f", "{{.HostConfig.NetworkMode}} {{json .NetworkSettings.Ports}}", "web"]);
    assert_eq!(r.stdout.trim(), r#"slirp4netns {"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18081"}]}"#, "{r:?}");
    assert_eq!(s.sbx_in(&ns, &["rm", "-f", "web"]).code, 0);
    // (It runs in the container's directory.)
    wait_for("slirp4netns to end with the container", || {
        let out = std::process::Command::new("pgrep").args(["-x", "slirp4netns"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).ok())
            .all(|cwd| !cwd.starts_with(&s.root))
    });
}

/// `network connect` and `disconnect`, as docker's: a running container gets (or loses) an
/// interface on the network at once, its peers there resolve it by name and alias (or no longer),
/// its lease goes when it stops or leaves, and the change holds for its next start; bad requests
/// are refused by name with docker's exit status 1.
#[test]
fn connect_and_disconnect_change_a_running_containers_networks_at_once_and_for_its_next_start() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let s = Sandbox::with_busybox();
    for net in ["front", "back"] {
        assert_eq!(s.sbx_in(&ns, &["network", "create", net]).code, 0);
    }
    for (name, net) in [("db", "back"), ("app", "front")] {
        let r = s.sbx_in(&ns, &["run", "-d", "--name", name, "--network", net, "busybox", "sleep", "1000"]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let reaches = |from: &str, to: &str| s.sbx_in(&ns, &["exec", from, "ping", "-c1", "-W2", to]).code == 0;
    assert!(!reaches("app", "db"), "not across networks");

    let r = s.sbx_in(&ns, &["network", "connect", "--alias", "api", "back", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx_in(&ns, &["exec", "app", "ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(r.code == 0 && r.stdout.contains("inet 10.99."), "a second interface at once: {r:?}");
    assert!(reaches("app", "db") && reaches("db", "app") && reaches("db", "api"), "by name and alias");
    assert_eq!(leases(&s, "back").len(), 2);

    for (args, code, says) in [
        (&["connect", "back", "app"][..], 1, "container app is already on network back"),
        (&["connect", "nonet", "app"], 1, "no such network: nonet"),
        (&["connect", "back", "nobody"], 1, "no such container: nobody"),
        (&["connect", "--alias", "x", "bridge", "app"], 1, "--alias needs a user-defined network, not bridge"),
        (&["disconnect", "bridge", "app"], 1, "container app is not on network bridge"),
    ] {
        let r = s.sbx_in(&ns, &[&["network"][..], args].concat());
        assert!(r.code == code && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    assert_eq!(s.sbx_in(&ns, &["network", "disconnect", "-f", "bridge", "app"]).code, 0);
    let r = s.sbx_in(&ns, &["create", "--name", "alone", "--network", "none", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx_in(&ns, &["network", "connect", "back", "alone"]);
    assert!(r.code == 1 && r.stderr.contains("container alone is on network none"), "{r:?}");
    let r = s.sbx_in(&ns, &["network", "rm", "back"]);
    assert!(r.code != 0 && r.stderr.contains("app") && r.stderr.contains("db"), "in use by both: {r:?}");

    let r = s.sbx_in(&ns, &["network", "disconnect", "back", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx_in(&ns, &["exec", "app", "ip", "-o", "link"]);
    assert!(!r.stdout.contains("eth1"), "its interface is gone: {r:?}");
    assert!(!reaches("db", "app") && !reaches("db", "api"), "its names are gone from its peers");
    assert_eq!(leases(&s, "back").len(), 1);

    // For its next start: connected while it runs, the lease goes when it stops and comes back
    // with it.
    assert_eq!(s.sbx_in(&ns, &["network", "connect", "back", "app"]).code, 0);
    assert_eq!(s.sbx_in(&ns, &["stop", "-t", "0", "app"]).code, 0);
    assert_eq!(leases(&s, "back").len(), 1, "its lease went with it");
    // (At once: the kernel may not have removed the veths of its run before yet.)
    let r = s.sbx_in(&ns, &["start", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(reaches("app", "db"), "still on back after a restart");
    // Off every network, it has loopback only from its next start.
    for net in ["front", "back"] {
        assert_eq!(s.sbx_in(&ns, &["network", "disconnect", net, "app"]).code, 0);
    }
    assert_eq!(s.sbx_in(&ns, &["inspect", "-f", "{{.HostConfig.NetworkMode}}", "app"]).stdout.trim(), "none");

    assert_eq!(s.sbx_in(&ns, &["rm", "-f", "app", "db", "alone"]).code, 0);
    assert_eq!(s.sbx_in(&ns, &["network", "rm", "front", "back"]).code, 0);
    assert!(sbx_links(&ns).is_empty(), "{:?}", sbx_links(&ns));
    assert!(leases(&s, "back").is_empty());
}
