//! `sbx plugin new --lang rust|python|js NAME`: a ready-to-build policy skeleton with its build
//! script (plugins/toolchains.sh written into it: the toolchains and pins of plugins/build.sh)
//! and a test suite, from plugins/templates. The Python and JavaScript skeletons carry a
//! copy of their SDK and of the WIT, so they build anywhere; the Rust one names the sbx-plugin
//! crate by path. The files are planned first (pure), then written into a new directory.

use std::path::{Path, PathBuf};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and dashes (the component is NAME.wasm).
    name: String,
    /// The language it is written in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The directory to make (default: ./NAME); it must not exist.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// For Rust: the sbx-plugin crate (plugins/sdk of sbx's sources; default: the one beside this
    /// sbx when it runs from its build directory).
    #[arg(long)]
    sdk: Option<PathBuf>,
}

const TOOLCHAINS: &str = include_str!("../../../plugins/toolchains.sh");
const WIT: &str = include_str!("../../../plugins/wit/plugin.wit");
const SUITE: &str = include_str!("../../../plugins/templates/tests.yaml");

/// A file of the skeleton: its path in the new directory, its text, and whether it is a script.
#[derive(Debug, PartialEq)]
pub struct File {
    pub path: &'static str,
    pub text: String,
    pub executable: bool,
}

/// Why `name` cannot name a plugin, if it cannot.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' cannot name a plugin: use lowercase letters, digits and dashes, starting with a letter (it names NAME.wasm and the crate)"
        ))
    }
}

/// The files of a `lang` skeleton named `name`; `sdk` is the Rust SDK's path.
pub fn plan(lang: Lang, name: &str, sdk: &Path) -> Vec<File> {
    let fill = |t: &str| {
        t.replace("__NAME__", name)
            .replace("__CRATE__", &name.replace('-', "_"))
            .replace("__SDK__", &sdk.display().to_string())
            .replace("__TOOLCHAINS__", TOOLCHAINS.trim_end())
    };
    let file = |path, text: &str, executable| File { path, text: fill(text), executable };
    let mut files = vec![file("tests.yaml", SUITE, false)];
    match lang {
        Lang::Rust => files.extend([
            file("Cargo.toml", include_str!("../../../plugins/templates/rust/Cargo.toml"), false),
            file("src/lib.rs", include_str!("../../../plugins/templates/rust/src/lib.rs"), false),
            file("build.sh", include_str!("../../../plugins/templates/rust/build.sh"), true),
            file(".gitignore", "/target\n*.wasm\n", false),
        ]),
        Lang::Python => files.extend([
            file("policy.py", include_str!("../../../plugins/templates/python/policy.py"), false),
            file("build.sh", include_str!("../../../plugins/templates/python/build.sh"), true),
            File {
                path: "sbx_plugin/__init__.py",
                text: include_str!("../../../plugins/sdk-python/sbx_plugin/__init__.py").into(),
                executable: false,
            },
            File { path: "wit/plugin.wit", text: WIT.into(), executable: false },
            file(".gitignore", "__pycache__/\n*.wasm\n", false),
        ]),
        Lang::Js => files.extend([
            file("policy.js", include_str!("../../../plugins/templates/js/policy.js"), false),
            file("build.sh", include_str!("../../../plugins/templates/js/build.sh"), true),
            File {
                path: "sbx-plugin.js",
                text: include_str!("../../../plugins/sdk-js/sbx-plugin.js").into(),
                executable: false,
            },
            File { path: "wit/plugin.wit", text: WIT.into(), executable: false },
            file(".gitignore", "*.wasm\n", false),
        ]),
    }
    files
}

/// The Rust SDK beside this sbx when it runs from its sources' target directory.
fn sdk_beside_sbx() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let sdk = exe.parent()?.parent()?.parent()?.join("plugins/sdk");
    sdk.join("Cargo.toml").is_file().then_some(sdk)
}

fn write(dir: &Path, files: &[File]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for f in files {
        let path = dir.join(f.path);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        std::fs::write(&path, &f.text)?;
        if f.executable {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

pub fn run(args: NewArgs) -> i32 {
    if let Err(e) = check_name(&args.name) {
        return super::fail(e);
    }
    let sdk = match (args.lang, args.sdk) {
        (Lang::Rust, None) => match sdk_beside_sbx() {
            Some(sdk) => sdk,
            None => {
                return super::fail(
                    "a Rust plugin builds against the sbx-plugin crate (plugins/sdk of sbx's sources), which is not beside this sbx: give its path with --sdk DIR",
                );
            }
        },
        (Lang::Rust, Some(sdk)) if !sdk.join("Cargo.toml").is_file() => {
            return super::fail(format!(
                "--sdk {}: no Cargo.toml there; give plugins/sdk of sbx's sources",
                sdk.display()
            ));
        }
        (_, sdk) => sdk.map(|s| std::path::absolute(&s).unwrap_or(s)).unwrap_or_default(),
    };
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    // Made here, so that an existing directory is refused rather than written into.
    if let Err(e) = std::fs::create_dir(&dir) {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists { "; choose another with --dir" } else { "" };
        return super::fail(format!("cannot make {}: {e}{hint}", dir.display()));
    }
    let files = plan(args.lang, &args.name, &sdk);
    if let Err(e) = write(&dir, &files) {
        let _ = std::fs::remove_dir_all(&dir);
        return super::fail(format!("cannot write the plugin into {}: {e}", dir.display()));
    }
    let d = dir.display();
    say!("made {d} ({} files): a policy that refuses images run by a moving tag", files.len());
    let test = if args.lang == Lang::Rust {
        "cargo test && sbx policy test --suite tests.yaml"
    } else {
        "sbx policy test --suite tests.yaml"
    };
    say!("build: {d}/build.sh");
    say!("test:  cd {d} && {test}");
    say!("use:   sbx run --policy {d}/{}.wasm IMAGE", args.name);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("no-latest2").is_ok());
        for bad in ["", "No", "a_b", "../x", "-x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn skeletons_are_filled_in_and_carry_their_sdk() {
        let sdk = Path::new("/src/sbx/plugins/sdk");
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let files = plan(lang, "no-latest", sdk);
            for f in &files {
                for placeholder in ["__NAME__", "__CRATE__", "__SDK__", "__TOOLCHAINS__"] {
                    assert!(!f.text.contains(placeholder), "{lang:?} {}: {placeholder} is left", f.path);
                }
            }
            let suite = files.iter().find(|f| f.path == "tests.yaml").unwrap();
            assert!(suite.text.contains("path: no-latest.wasm") && suite.text.contains("denied-by: no-latest"));
            let build = files.iter().find(|f| f.path == "build.sh").unwrap();
            assert!(build.executable && build.text.contains("no-latest.wasm"), "{lang:?}");
        }
        let rust = plan(Lang::Rust, "no-latest", sdk);
        assert!(rust[1].text.contains("sbx-plugin = { path = \"/src/sbx/plugins/sdk\" }"));
        assert!(
            rust.iter().any(|f| f.text.contains("cp \"target/$wasm_target/release/no_latest.wasm\" no-latest.wasm"))
        );
        // Built without WASI, as the shipped policies are.
        assert!(rust[1].text.contains("\nwasi = \"none\"\n"));
        let python = plan(Lang::Python, "p", sdk);
        // The skeleton builds with the toolchains of plugins/build.sh, at the same versions.
        assert!(python.iter().any(|f| f.path == "build.sh" && f.text.contains(TOOLCHAINS.trim_end())));
        assert!(python.iter().any(|f| f.path == "sbx_plugin/__init__.py" && f.text.contains("def export_policy")));
        assert!(
            plan(Lang::Js, "j", sdk)
                .iter()
                .any(|f| f.path == "wit/plugin.wit" && f.text.contains("package sbx:plugin@"))
        );
    }
}
