//! `ps --filter KEY=VALUE`: docker's container filters. Values of one key are alternatives, keys
//! are all required. Pure: the caller gathers what each container is.

use std::collections::{BTreeMap, BTreeSet};

/// What a filter looks at in one container.
pub struct Candidate<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// [`super::view::state_word`]: created, running, paused, exited, dead.
    pub state: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// The image as the user named it, and its id (`sha256:...`).
    pub image: &'a str,
    pub image_id: &'a str,
    pub exit_code: Option<i32>,
    /// Its health check's status (starting, healthy, unhealthy), or none.
    pub health: &'a str,
}

const KEYS: [&str; 9] = ["status", "name", "id", "label", "ancestor", "exited", "health", "before", "since"];
const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];
const STATES: [&str; 7] = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/// docker's `label=KEY` or `label=KEY=VALUE` filter over `labels`. Pure.
pub fn has_label(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
        None => labels.contains_key(filter),
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Filters(BTreeMap<String, BTreeSet<String>>);

impl Filters {
    /// Parses `--filter` values; Err names the bad one and what is known.
    pub fn parse(args: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for a in args {
            let (key, value) = a.split_once('=').ok_or_else(|| format!("bad filter '{a}': expected KEY=VALUE"))?;
            if !KEYS.contains(&key) {
                return Err(format!("invalid filter '{key}': the filters are {}", KEYS.join(", ")));
            }
            if key == "status" && !STATES.contains(&value) {
                return Err(format!("invalid filter 'status={value}': the states are {}", STATES.join(", ")));
            }
            if key == "health" && !HEALTH.contains(&value) {
                return Err(format!("invalid filter 'health={value}': give {}", HEALTH.join(", ")));
            }
            if key == "exited" && value.parse::<i32>().is_err() {
                return Err(format!("invalid filter 'exited={value}': give an exit code"));
            }
            f.0.entry(key.to_string()).or_default().insert(value.to_string());
        }
        Ok(f)
    }

    /// The values of `key` (`before`, `since` are resolved by the caller).
    pub fn values(&self, key: &str) -> impl Iterator<Item = &String> {
        self.0.get(key).into_iter().flatten()
    }

    /// Whether every filter but before/since lets `c` through; `image_ids_of` gives the ids of
    /// the image an `ancestor` value names, if the store has it.
    pub fn matches(&self, c: &Candidate, image_ids_of: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|(key, values)| {
            values.iter().any(|v| match key.as_str() {
                "status" => c.state == v,
                "name" => c.name.contains(v.as_str()),
                "id" => c.id.starts_with(v.as_str()),
                "label" => has_label(c.labels, v),
                "ancestor" => c.image == v || image_ids_of(v).is_some_and(|id| id == c.image_id),
                "exited" => c.state == "exited" && c.exit_code.is_some_and(|e| e.to_string() == *v),
                "health" => c.health == v,
                _ => true, // before, since
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(args: &[&str]) -> Filters {
        Filters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn one_keys_values_are_alternatives_and_keys_are_all_required() {
        let labels = BTreeMap::from([("tier".to_string(), "web".to_string()), ("x".to_string(), String::new())]);
        let c = Candidate {
            id: "abc123",
            name: "web1",
            state: "running",
            labels: &labels,
            image: "busybox",
            image_id: "sha256:ff",
            exit_code: None,
            health: "none",
        };
        let none = |_: &str| None;
        assert!(f(&["status=exited", "status=running"]).matches(&c, none));
        assert!(!f(&["status=running", "name=db"]).matches(&c, none));
        assert!(f(&["name=eb", "id=abc", "label=tier=web", "label=x"]).matches(&c, none));
        assert!(!f(&["label=tier=db"]).matches(&c, none));
        assert!(f(&["ancestor=bb"]).matches(&c, |_| Some("sha256:ff".into())), "by the image's id");
        assert!(!f(&["ancestor=bb"]).matches(&c, none));
        assert!(!f(&["exited=0"]).matches(&c, none), "a running one has no exit code");
    }

    #[test]
    fn bad_filters_are_named() {
        let e = |a: &str| Filters::parse(&[a.to_string()]).unwrap_err();
        assert!(e("colour=red").contains("invalid filter 'colour'"));
        assert!(e("status=sleeping").contains("the states are"));
        assert!(e("nokey").contains("expected KEY=VALUE"));
        assert!(e("exited=x").contains("exit code"));
    }
}
