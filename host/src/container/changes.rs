//! `commit --change`: the Dockerfile instructions docker lets a commit apply to the new image's
//! config (CMD, ENTRYPOINT, ENV, USER, WORKDIR, LABEL, EXPOSE, VOLUME, STOPSIGNAL). Pure.

use crate::dockerfile::{self, config::Configurer, config::env_value};
use serde_json::Value;

pub const INSTRUCTIONS: [&str; 9] =
    ["CMD", "ENTRYPOINT", "ENV", "USER", "WORKDIR", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL"];

/// Applies `changes` in order to `config` (the image config's `config` object), as a build applies
/// them (`crate::dockerfile::config`). Err names the change and what is accepted.
pub fn apply(config: &mut Value, changes: &[String]) -> Result<(), String> {
    let mut configurer = Configurer::default();
    for change in changes {
        let change = change.trim();
        let keyword = change.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&keyword.as_str()) {
            return Err(format!(
                "--change '{change}': {keyword} cannot be applied by commit; use one of {}",
                INSTRUCTIONS.join(", ")
            ));
        }
        let file = dockerfile::parse("--change", &format!("FROM scratch\n{change}\n"))
            .map_err(|e| format!("--change '{change}': {}", e.message))?;
        let [step] = &file.stages[0].steps[..] else {
            return Err(format!("--change '{change}': give one instruction per --change"));
        };
        let env = config.clone();
        configurer
            .apply(config, &step.instruction, &|n| env_value(&env, n))
            .map_err(|e| format!("--change '{change}': {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(changes: &[&str]) -> Value {
        let mut c = json!({"Env": ["PATH=/bin", "A=1"]});
        apply(&mut c, &changes.iter().map(|c| c.to_string()).collect::<Vec<_>>()).unwrap();
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
        let e = |ch: &str| apply(&mut json!({}), &[ch.to_string()]).unwrap_err();
        assert!(e("RUN rm -rf /").contains("RUN cannot be applied by commit; use one of CMD"));
        assert!(e("EXPOSE http").contains("EXPOSE takes ports"));
        assert!(e("STOPSIGNAL NOPE").contains("unknown signal"));
        assert!(e("CMD").contains("--change 'CMD': CMD needs a command"), "{}", e("CMD"));
        assert!(e("ENV =x").contains("'=x' is not KEY=VALUE"));
    }
}
