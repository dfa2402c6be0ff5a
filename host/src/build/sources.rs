//! What a COPY or ADD copies, read from its instruction: its flags (`--chown`, resolved against
//! the image's users; `--chmod`; `--from`, whose tree the caller opens), its sources found in
//! their tree (globs expanded, `.dockerignore` honoured, archives ADD unpacks told apart, URLs
//! refused), and its destination (relative to WORKDIR).

use super::context::Tree;
use super::error::{At, BuildError};
use super::transfer::{Item, Plan, is_archive};
use super::working::Working;
use crate::dockerfile::{Source, Transfer, words};
use crate::image::Store;

/// A source ADD would download.
fn is_url(source: &str) -> bool {
    ["http://", "https://", "git@", "git://"].iter().any(|p| source.starts_with(p))
}

/// The plan of the COPY (or ADD, `add`) `t` onto the image `working`, reading from `tree`;
/// variables replaced through `lookup`; errors name the step `at`.
pub fn plan<'t>(
    store: &Store,
    t: &Transfer,
    add: bool,
    tree: &'t Tree,
    working: &Working,
    lookup: &dyn Fn(&str) -> Option<String>,
    at: &At,
) -> Result<Plan<'t>, BuildError> {
    let keyword = if add { "ADD" } else { "COPY" };
    // The context's files are root's; an image's keep their owners, as BuildKit copies them.
    let from_image = t.flags.iter().any(|(k, _)| k == "from");
    let mut owner = (!from_image).then_some((0, 0));
    let mut mode = None;
    for (flag, value) in &t.flags {
        let value = value.as_deref().unwrap_or("");
        match flag.as_str() {
            "from" | "link" => {}
            "chown" => {
                let who = words::word(value, lookup).map_err(|m| at.error(m))?;
                let user = crate::container::layers::resolve_user(&store.layer_diffs(&working.layers), &who, &[])
                    .map_err(|e| at.error(format!("--chown={who}: {e}")))?;
                owner = Some((user.uid, user.gid));
            }
            "chmod" => {
                let bits = u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| at.error(format!("--chmod={value} is not an octal mode such as 755")))?;
                mode = Some(bits);
            }
            other => return Err(at.error(format!("{keyword} --{other} is not supported by sbx build"))),
        }
    }
    let mut items = Vec::new();
    for source in &t.sources {
        match source {
            Source::Heredoc(h) => {
                let body = match h.expand {
                    true => words::text(&h.body, lookup).map_err(|m| at.error(m))?,
                    false => h.body.clone(),
                };
                items.push(Item::Text(body.into_bytes()))
            }
            Source::Path(p) => {
                let p = words::word(p, lookup).map_err(|m| at.error(m))?;
                if add && is_url(&p) {
                    return Err(at.error(format!(
                        "ADD {p}: sbx build does not download: fetch it in a RUN step (wget, curl) or put it in the context and COPY it"
                    )));
                }
                let paths = tree.expand(&p).map_err(|m| at.error(m))?;
                if paths.is_empty() {
                    return Err(at.error(format!(
                        "{p}: no file of the build context matches it (or .dockerignore leaves it out)"
                    )));
                }
                for path in paths {
                    let found =
                        tree.find(&path).map_err(|m| at.error(m))?.filter(|f| !tree.excludes(&f.path, f.is_dir));
                    let found = found.ok_or_else(|| {
                        at.error(format!("{path}: not found in the build context (or .dockerignore leaves it out)"))
                    })?;
                    let archive = add && !found.is_dir && is_archive(&found).map_err(|m| at.error(m))?;
                    items.push(if archive { Item::Archive(found) } else { Item::Found(found) });
                }
            }
        }
    }
    let mut dest = words::word(&t.dest, lookup).map_err(|m| at.error(m))?;
    // `.` and `dir/.` name directories, as `dir/` does.
    if dest == "." || dest.ends_with("/.") {
        dest.pop();
    }
    if !dest.starts_with('/') {
        let workdir = working.settings()["WorkingDir"].as_str().unwrap_or("/").trim_end_matches('/').to_string();
        dest = format!("{workdir}/{dest}");
    }
    if items.len() > 1 && !dest.ends_with('/') {
        return Err(at.error(format!(
            "{keyword} of several sources needs a directory as its destination, written with a trailing /: {dest}/"
        )));
    }
    Ok(Plan { tree, items, dest, owner, mode })
}
