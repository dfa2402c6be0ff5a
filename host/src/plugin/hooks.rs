//! Firing a lifecycle event at every plugin that has hooks, in order. At `create` and `prestart`
//! the first deny of an enforcing plugin (or its failure, unless its on-error is allow) stops the
//! container; at the later events nothing can be undone, so denials and failures are only
//! reported. Monitor-mode plugins never stop anything. Pure over [`HookTarget`].

use super::bindings::{Container, Event, Spec, Verdict};
use super::chain::Note;
use super::engine::PluginError;
use super::instance::Plugin;
use crate::config::{Mode, OnError};
use std::sync::Arc;

/// What a hook call is about: the container as the hooks are told of it, and its spec, which a
/// hook asks for when it needs it (`hook-context.container-spec`).
pub struct Subject {
    pub container: Container,
    pub spec: Arc<Spec>,
}

pub trait HookTarget {
    fn name(&self) -> &str;
    fn mode(&self) -> Mode;
    fn on_error(&self) -> OnError;
    fn wants_events(&self) -> bool;
    fn on_event(&self, event: Event, subject: &Subject) -> Result<Verdict, PluginError>;
}

impl HookTarget for Plugin {
    fn name(&self) -> &str {
        &self.spec.name
    }
    fn mode(&self) -> Mode {
        self.spec.mode
    }
    fn on_error(&self) -> OnError {
        self.spec.on_error
    }
    fn wants_events(&self) -> bool {
        self.has_hooks()
    }
    fn on_event(&self, event: Event, subject: &Subject) -> Result<Verdict, PluginError> {
        Plugin::on_event(self, event, &subject.container, &subject.spec)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Veto {
    pub plugin: String,
    pub reason: String,
}

pub fn event_name(event: Event) -> &'static str {
    match event {
        Event::Create => "create",
        Event::Prestart => "prestart",
        Event::Poststart => "poststart",
        Event::Exit => "exit",
        Event::Remove => "remove",
    }
}

/// The plugins of a run as hook targets.
pub fn targets(plugins: &[Plugin]) -> Vec<&dyn HookTarget> {
    plugins.iter().map(|p| p as &dyn HookTarget).collect()
}

/// Fires `event`; returns the notes to show, or the veto that stops the container.
pub fn fire(plugins: &[&dyn HookTarget], event: Event, subject: &Subject) -> Result<Vec<Note>, Veto> {
    let can_veto = matches!(event, Event::Create | Event::Prestart);
    let name = event_name(event);
    let mut notes = Vec::new();
    for p in plugins.iter().filter(|p| p.wants_events()) {
        let (reason, failed) = match p.on_event(event, subject) {
            Ok(Verdict::Allow) => continue,
            Ok(Verdict::Deny(r)) => (r, false),
            Err(e) => (e.to_string(), true),
        };
        let fails_open = failed && p.on_error() == OnError::Allow;
        if can_veto && p.mode() == Mode::Enforce && !fails_open {
            return Err(Veto { plugin: p.name().into(), reason });
        }
        let message = match (failed, can_veto && p.mode() == Mode::Monitor) {
            (true, _) => format!("{name} hook failed (ignored): {reason}"),
            (false, true) => format!("{name} hook would deny: {reason}"),
            (false, false) => format!("{name} hook denied, too late to stop it: {reason}"),
        };
        notes.push(Note::new(p.name(), message));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::Status;
    use crate::plugin::convert::{self, ContainerView};
    use std::cell::RefCell;

    struct Scripted {
        name: &'static str,
        mode: Mode,
        on_error: OnError,
        hooks: bool,
        answer: Result<Verdict, ()>,
        seen: RefCell<Vec<&'static str>>,
    }

    fn scripted(name: &'static str, answer: Result<Verdict, ()>) -> Scripted {
        Scripted { name, mode: Mode::Enforce, on_error: OnError::Deny, hooks: true, answer, seen: RefCell::default() }
    }

    impl HookTarget for Scripted {
        fn name(&self) -> &str {
            self.name
        }
        fn mode(&self) -> Mode {
            self.mode
        }
        fn on_error(&self) -> OnError {
            self.on_error
        }
        fn wants_events(&self) -> bool {
            self.hooks
        }
        fn on_event(&self, event: Event, _: &Subject) -> Result<Verdict, PluginError> {
            self.seen.borrow_mut().push(event_name(event));
            self.answer.clone().map_err(|()| PluginError::Call {
                plugin: self.name.into(),
                func: "on-event",
                message: "trapped".into(),
            })
        }
    }

    fn container() -> Subject {
        let spec = crate::spec::build(
            "img",
            None,
            &crate::spec::Overrides { cmd: vec!["sh".into()], ..Default::default() },
            "h",
            |_| None,
        )
        .unwrap();
        let spec = convert::spec(&convert::bare_image("img"), &spec, &Default::default());
        let container = convert::container(ContainerView {
            id: "c",
            name: "n",
            spec: &spec,
            status: Status::Created,
            pid: None,
            exit_code: None,
            signal: None,
            oom_killed: false,
        });
        Subject { container, spec: Arc::new(spec) }
    }

    #[test]
    fn every_plugin_with_hooks_hears_the_event_in_order() {
        let a = scripted("a", Ok(Verdict::Allow));
        let mut b = scripted("b", Ok(Verdict::Allow));
        b.hooks = false;
        let c = scripted("c", Ok(Verdict::Allow));
        assert_eq!(fire(&[&a, &b, &c], Event::Create, &container()), Ok(vec![]));
        assert_eq!((a.seen.borrow().len(), b.seen.borrow().len(), c.seen.borrow().len()), (1, 0, 1));
    }

    #[test]
    fn prestart_deny_vetoes_and_stops_the_chain() {
        let a = scripted("a", Ok(Verdict::Deny("not now".into())));
        let c = scripted("c", Ok(Verdict::Allow));
        let veto = fire(&[&a, &c], Event::Prestart, &container()).unwrap_err();
        assert_eq!(veto, Veto { plugin: "a".into(), reason: "not now".into() });
        assert!(c.seen.borrow().is_empty());
    }

    #[test]
    fn late_events_only_report() {
        let a = scripted("a", Ok(Verdict::Deny("no".into())));
        let b = scripted("b", Err(()));
        let notes = fire(&[&a, &b], Event::Exit, &container()).unwrap();
        assert_eq!(notes.len(), 2);
        assert!(notes[0].message.starts_with("exit hook denied, too late"), "{notes:?}");
        assert!(notes[1].message.contains("trapped"), "{notes:?}");
    }

    #[test]
    fn failures_veto_unless_on_error_allows_and_monitor_never_vetoes() {
        let a = scripted("a", Err(()));
        assert!(fire(&[&a], Event::Create, &container()).is_err());
        let mut b = scripted("b", Err(()));
        b.on_error = OnError::Allow;
        let mut c = scripted("c", Ok(Verdict::Deny("x".into())));
        c.mode = Mode::Monitor;
        let notes = fire(&[&b, &c], Event::Create, &container()).unwrap();
        assert!(notes[1].message.starts_with("create hook would deny"), "{notes:?}");
    }
}
