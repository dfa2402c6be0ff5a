//! `USER` as an image or `-u` gives it (`name`, `uid`, `name:group`, `uid:gid`) resolved against the
//! container's /etc/passwd and /etc/group text. Pure.

/// /etc/passwd or /etc/group as read from a container: its text, None when it has none, or why it
/// cannot be used (not a regular file, too big...).
pub type FileText = Result<Option<String>, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Primary group first, then the groups /etc/group lists the user in.
    pub groups: Vec<u32>,
    pub home: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in the container's /etc/passwd")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in the container's /etc/group")]
    NoGroup(String),
    #[error("cannot resolve the user {user}: the container's {file} {why}")]
    Unusable { user: String, file: &'static str, why: String },
}

struct PasswdLine<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_lines(text: &str) -> impl Iterator<Item = PasswdLine<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6)
            .then(|| Some(PasswdLine { name: f[0], uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5] }))
            .flatten()
    })
}

/// (name, gid, members) of each /etc/group line.
fn group_lines(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4)
            .then(|| Some((f[0], f[2].parse().ok()?, f[3].split(',').filter(|m| !m.is_empty()).collect())))
            .flatten()
    })
}

/// [`resolve`] from files as read: a file that cannot be used is an error only when a name must be
/// looked up in it; otherwise the user is resolved as if it were missing.
pub fn resolve_files(spec: &str, passwd: &FileText, group: &FileText) -> Result<User, UserError> {
    let (user_part, group_part) = spec.split_once(':').map_or((spec, None), |(u, g)| (u, Some(g)));
    let names = |part: &str| !part.is_empty() && part.parse::<u32>().is_err();
    let usable = |text: &'_ FileText, file, needed| match text {
        Ok(t) => Ok(t.clone()),
        Err(why) if needed => Err(UserError::Unusable { user: spec.to_string(), file, why: why.clone() }),
        Err(_) => Ok(None),
    };
    let passwd = usable(passwd, "/etc/passwd", names(user_part))?;
    let group = usable(group, "/etc/group", group_part.is_some_and(names))?;
    resolve(spec, passwd.as_deref(), group.as_deref())
}

pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<User, UserError> {
    let passwd = passwd.unwrap_or("");
    let group = group.unwrap_or("");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd_lines(passwd).find(|p| p.uid == uid),
        Err(_) => Some(
            passwd_lines(passwd).find(|p| p.name == user_part).ok_or_else(|| UserError::NoUser(user_part.into()))?,
        ),
    };
    let uid = entry.as_ref().map_or_else(|| user_part.parse().unwrap_or(0), |e| e.uid);
    let mut gid = entry.as_ref().map_or(0, |e| e.gid);
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_lines(group)
                .find(|(name, _, _)| *name == g)
                .map(|(_, n, _)| n)
                .ok_or_else(|| UserError::NoGroup(g.into()))?,
        };
    }
    let mut groups = vec![gid];
    if let Some(e) = &entry
        && group_part.is_none()
    {
        for (_, g, members) in group_lines(group) {
            if members.contains(&e.name) && !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let home = entry.map_or_else(
        || "/".to_string(),
        |e| {
            if e.home.is_empty() { "/".into() } else { e.home.to_string() }
        },
    );
    Ok(User { uid, gid, groups, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nbob:x:1000:\nwheel:x:10:bob,alice\n";

    #[test]
    fn default_is_root() {
        let u = resolve("", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn names_and_supplementary_groups() {
        let u = resolve("bob", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(u, User { uid: 1000, gid: 1000, groups: vec![1000, 10], home: "/home/bob".into() });
    }

    #[test]
    fn numeric_ids_need_no_passwd() {
        let u = resolve("4242:99", None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.groups.clone(), u.home.as_str()), (4242, 99, vec![99], "/"));
        assert_eq!(resolve("33", Some(PASSWD), None).unwrap().gid, 33);
    }

    #[test]
    fn an_unusable_file_matters_only_when_a_name_is_looked_up_in_it() {
        let bad: FileText = Err("is a character device, not a regular file".into());
        let good: FileText = Ok(Some(PASSWD.into()));
        assert_eq!(resolve_files("4242:99", &bad, &bad).unwrap().uid, 4242);
        assert_eq!(resolve_files("bob", &good, &bad).unwrap().groups, [1000]);
        let e = resolve_files("bob", &bad, &Ok(None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot resolve the user bob: the container's /etc/passwd is a character device, not a regular file"
        );
        assert!(matches!(resolve_files("bob:staff", &good, &bad), Err(UserError::Unusable { file: "/etc/group", .. })));
    }

    #[test]
    fn group_by_name_and_unknowns() {
        assert_eq!(resolve("www:wheel", Some(PASSWD), Some(GROUP)).unwrap().gid, 10);
        assert_eq!(resolve("nobody", Some(PASSWD), Some(GROUP)), Err(UserError::NoUser("nobody".into())));
        assert_eq!(resolve("bob:staff", Some(PASSWD), Some(GROUP)), Err(UserError::NoGroup("staff".into())));
    }
}
