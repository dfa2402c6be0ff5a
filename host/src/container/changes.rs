//! `commit --change`: the Dockerfile instructions docker lets a commit apply to the new image's
//! config (CMD, ENTRYPOINT, ENV, USER, WORKDIR, LABEL, EXPOSE, VOLUME, STOPSIGNAL). Pure.

use serde_json::{Value, json};

pub const INSTRUCTIONS: [&str; 9] =
    ["CMD", "ENTRYPOINT", "ENV", "USER", "WORKDIR", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL"];

/// A JSON array of strings (the exec form) or a command line for /bin/sh -c (the shell form).
fn command(arg: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(arg) {
        Ok(exec) if arg.trim_start().starts_with('[') => exec,
        _ => vec!["/bin/sh".into(), "-c".into(), arg.into()],
    }
}

/// `K=V K2="V 2"` pairs, or the old form `K V...` (one pair, the rest is the value).
fn pairs(instruction: &str, arg: &str) -> Result<Vec<(String, String)>, String> {
    let bad = || format!("{instruction} {arg}: expected KEY=VALUE");
    if !arg.split_whitespace().next().unwrap_or_default().contains('=') {
        let (k, v) = arg.split_once(char::is_whitespace).ok_or_else(bad)?;
        return Ok(vec![(k.into(), v.trim().into())]);
    }
    let mut out = Vec::new();
    let mut rest = arg.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(bad)?;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(bad());
        }
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').ok_or_else(bad)?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        out.push((key.to_string(), value.to_string()));
        rest = next.trim_start();
    }
    Ok(out)
}

/// Applies one `--change` to `config` (the image config's `config` object). Err names the change
/// and what is accepted.
pub fn apply(config: &mut Value, change: &str) -> Result<(), String> {
    let change = change.trim();
    let (instruction, arg) = change.split_once(char::is_whitespace).unwrap_or((change, ""));
    let upper = instruction.to_ascii_uppercase();
    let arg = arg.trim();
    if arg.is_empty() && INSTRUCTIONS.contains(&upper.as_str()) {
        return Err(format!("--change '{change}': {upper} needs an argument"));
    }
    match upper.as_str() {
        "CMD" => config["Cmd"] = json!(command(arg)),
        "ENTRYPOINT" => config["Entrypoint"] = json!(command(arg)),
        "USER" => config["User"] = json!(arg),
        "WORKDIR" if arg.starts_with('/') => config["WorkingDir"] = json!(arg),
        "WORKDIR" => return Err(format!("--change '{change}': WORKDIR takes an absolute path")),
        "STOPSIGNAL" if crate::spec::signal::number(arg).is_some() => config["StopSignal"] = json!(arg),
        "STOPSIGNAL" => return Err(format!("--change '{change}': unknown signal '{arg}'")),
        "ENV" => {
            let mut env: Vec<String> = serde_json::from_value(config["Env"].take()).unwrap_or_default();
            for (k, v) in pairs("ENV", arg)? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
            config["Env"] = json!(env);
        }
        "LABEL" => {
            let labels = pairs("LABEL", arg)?;
            if !config["Labels"].is_object() {
                config["Labels"] = json!({});
            }
            for (k, v) in labels {
                config["Labels"][k] = json!(v);
            }
        }
        "EXPOSE" | "VOLUME" => {
            let field = if upper == "EXPOSE" { "ExposedPorts" } else { "Volumes" };
            let words: Vec<String> = match serde_json::from_str::<Vec<String>>(arg) {
                Ok(list) if upper == "VOLUME" => list,
                _ => arg.split_whitespace().map(str::to_string).collect(),
            };
            if !config[field].is_object() {
                config[field] = json!({});
            }
            for w in words {
                let key = if upper == "EXPOSE" && !w.contains('/') { format!("{w}/tcp") } else { w };
                if upper == "EXPOSE" && key.split('/').next().is_none_or(|p| p.parse::<u16>().is_err()) {
                    return Err(format!("--change '{change}': EXPOSE takes ports such as 80 or 53/udp"));
                }
                config[field][key] = json!({});
            }
        }
        _ => {
            return Err(format!(
                "--change '{change}': {instruction} cannot be applied by commit; use one of {}",
                INSTRUCTIONS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Value {
        let mut c = json!({"Env": ["PATH=/bin", "A=1"]});
        for ch in changes {
            apply(&mut c, ch).unwrap();
        }
        c
    }

    #[test]
    fn each_instruction_sets_its_field() {
        let c = applied(&[
            r#"CMD ["serve", "--port", "80"]"#,
            "ENTRYPOINT /entry.sh",
            "ENV A=2 B=\"two words\"",
            "ENV C three words",
            "USER app",
            "WORKDIR /srv",
            "LABEL version=1 team=\"core team\"",
            "EXPOSE 80 53/udp",
            "VOLUME /data",
            "STOPSIGNAL SIGQUIT",
        ]);
        assert_eq!(c["Cmd"], json!(["serve", "--port", "80"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "/entry.sh"]));
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=two words", "C=three words"]));
        assert_eq!((c["User"].as_str(), c["WorkingDir"].as_str()), (Some("app"), Some("/srv")));
        assert_eq!(c["Labels"], json!({"version": "1", "team": "core team"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Volumes"], json!({"/data": {}}));
        assert_eq!(c["StopSignal"], "SIGQUIT");
    }

    #[test]
    fn what_commit_cannot_apply_is_named() {
        let e = |ch: &str| apply(&mut json!({}), ch).unwrap_err();
        assert!(e("RUN rm -rf /").contains("RUN cannot be applied by commit; use one of CMD"));
        assert!(e("WORKDIR rel").contains("absolute path"));
        assert!(e("EXPOSE http").contains("EXPOSE takes ports"));
        assert!(e("STOPSIGNAL NOPE").contains("unknown signal"));
        assert!(e("CMD").contains("CMD needs an argument"));
        assert!(e("ENV =x").contains("expected KEY=VALUE"));
    }
}
