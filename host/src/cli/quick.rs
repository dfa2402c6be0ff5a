//! The command lines of the verbs that start containers (`run`, `exec`), parsed without building
//! every other verb's arguments: clap's derive builds the whole command tree before it parses,
//! hundreds of arguments (run's own four times over: run, create, container run, container
//! create), which took a millisecond of an 11 ms `sbx run --rm`. This parser knows the global
//! flags and the one verb. It answers only a plain success; help, a version, and every error go
//! to the full parser, which says them as it always does.

use super::{Cli, Command, ContainerVerb, Globals, exec::ExecArgs, run::RunArgs};
use clap::{Args, FromArgMatches};
use std::ffi::OsString;

/// The global flags that take a value as the next argument.
const VALUED: [&str; 3] = ["--root", "--config", "--log-level"];

/// The verb of `args` (after the program's name and the global flags before it), when it is one
/// of the hot verbs; None for anything else, including a flag it does not know.
fn hot_verb(args: &[OsString]) -> Option<&'static str> {
    let mut rest = args.iter().skip(1).map(|a| a.to_str());
    while let Some(arg) = rest.next() {
        let arg = arg?;
        if VALUED.contains(&arg) {
            rest.next()?;
        } else if VALUED.iter().any(|f| arg.strip_prefix(f).is_some_and(|v| v.starts_with('='))) {
            continue;
        } else {
            return ["run", "exec"].into_iter().find(|v| *v == arg);
        }
    }
    None
}

/// `args` parsed by a parser of the global flags and the hot verb alone, or None: the full parser
/// decides.
pub fn parse(args: &[OsString]) -> Option<Cli> {
    let verb = hot_verb(args)?;
    let sub = clap::Command::new(verb);
    let sub = if verb == "run" { RunArgs::augment_args(sub) } else { ExecArgs::augment_args(sub) };
    // Versioned as the full parser is (it gives the subcommands `--version` too), so that both
    // read the same arguments alike.
    let sbx = clap::Command::new("sbx").version(env!("CARGO_PKG_VERSION")).propagate_version(true);
    let mut sbx = Globals::augment_args(sbx).subcommand(sub);
    let args = super::operands::end_at_operand(&mut sbx, args.to_vec());
    let mut matches = sbx.try_get_matches_from(args).ok()?;
    // The `_mut` forms take the values out; the others clone every match first.
    let globals = Globals::from_arg_matches_mut(&mut matches).ok()?;
    let (_, mut m) = matches.remove_subcommand()?;
    let verb = match verb {
        "run" => ContainerVerb::Run(Box::new(RunArgs::from_arg_matches_mut(&mut m).ok()?)),
        _ => ContainerVerb::Exec(ExecArgs::from_arg_matches_mut(&mut m).ok()?),
    };
    Some(Cli { globals, command: Command::Containers(verb) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn finds_the_verb_after_the_global_flags() {
        assert_eq!(hot_verb(&argv("sbx run busybox true")), Some("run"));
        assert_eq!(hot_verb(&argv("sbx --root /r --log-level info exec c ls")), Some("exec"));
        assert_eq!(hot_verb(&argv("sbx --config=/c.yaml run x")), Some("run"));
        assert_eq!(hot_verb(&argv("sbx images")), None);
        assert_eq!(hot_verb(&argv("sbx --root")), None);
        assert_eq!(hot_verb(&argv("sbx --help run")), None, "a flag it does not know goes to the full parser");
        assert_eq!(hot_verb(&argv("sbx --root run images")), None, "run is --root's value here");
    }

    /// Whatever the quick parser takes, the full parser takes alike.
    #[test]
    fn parses_as_the_full_parser_does() {
        for line in [
            "sbx run --rm busybox /bin/true",
            "sbx --root /r run -it --name x -e A=1 -v /a:/b --policy p.wasm busybox sh -c echo",
            "sbx --log-level=info exec -u 1000 -w /tmp c ls -l",
            "sbx run --network none --root /elsewhere busybox",
            "sbx run busybox --version",
            "sbx exec -it c --help",
        ] {
            let quick = parse(&argv(line)).unwrap_or_else(|| panic!("{line}"));
            let mut cmd = Cli::command();
            let args = crate::cli::operands::end_at_operand(&mut cmd, argv(line));
            let full = Cli::from_arg_matches(&cmd.try_get_matches_from(args).unwrap()).unwrap();
            assert_eq!(format!("{quick:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn help_versions_and_errors_go_to_the_full_parser() {
        let lines = ["sbx run --help", "sbx run --version", "sbx run --bad x", "sbx run", "sbx exec"];
        for line in lines {
            assert!(parse(&argv(line)).is_none(), "{line}");
        }
    }
}
