//! non-root: a container must not run as root. Settings: `{}` denies root (user empty, `0`, `root`,
//! with or without a group); `{"force_uid": 1000}` (optionally `"force_gid"`) runs it as that user
//! instead. A user name that the image maps to uid 0 is not seen here: pair it with numeric users.

use sbx_plugin::{Adjustment, Plugin, Policy, Spec, SpecVerdict, allow, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub force_uid: Option<u32>,
    pub force_gid: Option<u32>,
}

pub struct NonRoot;

/// Whether `user` (as `-u` takes it) is root.
pub fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("");
    matches!(name, "" | "0" | "root")
}

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
    fn check_spec(s: &Settings, spec: &Spec) -> SpecVerdict {
        if !is_root(&spec.user) {
            return allow(vec![]);
        }
        match s.force_uid {
            Some(uid) => {
                let user = s.force_gid.map_or(uid.to_string(), |gid| format!("{uid}:{gid}"));
                allow(vec![Adjustment::SetUser(user)])
            }
            None => deny(format!(
                "the container would run as root (user '{}'); run it as another user with -u UID or a USER in the image",
                spec.user
            )),
        }
    }
}

sbx_plugin::export_policy!(NonRoot);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::{Verdict, testing::spec};

    #[test]
    fn root_forms_are_recognized() {
        for u in ["", "0", "root", "0:0", "root:wheel"] {
            assert!(is_root(u), "{u}");
        }
        for u in ["1000", "bob", "1000:0"] {
            assert!(!is_root(u), "{u}");
        }
    }

    #[test]
    fn root_is_denied_or_replaced() {
        let v = NonRoot::check_spec(&Settings::default(), &spec());
        assert!(matches!(&v.verdict, Verdict::Deny(r) if r.contains("as root")), "{v:?}");
        let forced = Settings { force_uid: Some(1000), force_gid: Some(100) };
        assert_eq!(NonRoot::check_spec(&forced, &spec()).adjustments, [Adjustment::SetUser("1000:100".into())]);
        let mut s = spec();
        s.user = "65534".into();
        assert_eq!(NonRoot::check_spec(&Settings::default(), &s), allow(vec![]));
    }

    #[test]
    fn forcing_root_is_refused() {
        assert!(NonRoot::validate(&Settings { force_uid: Some(0), force_gid: None }).is_err());
    }
}
