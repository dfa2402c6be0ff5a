//! `USER` as an image or `-u` gives it (`name`, `uid`, `name:group`, `uid:gid`) resolved against the
//! container's /etc/passwd and /etc/group text. Pure.

/// /etc/passwd or /etc/group as read from a container: its text, None when it has none, or why it
/// cannot be used (not a regular file, too big...).
pub type FileText = Result<Option<String>, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    #[error(
        "user '{0}' has an invalid id: user and group ids are decimal numbers from 0 to 4294967294 (4294967295 is -1, which would leave the process root)"
    )]
    InvalidId(String),
}

/// A part of a user spec: a numeric id, or a name to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    Id(u32),
    Name(&'a str),
}

/// The largest valid id: (uid_t)-1 means "no change" to setuid and setgid.
const MAX_ID: u64 = u32::MAX as u64 - 1;

/// `part` of the user spec `whole`: plain decimal digits are an id (and must be a valid one);
/// `+0`, `-1` and the like are refused rather than read as names or numbers.
fn part<'a>(part: &'a str, whole: &str) -> Result<Part<'a>, UserError> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if digits(part) {
        return match part.parse::<u64>() {
            Ok(n) if n <= MAX_ID => Ok(Part::Id(n as u32)),
            _ => Err(UserError::InvalidId(whole.to_string())),
        };
    }
    if part.strip_prefix(['+', '-']).is_some_and(digits) {
        return Err(UserError::InvalidId(whole.to_string()));
    }
    Ok(Part::Name(part))
}

fn valid(id: u32, whole: &str) -> Result<u32, UserError> {
    if u64::from(id) <= MAX_ID { Ok(id) } else { Err(UserError::InvalidId(whole.to_string())) }
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
/// `group_add` (`--group-add`: gids, or names in the container's /etc/group) join the user's
/// supplementary groups.
pub fn resolve_files(spec: &str, passwd: &FileText, group: &FileText, group_add: &[String]) -> Result<User, UserError> {
    let (user_part, group_part) = spec.split_once(':').map_or((spec, None), |(u, g)| (u, Some(g)));
    let names = |p: &str| !p.is_empty() && matches!(part(p, spec), Ok(Part::Name(_)));
    let usable = |text: &'_ FileText, file, needed| match text {
        Ok(t) => Ok(t.clone()),
        Err(why) if needed => Err(UserError::Unusable { user: spec.to_string(), file, why: why.clone() }),
        Err(_) => Ok(None),
    };
    let passwd = usable(passwd, "/etc/passwd", names(user_part))?;
    let group = usable(group, "/etc/group", group_part.is_some_and(names) || group_add.iter().any(|g| names(g)))?;
    let mut user = resolve(spec, passwd.as_deref(), group.as_deref())?;
    for g in group_add {
        let gid = match part(g, g)? {
            Part::Id(n) => n,
            Part::Name(name) => group_lines(group.as_deref().unwrap_or(""))
                .find(|(n, _, _)| *n == name)
                .map(|(_, n, _)| n)
                .ok_or_else(|| UserError::NoGroup(name.into()))?,
        };
        if !user.groups.contains(&gid) {
            user.groups.push(gid);
        }
    }
    Ok(user)
}

pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<User, UserError> {
    let passwd = passwd.unwrap_or("");
    let group = group.unwrap_or("");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match part(if user_part.is_empty() { "0" } else { user_part }, spec)? {
        Part::Id(uid) => passwd_lines(passwd).find(|p| p.uid == uid).ok_or(uid),
        Part::Name(name) => {
            Ok(passwd_lines(passwd).find(|p| p.name == name).ok_or_else(|| UserError::NoUser(name.into()))?)
        }
    };
    let uid = valid(entry.as_ref().map_or_else(|uid| *uid, |e| e.uid), spec)?;
    let mut gid = entry.as_ref().map_or(0, |e| e.gid);
    if let Some(g) = group_part {
        gid = match part(g, spec)? {
            Part::Id(n) => n,
            Part::Name(g) => group_lines(group)
                .find(|(name, _, _)| *name == g)
                .map(|(_, n, _)| n)
                .ok_or_else(|| UserError::NoGroup(g.into()))?,
        };
    }
    let mut groups = vec![valid(gid, spec)?];
    if let Ok(e) = &entry
        && group_part.is_none()
    {
        for (_, g, members) in group_lines(group) {
            if members.contains(&e.name) && !groups.contains(&g) {
                groups.push(valid(g, spec)?);
            }
        }
    }
    let home = match &entry {
        Ok(e) if !e.home.is_empty() => e.home.to_string(),
        _ => "/".into(),
    };
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
        assert_eq!(resolve_files("4242:99", &bad, &bad, &[]).unwrap().uid, 4242);
        assert_eq!(resolve_files("bob", &good, &bad, &[]).unwrap().groups, [1000]);
        let e = resolve_files("bob", &bad, &Ok(None), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot resolve the user bob: the container's /etc/passwd is a character device, not a regular file"
        );
        assert!(matches!(
            resolve_files("bob:staff", &good, &bad, &[]),
            Err(UserError::Unusable { file: "/etc/group", .. })
        ));
    }

    #[test]
    fn ids_that_are_not_valid_are_refused_not_read_as_root() {
        for spec in ["4294967295", "0:4294967295", "99999999999", "+0", "-1", "1000:-1"] {
            assert_eq!(resolve(spec, Some(PASSWD), Some(GROUP)), Err(UserError::InvalidId(spec.into())), "{spec}");
        }
        let minus_one = "ghost:x:4294967295:0::/:/bin/sh\n";
        assert_eq!(resolve("ghost", Some(minus_one), None), Err(UserError::InvalidId("ghost".into())));
        assert_eq!(resolve("00", Some(PASSWD), None).unwrap().uid, 0, "00 is uid 0, as sbx applies it");
        assert_eq!(resolve("4294967294", None, None).unwrap().uid, 4_294_967_294);
    }

    #[test]
    fn group_by_name_and_unknowns() {
        assert_eq!(resolve("www:wheel", Some(PASSWD), Some(GROUP)).unwrap().gid, 10);
        assert_eq!(resolve("nobody", Some(PASSWD), Some(GROUP)), Err(UserError::NoUser("nobody".into())));
        assert_eq!(resolve("bob:staff", Some(PASSWD), Some(GROUP)), Err(UserError::NoGroup("staff".into())));
    }
}
