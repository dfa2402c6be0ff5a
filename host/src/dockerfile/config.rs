//! What the instructions that only configure an image do to its config (the image config's
//! `config` object, docker's field names): ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, CMD,
//! ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD. Arguments' variables are replaced through
//! the lookup the caller gives (the build's args and the config's env). Pure.

use super::parse::{Command, Instruction};
use super::words::{self, Lookup};
use serde_json::{Value, json};

/// The shell of a config: its `Shell`, else `/bin/sh -c`.
pub fn shell(config: &Value) -> Vec<String> {
    serde_json::from_value(config["Shell"].clone()).unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into()])
}

/// A command's argv: the exec form as written, the shell form through the config's shell.
pub fn argv(command: &Command, config: &Value) -> Vec<String> {
    match command {
        Command::Exec(args) => args.clone(),
        Command::Shell(text) => shell(config).into_iter().chain([text.clone()]).collect(),
    }
}

/// The value of `name` in the config's `Env` (KEY=VALUE entries).
pub fn env_value(config: &Value, name: &str) -> Option<String> {
    config["Env"].as_array()?.iter().filter_map(Value::as_str).find_map(|e| {
        let (k, v) = e.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn set_in(config: &mut Value, field: &str, key: String, value: Value) {
    if !config[field].is_object() {
        config[field] = json!({});
    }
    config[field][key] = value;
}

/// docker's durations: `30s`, `1m30s`, `500ms`, `1h`; in nanoseconds.
pub fn duration_ns(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a duration (such as 30s, 1m30s or 500ms)");
    let mut total = 0u64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit_end = rest[digits..].find(|c: char| c.is_ascii_digit()).map_or(rest.len(), |i| digits + i);
        let scale = match &rest[digits..unit_end] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        total = total.checked_add(n.checked_mul(scale).ok_or_else(bad)?).ok_or_else(bad)?;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

fn healthcheck(flags: &[(String, Option<String>)], command: &Option<Command>) -> Result<Value, String> {
    let test = match command {
        None => return Ok(json!({ "Test": ["NONE"] })),
        Some(Command::Exec(args)) => std::iter::once("CMD".to_string()).chain(args.iter().cloned()).collect(),
        Some(Command::Shell(text)) => vec!["CMD-SHELL".to_string(), text.clone()],
    };
    let mut check = json!({ "Test": test });
    for (name, value) in flags {
        let value = value.as_deref().ok_or_else(|| format!("HEALTHCHECK --{name} needs a value"))?;
        let (field, v) = match name.as_str() {
            "interval" => ("Interval", json!(duration_ns(value)?)),
            "timeout" => ("Timeout", json!(duration_ns(value)?)),
            "start-period" => ("StartPeriod", json!(duration_ns(value)?)),
            "start-interval" => ("StartInterval", json!(duration_ns(value)?)),
            "retries" => {
                ("Retries", json!(value.parse::<u32>().map_err(|_| format!("--retries '{value}' is not a number"))?))
            }
            other => return Err(format!("HEALTHCHECK has no --{other}")),
        };
        check[field] = v;
    }
    Ok(check)
}

/// Applies instructions to a config in order, remembering what docker's builder remembers across
/// them: whether a CMD was given (an ENTRYPOINT clears only an inherited one).
#[derive(Debug, Default)]
pub struct Configurer {
    cmd_set: bool,
}

impl Configurer {
    /// Applies `instruction` to `config`. Err says what is wrong with its arguments; an
    /// instruction that is not a configuring one is refused.
    pub fn apply(&mut self, config: &mut Value, instruction: &Instruction, lookup: Lookup) -> Result<(), String> {
        if let Instruction::Cmd(c) | Instruction::Entrypoint(c) = instruction
            && matches!(c, Command::Shell(t) if t.trim().is_empty())
        {
            return Err(format!("{} needs a command", name(instruction)));
        }
        if let Instruction::Cmd(_) = instruction {
            self.cmd_set = true;
        }
        if let (Instruction::Entrypoint(_), false) = (instruction, self.cmd_set) {
            // A CMD of the base image is not an argument list for another entrypoint.
            config["Cmd"] = Value::Null;
        }
        apply(config, instruction, lookup)
    }
}

fn apply(config: &mut Value, instruction: &Instruction, lookup: Lookup) -> Result<(), String> {
    match instruction {
        Instruction::Env(text) => {
            // Variables are those of before the instruction: `ENV a=1 b=$a` gives b the old a.
            let pairs = words::pairs(text, lookup)?;
            let mut env: Vec<String> = serde_json::from_value(config["Env"].take()).unwrap_or_default();
            for (k, v) in pairs {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
            config["Env"] = json!(env);
        }
        Instruction::Label(text) => {
            for (k, v) in words::pairs(text, lookup)? {
                set_in(config, "Labels", k, json!(v));
            }
        }
        Instruction::Workdir(text) => {
            let dir = words::word(text, lookup)?;
            let joined = match dir.starts_with('/') {
                true => dir,
                false => format!("{}/{dir}", config["WorkingDir"].as_str().unwrap_or("").trim_end_matches('/')),
            };
            config["WorkingDir"] = json!(if joined.is_empty() { "/".to_string() } else { joined });
        }
        Instruction::User(text) => config["User"] = json!(words::word(text, lookup)?),
        Instruction::Expose(list) => {
            for w in list.iter().map(|w| words::word(w, lookup)).collect::<Result<Vec<_>, _>>()? {
                let key = if w.contains('/') { w.clone() } else { format!("{w}/tcp") };
                let (port, proto) = key.split_once('/').unwrap_or((&key, "tcp"));
                if port.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(format!("EXPOSE takes ports such as 80 or 53/udp, not '{w}'"));
                }
                set_in(config, "ExposedPorts", key, json!({}));
            }
        }
        Instruction::Volume(list) => {
            for w in list.iter().map(|w| words::word(w, lookup)).collect::<Result<Vec<_>, _>>()? {
                if w.is_empty() {
                    return Err("VOLUME needs a path".into());
                }
                set_in(config, "Volumes", w, json!({}));
            }
        }
        Instruction::Cmd(c) => config["Cmd"] = json!(argv(c, config)),
        Instruction::Entrypoint(c) => config["Entrypoint"] = json!(argv(c, config)),
        Instruction::Shell(args) if args.is_empty() => {
            return Err("SHELL needs a JSON array: [\"/bin/sh\", \"-c\"]".into());
        }
        Instruction::Shell(args) => config["Shell"] = json!(args),
        Instruction::Stopsignal(text) => {
            let signal = words::word(text, lookup)?;
            if crate::spec::signal::number(&signal).is_none() {
                return Err(format!("STOPSIGNAL: unknown signal '{signal}'"));
            }
            config["StopSignal"] = json!(signal);
        }
        Instruction::Healthcheck { flags, command } => config["Healthcheck"] = healthcheck(flags, command)?,
        Instruction::Onbuild(trigger) => {
            let mut list: Vec<String> = serde_json::from_value(config["OnBuild"].take()).unwrap_or_default();
            list.push(trigger.clone());
            config["OnBuild"] = json!(list);
        }
        other => return Err(format!("{} does not configure an image", name(other))),
    }
    Ok(())
}

/// The instruction's keyword.
pub fn name(i: &Instruction) -> &'static str {
    match i {
        Instruction::Run { .. } => "RUN",
        Instruction::Copy(_) => "COPY",
        Instruction::Add(_) => "ADD",
        Instruction::Env(_) => "ENV",
        Instruction::Arg(_) => "ARG",
        Instruction::Label(_) => "LABEL",
        Instruction::Workdir(_) => "WORKDIR",
        Instruction::User(_) => "USER",
        Instruction::Expose(_) => "EXPOSE",
        Instruction::Volume(_) => "VOLUME",
        Instruction::Cmd(_) => "CMD",
        Instruction::Entrypoint(_) => "ENTRYPOINT",
        Instruction::Shell(_) => "SHELL",
        Instruction::Stopsignal(_) => "STOPSIGNAL",
        Instruction::Healthcheck { .. } => "HEALTHCHECK",
        Instruction::Onbuild(_) => "ONBUILD",
        Instruction::Maintainer(_) => "MAINTAINER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    /// `config` after the instructions of `lines` (after a FROM), variables from its env.
    fn applied(config: Value, lines: &str) -> Result<Value, String> {
        let file = parse("Dockerfile", &format!("FROM scratch\n{lines}\n")).map_err(|e| e.to_string())?;
        let mut c = config;
        let mut configurer = Configurer::default();
        for step in &file.stages[0].steps {
            let env = c.clone();
            configurer.apply(&mut c, &step.instruction, &|n| env_value(&env, n))?;
        }
        Ok(c)
    }

    #[test]
    fn each_instruction_sets_its_field() {
        let c = applied(
            json!({"Env": ["PATH=/bin", "A=1"], "Cmd": ["old"]}),
            r#"ENV A=2 B="two words"
ENV C three words
ENV D=$A-${B}
USER app
WORKDIR /srv
WORKDIR data
LABEL version=1 team="core team"
EXPOSE 80 53/udp
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGQUIT
ENTRYPOINT /entry.sh
SHELL ["/bin/bash", "-c"]
CMD serve --port 80
HEALTHCHECK --interval=1m30s --retries=3 CMD ["check"]
ONBUILD RUN make"#,
        )
        .unwrap();
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=two words", "C=three words", "D=2-two words"]));
        assert_eq!((c["User"].as_str(), c["WorkingDir"].as_str()), (Some("app"), Some("/srv/data")));
        assert_eq!(c["Labels"], json!({"version": "1", "team": "core team"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Volumes"], json!({"/data": {}, "/cache": {}}));
        assert_eq!(c["StopSignal"], "SIGQUIT");
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "/entry.sh"]));
        assert_eq!(c["Cmd"], json!(["/bin/bash", "-c", "serve --port 80"]), "CMD after SHELL uses it");
        assert_eq!(c["Healthcheck"], json!({"Test": ["CMD", "check"], "Interval": 90_000_000_000u64, "Retries": 3}));
        assert_eq!(c["OnBuild"], json!(["RUN make"]));
    }

    #[test]
    fn an_entrypoint_clears_the_base_images_cmd_not_one_given_before() {
        let c = applied(json!({"Cmd": ["sh"]}), "ENTRYPOINT [\"/app\"]").unwrap();
        assert_eq!((c["Entrypoint"].clone(), c["Cmd"].clone()), (json!(["/app"]), Value::Null));
        let c = applied(json!({"Cmd": ["sh"]}), "CMD [\"-v\"]\nENTRYPOINT [\"/app\"]").unwrap();
        assert_eq!(c["Cmd"], json!(["-v"]));
        let c = applied(json!({}), "HEALTHCHECK NONE").unwrap();
        assert_eq!(c["Healthcheck"], json!({"Test": ["NONE"]}));
    }

    #[test]
    fn bad_arguments_are_refused_by_name() {
        for (lines, says) in [
            ("EXPOSE http", "EXPOSE takes ports"),
            ("EXPOSE 80/ip", "EXPOSE takes ports"),
            ("STOPSIGNAL SIGNOPE", "unknown signal 'SIGNOPE'"),
            ("HEALTHCHECK --interval=soon CMD true", "'soon' is not a duration"),
            ("HEALTHCHECK --color=red CMD true", "HEALTHCHECK has no --color"),
            ("ENV A=1 B", "'B' is not KEY=VALUE"),
            ("RUN true", "RUN does not configure an image"),
        ] {
            let e = applied(json!({}), lines).unwrap_err();
            assert!(e.contains(says), "{lines}: {e}");
        }
    }

    #[test]
    fn durations_are_docker_s() {
        assert_eq!(duration_ns("30s"), Ok(30_000_000_000));
        assert_eq!(duration_ns("1h2m3s"), Ok(3_723_000_000_000));
        assert_eq!(duration_ns("500ms"), Ok(500_000_000));
        assert!(duration_ns("").is_err() && duration_ns("5").is_err() && duration_ns("5d").is_err());
    }
}
