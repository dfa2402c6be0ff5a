//! What `-v` and `--mount` ask for, as docker reads them. Pure: which volumes exist is the
//! store's business (see `container::volumes`), and host paths are checked by `parse_volume`.

use super::{SpecError, check_destination};

/// One `-v` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeArg {
    /// `/host:/ctr[:ro]` (or `./host`): a bind mount, as written.
    Host(String),
    /// `NAME:/ctr[:OPTIONS]`: a named volume, made on first use.
    Named { name: String, destination: String, read_only: bool, copy: bool },
    /// `/ctr` alone: an anonymous volume, made for this container.
    Anonymous { destination: String, read_only: bool, copy: bool },
}

/// docker's volume options: `ro`/`rw` and `nocopy` (a new volume is not filled from the image),
/// comma-separated. Returns (read_only, copy).
fn volume_options(arg: &str, options: &str) -> Result<(bool, bool), SpecError> {
    let (mut read_only, mut copy) = (false, true);
    for o in options.split(',') {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => copy = false,
            _ => return Err(SpecError::BadVolume(arg.to_string())),
        }
    }
    Ok((read_only, copy))
}

/// Reads a `-v` argument. A source without a `/` that does not start with `.` names a volume.
pub fn volume_arg(arg: &str) -> Result<VolumeArg, SpecError> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (source, destination, options) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(SpecError::BadVolume(arg.to_string())),
    };
    let (read_only, copy) = if options.is_empty() { (false, true) } else { volume_options(arg, options)? };
    if source.is_empty() {
        let destination = check_destination(destination)?;
        return Ok(VolumeArg::Anonymous { destination, read_only, copy });
    }
    if source.starts_with(['/', '.']) || source.contains('/') {
        if !copy {
            return Err(SpecError::BadVolume(arg.to_string()));
        }
        return Ok(VolumeArg::Host(arg.to_string()));
    }
    if !crate::volume::valid_name(source) {
        return Err(SpecError::BadVolumeName(source.to_string()));
    }
    Ok(VolumeArg::Named { name: source.into(), destination: check_destination(destination)?, read_only, copy })
}

/// What one `--mount` becomes: the `-v` or `--tmpfs` argument that says the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountFlag {
    Volume(String),
    Tmpfs(String),
}

const MOUNT_KEYS: &str = "type, source (src), destination (dst, target), readonly (ro), volume-nocopy, \
                          tmpfs-size, tmpfs-mode, bind-propagation=rprivate";

/// Reads `--mount type=bind|volume|tmpfs,source=...,destination=...[,readonly]...` as docker does
/// (the type defaults to volume; a volume without a source is anonymous).
pub fn mount_flag(arg: &str) -> Result<MountFlag, SpecError> {
    let bad = |why: String| SpecError::BadMount { arg: arg.to_string(), why };
    let (mut kind, mut source, mut destination) = ("volume", None, None);
    let (mut read_only, mut copy, mut tmpfs) = (false, true, Vec::new());
    for field in arg.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let flag = || match value {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(bad(format!("{key}={v}: expected true or false"))),
        };
        let text = || value.filter(|v| !v.is_empty()).ok_or_else(|| bad(format!("{key} needs a value")));
        match key {
            "type" => kind = text()?,
            "source" | "src" => source = Some(text()?),
            "destination" | "dst" | "target" => destination = Some(text()?),
            "readonly" | "ro" => read_only = flag()?,
            "volume-nocopy" => copy = !flag()?,
            "tmpfs-size" => tmpfs.push(format!("size={}", text()?)),
            "tmpfs-mode" => tmpfs.push(format!("mode={}", text()?)),
            "bind-propagation" if value == Some("rprivate") => {}
            "bind-propagation" => return Err(bad("sbx's bind mounts are rprivate, the only propagation taken".into())),
            _ => return Err(bad(format!("unknown field '{key}'; known are {MOUNT_KEYS}"))),
        }
    }
    let destination = destination.ok_or_else(|| bad("destination (dst, target) is required".into()))?;
    let ro = if read_only { ":ro" } else { "" };
    let only = |ok: bool, what: &str| if ok { Ok(()) } else { Err(bad(format!("{what} is not for type={kind}"))) };
    match kind {
        "bind" => {
            only(copy, "volume-nocopy")?;
            only(tmpfs.is_empty(), "a tmpfs option")?;
            let source = source.ok_or_else(|| bad("a bind mount needs a source".into()))?;
            if !source.starts_with('/') {
                return Err(bad(format!("bind source '{source}' must be an absolute path")));
            }
            Ok(MountFlag::Volume(format!("{source}:{destination}{ro}")))
        }
        "volume" => {
            only(tmpfs.is_empty(), "a tmpfs option")?;
            let nocopy = if copy {
                ""
            } else if read_only {
                ",nocopy"
            } else {
                ":nocopy"
            };
            if source.is_some_and(|s| s.contains('/') || s.starts_with('.')) {
                return Err(bad("a volume's source is its name; use type=bind for a host path".into()));
            }
            Ok(MountFlag::Volume(format!("{}:{destination}{ro}{nocopy}", source.unwrap_or(""))))
        }
        "tmpfs" => {
            only(source.is_none(), "source")?;
            only(copy, "volume-nocopy")?;
            if read_only {
                tmpfs.push("ro".into());
            }
            Ok(MountFlag::Tmpfs(if tmpfs.is_empty() {
                destination.into()
            } else {
                format!("{destination}:{}", tmpfs.join(","))
            }))
        }
        other => Err(bad(format!("unknown type '{other}': sbx mounts bind, volume and tmpfs"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, d: &str, read_only: bool, copy: bool) -> VolumeArg {
        VolumeArg::Named { name: name.into(), destination: d.into(), read_only, copy }
    }

    #[test]
    fn volume_arguments_as_docker_reads_them() {
        assert_eq!(volume_arg("/srv:/d:ro").unwrap(), VolumeArg::Host("/srv:/d:ro".into()));
        assert_eq!(volume_arg("./x:/d").unwrap(), VolumeArg::Host("./x:/d".into()));
        assert_eq!(volume_arg("db:/var/lib/db/").unwrap(), named("db", "/var/lib/db", false, true));
        assert_eq!(volume_arg("db:/d:ro,nocopy").unwrap(), named("db", "/d", true, false));
        assert_eq!(
            volume_arg("/data").unwrap(),
            VolumeArg::Anonymous { destination: "/data".into(), read_only: false, copy: true }
        );
        for bad in ["db:/d:rx", "db:rel", "a:b:c:d", "/srv:/d:nocopy", "x y:/d", "/"] {
            assert!(volume_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mount_flags_become_the_volume_or_tmpfs_argument_that_says_the_same() {
        let v = |s: &str| Ok(MountFlag::Volume(s.into()));
        assert_eq!(mount_flag("type=bind,source=/srv,target=/d,readonly"), v("/srv:/d:ro"));
        assert_eq!(mount_flag("type=volume,src=db,dst=/d"), v("db:/d"));
        assert_eq!(mount_flag("src=db,dst=/d,ro=true,volume-nocopy"), v("db:/d:ro,nocopy"));
        assert_eq!(mount_flag("type=volume,dst=/d,volume-nocopy=true"), v(":/d:nocopy"));
        assert_eq!(mount_flag("type=volume,dst=/d"), v(":/d"));
        assert_eq!(
            mount_flag("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1777,readonly"),
            Ok(MountFlag::Tmpfs("/t:size=64m,mode=1777,ro".into()))
        );
        assert_eq!(mount_flag("type=tmpfs,destination=/t"), Ok(MountFlag::Tmpfs("/t".into())));
        for bad in [
            "type=bind,dst=/d",
            "type=bind,src=rel,dst=/d",
            "type=volume,src=/srv,dst=/d",
            "type=tmpfs,src=x,dst=/t",
            "type=nfs,dst=/d",
            "type=bind,src=/a,dst=/d,bind-propagation=shared",
            "type=volume,src=db",
            "type=volume,src=db,dst=/d,colour=red",
            "type=bind,src=/a,dst=/d,readonly=maybe",
        ] {
            assert!(matches!(mount_flag(bad), Err(SpecError::BadMount { .. })), "{bad}");
        }
    }

    #[test]
    fn an_anonymous_volume_from_a_mount_flag_reads_back_as_one() {
        let MountFlag::Volume(v) = mount_flag("type=volume,dst=/d,ro,volume-nocopy").unwrap() else { panic!() };
        assert_eq!(
            volume_arg(&v).unwrap(),
            VolumeArg::Anonymous { destination: "/d".into(), read_only: true, copy: false }
        );
    }
}
