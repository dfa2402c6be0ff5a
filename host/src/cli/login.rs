//! `sbx login [-u USER] [-p PASSWORD | --password-stdin] REGISTRY` and `sbx logout REGISTRY`: the
//! credentials are checked with the registry, then kept in podman's auth file (mode 0600), which
//! podman, skopeo and buildah read too.

use crate::config::Config;
use crate::registry::{auth, login};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The registry: HOST[:PORT].
    pub registry: String,
    #[arg(short, long)]
    pub username: Option<String>,
    /// The password (visible to other users in the process list: prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// The credentials file [default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json].
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry: HOST[:PORT].
    pub registry: String,
    /// The credentials file [default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json].
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

/// The registry host of `arg` (docker accepts `https://host/` too), or an error to show.
fn registry_host(arg: &str) -> Result<String, String> {
    let host = auth::key_host(arg).to_string();
    if crate::image::reference::is_domain(&host) || host == "docker.io" {
        Ok(host)
    } else {
        Err(format!("'{arg}' is not a registry: give its host, as registry.example:5000 or docker.io"))
    }
}

/// A line from the terminal, echoed or not.
fn prompt(label: &str, echo: bool) -> Result<String, String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    print!("{label}");
    let _ = std::io::stdout().flush();
    let saved = (!echo).then(|| tcgetattr(&stdin).ok()).flatten();
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = &saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, t);
        println!();
    }
    read.map_err(|e| format!("cannot read the {}: {e}", label.trim_end_matches(": ").to_lowercase()))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(args: LoginArgs, config: &Config) -> i32 {
    let host = match registry_host(&args.registry) {
        Ok(h) => h,
        Err(e) => return super::fail(e),
    };
    let terminal = std::io::stdin().is_terminal() && !args.password_stdin;
    let user = match (args.username, terminal) {
        (Some(u), _) => u,
        (None, true) => match prompt("Username: ", true) {
            Ok(u) => u,
            Err(e) => return super::fail(e),
        },
        (None, false) => return super::fail("no username: give it with -u USER"),
    };
    let password = match (args.password, args.password_stdin, terminal) {
        (Some(p), _, _) => p,
        (None, true, _) => {
            let mut line = String::new();
            if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                return super::fail(format!("cannot read the password from stdin: {e}"));
            }
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false, true) => match prompt("Password: ", false) {
            Ok(p) => p,
            Err(e) => return super::fail(e),
        },
        (None, false, false) => return super::fail("no password: give it with --password-stdin (or -p)"),
    };
    if user.is_empty() || password.is_empty() {
        return super::fail("a login needs a username and a password that are not empty");
    }
    if let Err(e) = login::verify(&config.registries, &host, &user, &password) {
        return super::fail(e);
    }
    let file = super::pull::auth_files(args.authfile.as_deref()).remove(0);
    match auth::store(&file, &host, Some((&user, &password))) {
        Ok(_) => {
            say!("Login Succeeded");
            0
        }
        Err(e) => super::fail(e),
    }
}

pub fn logout(args: LogoutArgs) -> i32 {
    let host = match registry_host(&args.registry) {
        Ok(h) => h,
        Err(e) => return super::fail(e),
    };
    let file: PathBuf = super::pull::auth_files(args.authfile.as_deref()).remove(0);
    if !Path::new(&file).exists() {
        say!("Not logged in to {host}");
        return 0;
    }
    match auth::store(&file, &host, None) {
        Ok(true) => {
            say!("Removed login credentials for {host}");
            0
        }
        Ok(false) => {
            say!("Not logged in to {host}");
            0
        }
        Err(e) => super::fail(e),
    }
}
