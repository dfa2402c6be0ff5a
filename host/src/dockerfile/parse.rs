//! A Dockerfile (or Containerfile) read into sbx's own model of stages and steps, each step with
//! its line and its source text. The reading itself is the `parse-dockerfile` crate's (BuildKit's
//! grammar: continuations, COPY's heredocs, the escape directive, JSON and shell forms), except
//! RUN's heredocs, which [`super::heredoc`] reads as BuildKit does; arguments stay as written
//! here, because what their variables mean is known only during the build ([`super::words`]).
//! Pure.

use parse_dockerfile as pd;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct DockerfileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The ARGs before the first FROM (they may be used in FROM lines only).
    pub global_args: Vec<Step>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// FROM's image (`scratch` for none), as written.
    pub base: String,
    /// `AS NAME`, lowercased as docker compares it.
    pub name: Option<String>,
    /// `--platform`, as written.
    pub platform: Option<String>,
    pub line: usize,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    /// The instruction as written (continuations joined), for the build's output and its cache.
    pub text: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `["a", "b"]`: run as is.
    Exec(Vec<String>),
    /// Text run by the stage's SHELL (`/bin/sh -c` by default).
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub body: String,
    /// False when its delimiter was quoted (`<<"EOF"`): no variables replaced in it.
    pub expand: bool,
    /// The word that ends it (RUN's: the shell is given it back); empty for COPY's and ADD's,
    /// which the crate reads.
    pub word: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    Heredoc(Heredoc),
}

/// COPY's and ADD's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `--from`, `--chown`, `--chmod`... with their values.
    pub flags: Vec<(String, Option<String>)>,
    pub sources: Vec<Source>,
    pub dest: String,
}

/// An instruction with its arguments as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    Run {
        flags: Vec<(String, Option<String>)>,
        /// With heredocs, the shell form's text as written, markers included (`cat <<EOF > f`).
        command: Command,
        heredocs: Vec<Heredoc>,
    },
    Copy(Transfer),
    Add(Transfer),
    Env(String),
    Arg(String),
    Label(String),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Cmd(Command),
    Entrypoint(Command),
    Shell(Vec<String>),
    Stopsignal(String),
    /// None: `HEALTHCHECK NONE`.
    Healthcheck {
        flags: Vec<(String, Option<String>)>,
        command: Option<Command>,
    },
    /// The trigger's text (`RUN make`), run by builds FROM the image.
    Onbuild(String),
    Maintainer(String),
}

impl Instruction {
    /// Whether it changes the image's files (a layer), not only its configuration.
    pub fn makes_layer(&self) -> bool {
        matches!(self, Instruction::Run { .. } | Instruction::Copy(_) | Instruction::Add(_))
    }
}

/// Reads `text`, the Dockerfile called `file` (for errors).
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, DockerfileError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let error = |line: usize, message: String| DockerfileError { file: file.into(), line, message };
    let mut masked = super::heredoc::mask(text).map_err(|(line, m)| error(line, m))?;
    let parsed = pd::parse(&masked.text).map_err(|e| error(e.line(), plain(&e.to_string())))?;
    let starts: Vec<usize> = parsed.instructions.iter().map(|i| keyword(i).start).collect();
    // A step's text as written, without its comment lines (RUN's heredoc bodies are blank in
    // the masked text, so a body line that starts with `#` stays).
    let source = |i: usize| -> String {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let comment = |l: &&str| l.trim_start().starts_with('#');
        let written: Vec<&str> = text[starts[i]..end]
            .lines()
            .zip(masked.text[starts[i]..end].lines())
            .filter(|(_, m)| !comment(m))
            .map(|(l, _)| l)
            .collect();
        written.join("\n").trim_end().to_string()
    };
    let mut out = Dockerfile { global_args: Vec::new(), stages: Vec::new() };
    for (i, instruction) in parsed.instructions.iter().enumerate() {
        let line = line_of(starts[i]);
        if let pd::Instruction::From(from) = instruction {
            let platform = from.options.iter().find(|f| f.name.value == "platform");
            out.stages.push(Stage {
                base: from.image.value.to_string(),
                name: from.as_.as_ref().map(|(_, n)| n.value.to_lowercase()),
                platform: platform.and_then(|f| f.value.as_ref()).map(|v| v.value.to_string()),
                line,
                steps: Vec::new(),
            });
            continue;
        }
        let mut instruction = convert(instruction, text);
        if let Instruction::Run { command, heredocs, .. } = &mut instruction
            && let Some(docs) = masked.runs.remove(&line)
        {
            *command = Command::Shell(run_command(&parsed.instructions[i], text));
            *heredocs = docs;
        }
        let step = Step { line, text: source(i), instruction };
        match out.stages.last_mut() {
            Some(stage) => stage.steps.push(step),
            None => out.global_args.push(step),
        }
    }
    Ok(out)
}

/// The crate's message without its own position (sbx names the file and line).
fn plain(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_string()
}

fn keyword(i: &pd::Instruction) -> std::ops::Range<usize> {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.clone(),
        I::Arg(x) => x.arg.span.clone(),
        I::Cmd(x) => x.cmd.span.clone(),
        I::Copy(x) => x.copy.span.clone(),
        I::Entrypoint(x) => x.entrypoint.span.clone(),
        I::Env(x) => x.env.span.clone(),
        I::Expose(x) => x.expose.span.clone(),
        I::From(x) => x.from.span.clone(),
        I::Healthcheck(x) => x.healthcheck.span.clone(),
        I::Label(x) => x.label.span.clone(),
        I::Maintainer(x) => x.maintainer.span.clone(),
        I::Onbuild(x) => x.onbuild.span.clone(),
        I::Run(x) => x.run.span.clone(),
        I::Shell(x) => x.shell.span.clone(),
        I::Stopsignal(x) => x.stopsignal.span.clone(),
        I::User(x) => x.user.span.clone(),
        I::Volume(x) => x.volume.span.clone(),
        I::Workdir(x) => x.workdir.span.clone(),
        _ => 0..0,
    }
}

fn flags(flags: &[pd::Flag]) -> Vec<(String, Option<String>)> {
    flags.iter().map(|f| (f.name.value.to_string(), f.value.as_ref().map(|v| v.value.to_string()))).collect()
}

fn command(c: &pd::Command) -> Command {
    match c {
        pd::Command::Exec(args) => Command::Exec(args.value.iter().map(|a| a.value.to_string()).collect()),
        pd::Command::Shell(text) => Command::Shell(text.value.to_string()),
        // The enum is non-exhaustive: a form a newer crate knows, as an empty shell command.
        _ => Command::Shell(String::new()),
    }
}

fn heredoc(h: &pd::HereDoc) -> Heredoc {
    Heredoc { body: h.value.to_string(), expand: h.expand, word: String::new() }
}

/// A RUN's shell command as written in `text`: from after its keyword and flags to the end of
/// the arguments the crate read (in the masked text the markers are blank, so the crate's own
/// text of it would lack them).
fn run_command(i: &pd::Instruction, text: &str) -> String {
    let pd::Instruction::Run(x) = i else { return String::new() };
    let start = x.options.last().map_or(x.run.span.end, |f| f.span().end);
    let end = match &x.arguments {
        pd::Command::Shell(s) => s.span.end,
        pd::Command::Exec(s) => s.span.end,
        _ => start,
    };
    text[start..end.max(start)].trim().to_string()
}

fn transfer(options: &[pd::Flag], src: &[pd::Source], dest: &pd::UnescapedString) -> Transfer {
    let sources = src
        .iter()
        .map(|s| match s {
            pd::Source::Path(p) => Source::Path(p.value.to_string()),
            pd::Source::HereDoc(h) => Source::Heredoc(heredoc(h)),
            _ => Source::Path(String::new()),
        })
        .collect();
    Transfer { flags: flags(options), sources, dest: dest.value.to_string() }
}

fn convert(i: &pd::Instruction, text: &str) -> Instruction {
    use pd::Instruction as I;
    let s = |u: &pd::UnescapedString| u.value.to_string();
    match i {
        I::Run(x) => Instruction::Run { flags: flags(&x.options), command: command(&x.arguments), heredocs: vec![] },
        I::Copy(x) => Instruction::Copy(transfer(&x.options, &x.src, &x.dest)),
        I::Add(x) => Instruction::Add(transfer(&x.options, &x.src, &x.dest)),
        I::Env(x) => Instruction::Env(s(&x.arguments)),
        I::Arg(x) => Instruction::Arg(s(&x.arguments)),
        I::Label(x) => Instruction::Label(s(&x.arguments)),
        I::Workdir(x) => Instruction::Workdir(s(&x.arguments)),
        I::User(x) => Instruction::User(s(&x.arguments)),
        I::Expose(x) => Instruction::Expose(x.arguments.iter().map(s).collect()),
        I::Volume(x) => Instruction::Volume(match &x.arguments {
            pd::JsonOrStringArray::Json(a) => a.value.iter().map(s).collect(),
            pd::JsonOrStringArray::String(a) => a.iter().map(s).collect(),
        }),
        I::Cmd(x) => Instruction::Cmd(command(&x.arguments)),
        I::Entrypoint(x) => Instruction::Entrypoint(command(&x.arguments)),
        I::Shell(x) => Instruction::Shell(x.arguments.iter().map(s).collect()),
        I::Stopsignal(x) => Instruction::Stopsignal(s(&x.arguments)),
        I::Healthcheck(x) => Instruction::Healthcheck {
            flags: flags(&x.options),
            command: match &x.arguments {
                pd::HealthcheckArguments::Cmd { arguments, .. } => Some(command(arguments)),
                _ => None,
            },
        },
        I::Onbuild(x) => {
            let start = keyword(&x.instruction).start;
            let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
            Instruction::Onbuild(text[start..end].trim().to_string())
        }
        I::Maintainer(x) => Instruction::Maintainer(s(&x.name)),
        _ => Instruction::Maintainer(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS Build
ENV A=1 \
    B="two words"
RUN echo hi && \
    echo there
RUN ["/bin/echo", "exec form"]
RUN <<EOF
echo from a heredoc
EOF
COPY --chown=1:2 --chmod=644 a b* /dst/
COPY <<'END' /etc/motd
hello $A
END
WORKDIR /srv
ONBUILD RUN make
HEALTHCHECK --interval=5s CMD wget -q localhost
FROM scratch
COPY --from=build /out /
HEALTHCHECK NONE
"#;

    #[test]
    fn stages_and_steps_keep_their_lines_and_text() {
        let d = parse("Dockerfile", FILE).unwrap();
        assert_eq!(d.global_args.len(), 1);
        assert_eq!(d.global_args[0].instruction, Instruction::Arg("BASE=busybox".into()));
        assert_eq!(d.stages.len(), 2);
        let build = &d.stages[0];
        assert_eq!((build.base.as_str(), build.name.as_deref(), build.line), ("${BASE}", Some("build"), 3));
        assert_eq!(build.steps[0].line, 4);
        assert_eq!(build.steps[0].text, "ENV A=1 \\\n    B=\"two words\"");
        assert_eq!(
            build.steps[1].instruction,
            Instruction::Run {
                flags: vec![],
                command: Command::Shell("echo hi && \\\n    echo there".into()),
                heredocs: vec![],
            }
        );
        assert!(
            matches!(&build.steps[2].instruction, Instruction::Run { command: Command::Exec(a), .. } if a == &["/bin/echo", "exec form"])
        );
        let Instruction::Run { heredocs, command, .. } = &build.steps[3].instruction else { panic!() };
        assert_eq!(heredocs, &[Heredoc { body: "echo from a heredoc\n".into(), expand: true, word: "EOF".into() }]);
        assert_eq!(command, &Command::Shell("<<EOF".into()));
        assert_eq!(build.steps[3].text, "RUN <<EOF\necho from a heredoc\nEOF");
        let Instruction::Copy(t) = &build.steps[4].instruction else { panic!() };
        assert_eq!(t.flags, [("chown".to_string(), Some("1:2".to_string())), ("chmod".into(), Some("644".into()))]);
        assert_eq!((t.sources.len(), t.dest.as_str()), (2, "/dst/"));
        let Instruction::Copy(t) = &build.steps[5].instruction else { panic!() };
        assert_eq!(t.sources, [Source::Heredoc(Heredoc { body: "hello $A\n".into(), expand: false, word: "".into() })]);
        assert_eq!(build.steps[7].instruction, Instruction::Onbuild("RUN make".into()));
        assert!(
            matches!(&build.steps[8].instruction, Instruction::Healthcheck { command: Some(_), flags } if flags.len() == 1)
        );
        let last = &d.stages[1];
        assert_eq!((last.base.as_str(), last.name.as_deref()), ("scratch", None));
        assert!(last.steps[0].instruction.makes_layer());
        assert_eq!(last.steps[1].instruction, Instruction::Healthcheck { flags: vec![], command: None });
        assert!(!last.steps[1].instruction.makes_layer());
    }

    #[test]
    fn the_escape_directive_changes_the_continuation() {
        let d = parse("Dockerfile", "# escape=`\nFROM scratch\nENV A=1 `\n    B=2\n").unwrap();
        assert_eq!(d.stages[0].steps.len(), 1);
        assert_eq!(d.stages[0].steps[0].line, 3);
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_and_line() {
        let e = parse("Containerfile", "FROM scratch\nRUN true\nFETCH http://x\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("Containerfile", 3), "{e}");
        assert!(e.to_string().starts_with("Containerfile:3: "), "{e}");
        let e = parse("Dockerfile", "RUN true\n").unwrap_err();
        assert!(e.message.contains("FROM"), "{e}");
        let e = parse("Dockerfile", "").unwrap_err();
        assert_eq!(e.file, "Dockerfile", "{e}");
    }
}
