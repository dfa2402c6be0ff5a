//! non-root: a container must not run as root: uid 0 as sbx will apply it, however the user was
//! written (none, `0`, `00`, `root`, or any name the image's /etc/passwd maps to 0). Settings: `{}`
//! denies root; `{"force_uid": 1000}` (optionally `"force_gid"`) runs it as that user instead.

use sbx_plugin::{Adjustment, Interests, NO_CHECK, Plugin, Policy, Spec, Verdict, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub force_uid: Option<u32>,
    pub force_gid: Option<u32>,
}

pub struct NonRoot;

impl Plugin for NonRoot {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        match (s.force_uid, s.force_gid) {
            (Some(0), _) => Err("force_uid must not be 0 (root)".into()),
            (None, Some(_)) => Err("force_gid needs force_uid".into()),
            _ => Ok(()),
        }
    }
}

impl Policy for NonRoot {
    fn wants(_settings: &Settings) -> Interests {
        Interests { mutate_spec: true, validate_spec: true, ..NO_CHECK }
    }

    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        match s.force_uid {
            Some(uid) if spec.uid == 0 => {
                vec![Adjustment::SetUser(s.force_gid.map_or(uid.to_string(), |gid| format!("{uid}:{gid}")))]
            }
            _ => vec![],
        }
    }

    fn validate_spec(_: &Settings, spec: &Spec) -> Verdict {
        if spec.uid != 0 {
            return Verdict::Allow;
        }
        deny(format!(
            "the container would run as root (uid 0, user '{}'); run it as another user with -u UID or a USER in the image",
            spec.user
        ))
    }
}

sbx_plugin::export_policy!(NonRoot);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;

    fn as_user(user: &str, uid: u32) -> Spec {
        Spec { user: user.into(), uid, ..spec() }
    }

    #[test]
    fn root_is_uid_0_however_it_was_written() {
        for (user, uid) in [("", 0), ("0", 0), ("00", 0), ("+0", 0), ("root", 0), ("toor", 0), ("0:0", 0)] {
            let v = NonRoot::validate_spec(&Settings::default(), &as_user(user, uid));
            assert!(matches!(&v, Verdict::Deny(r) if r.contains("as root")), "{user}: {v:?}");
        }
        for (user, uid) in [("1000", 1000), ("bob", 1000), ("1000:0", 1000)] {
            assert_eq!(NonRoot::validate_spec(&Settings::default(), &as_user(user, uid)), Verdict::Allow, "{user}");
        }
    }

    #[test]
    fn root_is_replaced_when_asked() {
        let forced = Settings { force_uid: Some(1000), force_gid: Some(100) };
        assert_eq!(NonRoot::mutate_spec(&forced, &spec()), [Adjustment::SetUser("1000:100".into())]);
        assert_eq!(NonRoot::mutate_spec(&forced, &as_user("bob", 1000)), []);
        assert_eq!(NonRoot::mutate_spec(&Settings::default(), &spec()), []);
    }

    #[test]
    fn forcing_root_is_refused() {
        assert!(NonRoot::validate(&Settings { force_uid: Some(0), force_gid: None }).is_err());
    }
}
