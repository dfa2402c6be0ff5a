//! A container's lifecycle events, sent to the plugins that have hooks (see
//! [`crate::plugin::hooks`]): the WIT view of the container is built once, and only when some
//! plugin listens.

use super::error::RunError;
use super::state::Status;
use crate::plugin::Plugin;
use crate::plugin::bindings::{Event, Image, Spec, Status as WitStatus};
use crate::plugin::convert::{self, ContainerView};
use crate::plugin::hooks::{self, HookTarget, Subject};
use crate::spec::ContainerSpec;
use crate::spec::user::User;
use std::sync::Arc;

pub struct Events<'a> {
    targets: Vec<&'a dyn HookTarget>,
    id: String,
    name: String,
    spec: Arc<Spec>,
}

/// What the hooks are told of the container's state at an event.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub status: Status,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub oom_killed: bool,
}

impl Now {
    pub fn created() -> Now {
        Now { status: Status::Created, pid: None, exit_code: None, signal: None, oom_killed: false }
    }
}

impl<'a> Events<'a> {
    /// None when no plugin has hooks.
    pub fn new(
        plugins: &'a [Plugin],
        id: &str,
        name: &str,
        image: &Image,
        spec: &ContainerSpec,
        user: &User,
    ) -> Option<Events<'a>> {
        let targets: Vec<&dyn HookTarget> = hooks::targets(plugins).into_iter().filter(|t| t.wants_events()).collect();
        if targets.is_empty() {
            return None;
        }
        Some(Events { targets, id: id.into(), name: name.into(), spec: Arc::new(convert::spec(image, spec, user)) })
    }

    /// Fires `event`, prints the notes; a veto (create and prestart only) is returned as the error
    /// that stops the container.
    pub fn fire(&self, event: Event, now: Now) -> Result<(), RunError> {
        let container = convert::container(ContainerView {
            id: &self.id,
            name: &self.name,
            spec: &self.spec,
            status: match now.status {
                Status::Created => WitStatus::Created,
                Status::Running => WitStatus::Running,
                Status::Exited => WitStatus::Exited,
            },
            pid: now.pid,
            exit_code: now.exit_code,
            signal: now.signal.map(|s| s as u32),
            oom_killed: now.oom_killed,
        });
        let subject = Subject { container, spec: self.spec.clone() };
        let notes = hooks::fire(&self.targets, event, &subject).map_err(|v| RunError::Vetoed {
            plugin: v.plugin,
            event: hooks::event_name(event),
            reason: v.reason,
        })?;
        for n in notes {
            eprintln!("sbx: plugin {}: {}", n.plugin, n.message);
        }
        Ok(())
    }
}
