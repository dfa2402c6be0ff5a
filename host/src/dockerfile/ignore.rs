//! `.dockerignore` / `.containerignore`: which files of a build's context are left out, with
//! docker's rules: a pattern per line (`#` comments and blank lines skipped), relative to the
//! context's root (a leading `/` means the same), `*` and `?` within one path component, `**` for
//! any number of them, `!` for an exception; a path is left out when the last pattern that matches
//! it, or one of its parent directories, is not an exception. Globs are the `globset` crate's.
//! Pure.

use globset::{GlobBuilder, GlobMatcher};

/// The patterns of one ignore file.
#[derive(Debug, Default)]
pub struct Ignore {
    rules: Vec<(GlobMatcher, bool)>,
}

impl Ignore {
    /// Reads the file's `text` (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Ignore, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, exception) = match line.strip_prefix('!') {
                Some(rest) => (rest.trim(), true),
                None => (line, false),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("{file}:{}: bad pattern '{line}': {e}", n + 1))?;
            rules.push((glob.compile_matcher(), exception));
        }
        Ok(Ignore { rules })
    }

    /// Whether `path` (relative to the context's root, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let mut out = false;
        for (glob, exception) in &self.rules {
            if matches_or_parent(glob, &path) {
                out = !exception;
            }
        }
        out
    }

    /// Whether an exception may bring back files under the left-out directory `dir` (which must
    /// then still be walked): one whose pattern's leading components match `dir`'s.
    pub fn may_bring_back_under(&self, dir: &str) -> bool {
        let dir = clean(dir);
        self.rules.iter().filter(|(_, exception)| *exception).any(|(glob, _)| {
            let pattern = glob.glob().glob();
            let mut parts = pattern.split('/');
            dir.split('/').all(|d| match parts.next() {
                Some("**") => true,
                Some(p) => globset::Glob::new(p).is_ok_and(|g| g.compile_matcher().is_match(d)),
                None => false,
            }) || pattern.starts_with("**")
        })
    }
}

fn matches_or_parent(glob: &GlobMatcher, path: &str) -> bool {
    let mut at = path;
    loop {
        if glob.is_match(at) {
            return true;
        }
        match at.rfind('/') {
            Some(i) => at = &at[..i],
            None => return false,
        }
    }
}

/// A path or pattern without its leading `/` and `./`, its `.` components and doubled slashes
/// (`..` components are kept: they match nothing in the context).
fn clean(path: &str) -> String {
    path.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(".dockerignore", text).unwrap()
    }

    #[test]
    fn patterns_are_rooted_at_the_context_and_cover_what_is_under_them() {
        let i = ignore("# comment\n\n/target\n*.log\ndocs/*.md\n");
        assert!(i.excludes("target") && i.excludes("target/release/sbx"));
        assert!(i.excludes("build.log") && !i.excludes("logs/build.log"), "* stays in one component");
        assert!(i.excludes("docs/a.md") && !i.excludes("docs/sub/a.md") && !i.excludes("README.md"));
        assert!(!i.excludes("src/target"), "rooted, not anywhere");
    }

    #[test]
    fn double_star_spans_directories_and_the_last_match_wins() {
        let i = ignore("**/*.tmp\nnode_modules\n!node_modules/keep\n*.md\n!README.md\n");
        assert!(i.excludes("a.tmp") && i.excludes("a/b/c.tmp"));
        assert!(i.excludes("node_modules/x/y.js") && !i.excludes("node_modules/keep"));
        assert!(!i.excludes("node_modules/keep/inner.js"), "the exception covers what is under it");
        assert!(i.excludes("CHANGES.md") && !i.excludes("README.md"));
        assert!(i.may_bring_back_under("node_modules"), "node_modules/keep may come back");
        assert!(!i.may_bring_back_under("node_modules/x") && !i.may_bring_back_under("secrets"));
        assert!(!ignore("a\n").may_bring_back_under("a"));
        assert!(ignore("a\n!**/keep\n").may_bring_back_under("a/b"));
    }

    #[test]
    fn paths_and_patterns_are_cleaned() {
        let i = ignore("./secrets//key\n");
        assert!(i.excludes("secrets/key") && i.excludes("./secrets/key") && i.excludes("/secrets/key/x"));
        assert!(!ignore("").excludes("anything"));
    }

    #[test]
    fn a_bad_pattern_is_refused_naming_its_line() {
        let e = Ignore::parse(".dockerignore", "ok\n[z-a\n").unwrap_err();
        assert!(e.starts_with(".dockerignore:2: bad pattern '[z-a'"), "{e}");
    }
}
