//! docker's rule for the verbs that take a command (`run IMAGE CMD...`, `exec CONTAINER CMD...`,
//! `top CONTAINER PS-ARGS...`): sbx's options end at the verb's first operand, and what follows it
//! is the command's own, flags included, so that `sbx run IMAGE --version` asks the image's
//! entrypoint for its version, as `docker run` does. clap reads options anywhere before a
//! trailing argument's first value and has no setting for this (clap-rs/clap#1538); a `--` put
//! after the operand tells it where sbx's options end. Pure over the clap command and the words.

use clap::Command;
use std::ffi::OsString;

/// `args` (the program's name first) with a `--` after the operand of a verb that takes a command,
/// when what follows the operand looks like a flag (and is not `--` already). Anything it cannot
/// follow (an unknown flag, a word that is not a verb) is left as it is, for clap to report. `cmd`
/// is built here.
pub fn end_at_operand(cmd: &mut Command, mut args: Vec<OsString>) -> Vec<OsString> {
    cmd.build();
    let mut path: Vec<&Command> = vec![cmd];
    let mut at = 1;
    loop {
        let Some(i) = operand(&path, &args, at) else { return args };
        let current = path[path.len() - 1];
        if current.has_subcommands() {
            match args[i].to_str().and_then(|name| current.find_subcommand(name)) {
                Some(sub) => {
                    path.push(sub);
                    at = i + 1;
                    continue;
                }
                None => return args,
            }
        }
        let flag_next = args.get(i + 1).is_some_and(|n| n != "--" && n.as_encoded_bytes().starts_with(b"-"));
        if takes_a_command(current) && flag_next {
            args.insert(i + 1, "--".into());
        }
        return args;
    }
}

/// A verb whose operands are one word and then a command: its second positional is trailing.
fn takes_a_command(cmd: &Command) -> bool {
    let positionals: Vec<_> = cmd.get_positionals().collect();
    positionals.len() == 2 && positionals[1].is_trailing_var_arg_set()
}

/// The index of the first operand in `args[at..]`, reading the options of the commands on `path`
/// (a verb's own and its parents' global ones); None at `--`, at an option none of them knows, or
/// when there is no operand.
fn operand(path: &[&Command], args: &[OsString], at: usize) -> Option<usize> {
    let find = |matches: &dyn Fn(&clap::Arg) -> bool| {
        path.iter().rev().find_map(|c| c.get_arguments().find(|a| !a.is_positional() && matches(a)))
    };
    let mut i = at;
    while i < args.len() {
        let word = args[i].to_str()?;
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let arg = find(&|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name)))?;
            if !value && needs_value(arg) {
                i += 1;
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (n, c) in shorts.char_indices() {
                let arg =
                    find(&|a| a.get_short() == Some(c) || a.get_all_short_aliases().is_some_and(|v| v.contains(&c)))?;
                let rest = &shorts[n + c.len_utf8()..];
                if rest.starts_with('=') || (needs_value(arg) && !rest.is_empty()) {
                    break;
                }
                if needs_value(arg) {
                    i += 1;
                    break;
                }
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether the option takes its value from the next word when none is attached to it.
fn needs_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values() && arg.get_num_args().is_some_and(|n| n.min_values() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command as Verb, ContainerCommand, ContainerVerb};
    use clap::{CommandFactory, FromArgMatches};

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    fn ended(line: &str) -> String {
        let args = end_at_operand(&mut Cli::command(), argv(line));
        args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    }

    fn parsed(line: &str) -> Cli {
        let mut cmd = Cli::command();
        let args = end_at_operand(&mut cmd, argv(line));
        Cli::from_arg_matches(&cmd.try_get_matches_from(args).expect(line)).expect(line)
    }

    #[test]
    fn the_command_starts_after_the_image() {
        assert_eq!(ended("sbx run busybox --version"), "sbx run busybox -- --version");
        assert_eq!(ended("sbx run --rm -e A=1 -it busybox -h x"), "sbx run --rm -e A=1 -it busybox -- -h x");
        assert_eq!(
            ended("sbx --root /r container run -v /a:/b --memory-swap -1 busybox --rm echo"),
            "sbx --root /r container run -v /a:/b --memory-swap -1 busybox -- --rm echo"
        );
        assert_eq!(ended("sbx run -eA=1 -p8080:80 --name=x img -d"), "sbx run -eA=1 -p8080:80 --name=x img -- -d");
        assert_eq!(ended("sbx run --log-level info busybox -x"), "sbx run --log-level info busybox -- -x");
        assert_eq!(ended("sbx exec -it c --help"), "sbx exec -it c -- --help");
        let Verb::Containers(ContainerVerb::Run(run)) = parsed("sbx run -d busybox --rm -d echo").command else {
            panic!("not a run");
        };
        assert!(run.detach, "the flag before the image is sbx's");
        assert_eq!((run.image.as_str(), run.cmd), ("busybox", vec!["--rm".to_string(), "-d".into(), "echo".into()]));
        let Verb::Container(ContainerCommand::Verb(ContainerVerb::Exec(exec))) =
            parsed("sbx container exec c --version").command
        else {
            panic!("not an exec");
        };
        assert_eq!(exec.cmd, ["--version"]);
    }

    #[test]
    fn other_command_lines_are_left_alone() {
        for line in [
            "sbx run busybox",
            "sbx run busybox echo hi",
            "sbx run busybox -- echo",
            "sbx run -- busybox",
            "sbx run --bogus busybox -x",
            "sbx network create n --driver bridge",
            "sbx rm -f c",
            "sbx --version",
            "sbx nosuchverb x -y",
        ] {
            assert_eq!(ended(line), line);
        }
        let Verb::Containers(ContainerVerb::Run(run)) = parsed("sbx run busybox -- echo hi").command else {
            panic!("not a run");
        };
        assert_eq!(run.cmd, ["echo", "hi"], "a -- of the user's own still ends sbx's options");
    }
}
