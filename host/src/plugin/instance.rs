//! One loaded plugin: compiled, linked, its exports found (config always; policy, hooks or both),
//! its settings validated. Calls run in a Store made from the pre-linked instance, with a memory
//! limit, optional fuel and the directories its config grants, and its time limit twice over: an
//! epoch deadline traps code that computes, and the call, run as a future, is dropped at the
//! deadline when it waits in a host call instead (a WASI sleep); a file operation that blocks (a
//! FIFO's) is interrupted by the deadline's signal (see [`super::deadline`]). A component that
//! imports no WASI cannot wait, and its calls run directly (see [`super::exports`]). Every failure
//! of the plugin (trap, timeout, memory, panic) becomes a [`PluginError::Call`] naming it.
//!
//! The settings check and the policy calls of one admission share one instance (the session),
//! each call with its own deadline and fuel: making an instance costs more than most checks, and
//! an admission asks each plugin four times or more. A session serves one admission and ends with
//! it ([`Plugin::end_session`]), or at the first failure, which leaves an instance that must not
//! be entered again. The hook calls of one process (a container's create, prestart, poststart and
//! exit) share an instance of their own, with running clocks, ended by a failure alike: for a
//! Python or JavaScript plugin a fresh instance costs a millisecond or two, its call tens of us.
//! So a plugin that has only hooks checks its settings in that instance too.

use super::bindings::{
    Adjustment, CONFIG_EXPORT, Container, EVERY_CHECK, Event, HOOKS_EXPORT, Image, Interests, Layer, LayerAnswer,
    LayerVerdict, POLICY_EXPORT, Spec, Verdict,
};
use super::chain::PolicyCheck;
use super::deadline;
use super::engine::{Engine, LoadInfo, PluginError, one_line};
use super::exports::{ConfigIndices, HooksIndices, Policy, PolicyIndices};
use super::host::HostState;
use super::output;
use super::settled;
use crate::config::{Mode, OnError, PluginSpec, Weakening};
use std::cell::RefCell;
use std::sync::Arc;
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Store, Trap};

/// The runtime plugin calls run on, for the whole process: it is never shut down, so that a call
/// dropped at its deadline while a blocking read of it still waits on a thread leaves that thread
/// to end with the process rather than holding up sbx.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a tokio runtime for plugin calls")
    })
}

pub struct Plugin {
    pub spec: PluginSpec,
    pub info: LoadInfo,
    engine: wasmtime::Engine,
    /// The engine meters fuel (some plugin of this run has a fuel budget).
    fuel: bool,
    pre: InstancePre<HostState>,
    config: ConfigIndices,
    policy: Option<PolicyIndices>,
    hooks: Option<HooksIndices>,
    /// What its policy wants to be asked, given its settings (asked at load).
    wants: Interests,
    /// The instance the settings check and the policy calls of this admission share.
    session: RefCell<Option<(Store<HostState>, Instance)>>,
    /// The instance the hook calls of this process share (its clocks run).
    hook_session: RefCell<Option<(Store<HostState>, Instance)>>,
    /// The instance of an admission that is over, not called again, kept to be freed later
    /// ([`Plugin::retire_session`]).
    retired: RefCell<Option<(Store<HostState>, Instance)>>,
}

impl Plugin {
    /// Loads the plugin `spec` names and has it validate its settings and say what it wants,
    /// unless it accepted the same settings before ([`settled`]): then its first instance is made
    /// by the first check that asks it.
    pub fn load(engine: &Engine, spec: &PluginSpec) -> Result<Plugin, PluginError> {
        let path = spec.path.as_path();
        let (component, info) = engine.load(path, spec.limits.compile())?;
        let link_error = |e: wasmtime::Error| PluginError::Link { path: path.into(), message: one_line(&e) };
        let pre = engine.link(&component, &info).map_err(link_error)?;
        // An exported interface that lacks a function is an error, not an interface to ignore.
        let exports_error = |e: wasmtime::Error| PluginError::Exports { path: path.into(), message: one_line(&e) };
        let sync = info.sync_calls;
        let config = ConfigIndices::new(&pre, sync).map_err(exports_error)?;
        let policy = info.policy.then(|| PolicyIndices::new(&pre, sync)).transpose().map_err(exports_error)?;
        let hooks = info.hooks.then(|| HooksIndices::new(&pre, sync)).transpose().map_err(exports_error)?;
        let mut plugin = Plugin {
            spec: spec.clone(),
            info,
            engine: engine.engine.clone(),
            fuel: engine.fuel,
            pre,
            config,
            policy,
            hooks,
            wants: EVERY_CHECK,
            session: RefCell::new(None),
            hook_session: RefCell::new(None),
            retired: RefCell::new(None),
        };
        let settled = settled::entry(engine.cache_dir(), &plugin.info.sha256, spec);
        if let Some(wants) = settled.as_deref().and_then(settled::lookup) {
            plugin.wants = wants;
            return Ok(plugin);
        }
        plugin.validate_settings()?;
        if plugin.has_policy() {
            plugin.wants = plugin.call("wants", async |p, store, i, s| p.policy(store, i)?.wants(store, s).await)?;
        }
        if let Some(entry) = settled {
            settled::remember(&entry, &plugin.wants);
        }
        Ok(plugin)
    }

    /// Has the plugin check its settings (done once when it is loaded); its exports' types are
    /// checked in the same instance first, so a plugin built wrong is refused at load, naming the
    /// function, not at the first call that uses it.
    pub fn validate_settings(&self) -> Result<(), PluginError> {
        let checked = self.call("validate-settings", async |p, store, instance, settings| {
            check_types(store, instance, p.policy.is_some(), p.hooks.is_some())
                .map_err(|message| wasmtime::Error::new(ExportTypes(message)))?;
            p.config.load(store, instance)?.validate_settings(store, settings).await
        });
        let checked = checked.map_err(|e| match e {
            PluginError::Call { message, .. } if message.starts_with(ExportTypes::PREFIX) => PluginError::Exports {
                path: self.spec.path.clone(),
                message: message[ExportTypes::PREFIX.len()..].to_string(),
            },
            e => e,
        });
        checked?.map_err(|message| PluginError::Settings {
            plugin: self.spec.name.clone(),
            message: output::text(&message, output::REASON),
        })
    }

    pub fn has_policy(&self) -> bool {
        self.policy.is_some()
    }

    pub fn has_hooks(&self) -> bool {
        self.hooks.is_some()
    }

    /// Ends the session: the next call gets a fresh instance.
    pub fn end_session(&self) {
        self.session.take();
    }

    /// Ends the session as [`Plugin::end_session`] does, but keeps its instance until
    /// [`Plugin::free_retired`] (or the next retire) frees it: freeing an instance costs 20 to
    /// 300 us (its memory unmapped), which a run pays beside its container rather than before it.
    pub fn retire_session(&self) {
        let session = self.session.take();
        drop(self.retired.replace(session));
    }

    /// Frees the instance [`Plugin::retire_session`] kept.
    pub fn free_retired(&self) {
        self.retired.take();
    }

    /// Ends the instance the hook calls share: the next gets a fresh one.
    pub fn end_hook_session(&self) {
        self.hook_session.take();
    }

    /// Whether `func` runs in the hooks' instance: the hook calls, and the settings check of a
    /// plugin that has only hooks (its first hook call then needs no instance of its own).
    fn in_hook_session(&self, func: &str) -> bool {
        func == "on-event" || (func == "validate-settings" && self.policy.is_none())
    }

    /// A store for one plugin instance: its memory limit and granted directories; policy calls
    /// see frozen clocks, hook calls running ones.
    fn store(&self, func: &'static str) -> Result<Store<HostState>, PluginError> {
        let limits = &self.spec.limits;
        let frozen_clocks = !self.in_hook_session(func);
        let (memory, preopens) = (limits.memory_bytes(), &self.spec.preopens);
        let state = HostState::new(&self.spec.name, memory, preopens, frozen_clocks, self.info.wasi)
            .map_err(|message| PluginError::Call { plugin: self.spec.name.clone(), func, message })?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        Ok(store)
    }

    fn call<R>(
        &self,
        func: &'static str,
        f: impl AsyncFnOnce(&Self, &mut Store<HostState>, &Instance, &str) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let hooks = self.in_hook_session(func);
        let session = if hooks { &self.hook_session } else { &self.session };
        let (mut store, kept) = match session.take() {
            Some((store, instance)) => (store, Some(instance)),
            None => (self.store(func)?, None),
        };
        let limits = &self.spec.limits;
        store.data_mut().begin_call();
        // The next epoch: the engine's epoch moves when this call's time is up (`deadline`).
        store.set_epoch_deadline(1);
        if self.fuel {
            // Fuel is an engine-wide switch: plugins without a budget get an endless one.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        let sync = self.info.sync_calls;
        let call = async {
            let instance = match kept {
                Some(instance) => instance,
                None if sync => self.pre.instantiate(&mut store)?,
                None => self.pre.instantiate_async(&mut store).await?,
            };
            let result = f(self, &mut store, &instance, &self.spec.settings).await?;
            wasmtime::Result::Ok((result, instance))
        };
        let armed = deadline::arm(&self.engine, limits.time()).map_err(|message| PluginError::Call {
            plugin: self.spec.name.clone(),
            func,
            message,
        })?;
        let result = match sync {
            // Nothing in it waits, so it is done at its first poll.
            true => Ok(ready(call).unwrap_or_else(|| Err(wasmtime::Error::msg("it waited in a host call")))),
            false => runtime().block_on(async { tokio::time::timeout(limits.time(), call).await }),
        };
        drop(armed);
        let Ok(result) = result else {
            let message = format!(
                "exceeded its time limit of {} ms waiting in a host call (a sleep, or a read that blocks)",
                limits.time_ms
            );
            return Err(PluginError::Call { plugin: self.spec.name.clone(), func, message });
        };
        match result {
            Ok((result, instance)) => {
                session.replace(Some((store, instance)));
                Ok(result)
            }
            Err(e) => Err(PluginError::Call {
                plugin: self.spec.name.clone(),
                func,
                message: self.describe(&e, store.data()),
            }),
        }
    }

    fn describe(&self, e: &wasmtime::Error, state: &HostState) -> String {
        let base = match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!("exceeded its time limit of {} ms", self.spec.limits.time_ms),
            Some(Trap::OutOfFuel) => {
                format!("ran out of its fuel of {} instructions", self.spec.limits.fuel.unwrap_or_default())
            }
            Some(trap) => format!("trapped: {trap}"),
            None => e.root_cause().to_string(),
        };
        match state.last_words() {
            Some(line) => format!("{base} (its last words: {line})"),
            None => base,
        }
    }

    /// The instance's policy exports, their types checked at its first policy call.
    fn policy(&self, store: &mut Store<HostState>, instance: &Instance) -> wasmtime::Result<Policy> {
        if let Some(exports) = &store.data().policy {
            return Ok(exports.clone());
        }
        let indices = self.policy.as_ref().expect("policy calls are made only on plugins that export it");
        let exports = indices.load(store, instance)?;
        store.data_mut().policy = Some(exports.clone());
        Ok(exports)
    }

    /// Tells the plugin's hooks about `event`; a plugin without hooks allows without being called.
    /// `spec` is the container's, given if the hook asks for it.
    pub fn on_event(&self, event: Event, container: &Container, spec: &Arc<Spec>) -> Result<Verdict, PluginError> {
        let Some(indices) = &self.hooks else { return Ok(Verdict::Allow) };
        self.call("on-event", async |_, store, instance, s| {
            store.data_mut().hook_spec = Some(spec.clone());
            let verdict = indices.load(store, instance)?.on_event(store, s, event, container).await;
            store.data_mut().hook_spec = None;
            verdict
        })
        .map(safe)
    }
}

/// The output of `future` if it is done at its first poll (a call that never waits).
fn ready<T>(future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

/// Checks that the function `func` of the exported interface `iface` has the WIT's type.
fn check_type<P, R>(store: &mut Store<HostState>, instance: &Instance, iface: &str, func: &str) -> Result<(), String>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    let missing = || format!("{iface} has no function {func}");
    let interface = instance.get_export_index(&mut *store, None, iface).ok_or_else(missing)?;
    let f = instance.get_export_index(&mut *store, Some(&interface), func).ok_or_else(missing)?;
    let f = instance.get_func(&mut *store, f).ok_or_else(missing)?;
    f.typed::<P, R>(&*store).map(drop).map_err(|e| format!("{func}: {}", one_line(&e)))
}

/// Checks every exported function against the WIT's types, naming the first that differs.
fn check_types(store: &mut Store<HostState>, instance: &Instance, policy: bool, hooks: bool) -> Result<(), String> {
    check_type::<(&str,), (Result<(), String>,)>(store, instance, CONFIG_EXPORT, "validate-settings")?;
    if policy {
        check_type::<(&str,), (Interests,)>(store, instance, POLICY_EXPORT, "wants")?;
        check_type::<(&str, &Image), (Verdict,)>(store, instance, POLICY_EXPORT, "check-image")?;
        check_type::<(&str, &Image, &Layer), (LayerAnswer,)>(store, instance, POLICY_EXPORT, "check-layer")?;
        check_type::<(&str, &Spec), (Vec<Adjustment>,)>(store, instance, POLICY_EXPORT, "mutate-spec")?;
        check_type::<(&str, &Spec), (Verdict,)>(store, instance, POLICY_EXPORT, "validate-spec")?;
    }
    if hooks {
        check_type::<(&str, Event, &Container), (Verdict,)>(store, instance, HOOKS_EXPORT, "on-event")?;
    }
    Ok(())
}

/// An export whose type is not the WIT's, found when the plugin is loaded.
#[derive(Debug)]
struct ExportTypes(String);

impl ExportTypes {
    const PREFIX: &'static str = "export types: ";
}

impl std::fmt::Display for ExportTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0)
    }
}

impl std::error::Error for ExportTypes {}

/// A verdict whose reason is made safe to show.
fn safe(v: Verdict) -> Verdict {
    match v {
        Verdict::Deny(r) => Verdict::Deny(output::text(&r, output::REASON)),
        Verdict::Allow => Verdict::Allow,
    }
}

/// A plugin without the policy interface allows everything without being called.
impl PolicyCheck for Plugin {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn mode(&self) -> Mode {
        self.spec.mode
    }

    fn on_error(&self) -> OnError {
        self.spec.on_error
    }

    fn wants(&self) -> &Interests {
        &self.wants
    }

    fn check_image(&self, image: &Image) -> Result<Verdict, PluginError> {
        if !self.has_policy() {
            return Ok(Verdict::Allow);
        }
        self.call("check-image", async |p, store, i, s| p.policy(store, i)?.check_image(store, s, image).await)
            .map(safe)
    }

    fn check_layer(&self, image: &Image, layer: &Layer) -> Result<LayerAnswer, PluginError> {
        if !self.has_policy() {
            return Ok(LayerAnswer { verdict: LayerVerdict::Mount, findings: vec![] });
        }
        let answer = self.call("check-layer", async |p, store, i, s| {
            p.policy(store, i)?.check_layer(store, s, image, layer).await
        })?;
        let verdict = match answer.verdict {
            LayerVerdict::Skip(r) => LayerVerdict::Skip(output::text(&r, output::REASON)),
            LayerVerdict::Deny(r) => LayerVerdict::Deny(output::text(&r, output::REASON)),
            LayerVerdict::Mount => LayerVerdict::Mount,
        };
        Ok(LayerAnswer { verdict, findings: output::findings(answer.findings) })
    }

    fn may_weaken(&self) -> &[Weakening] {
        &self.spec.may_weaken
    }

    fn mutate_spec(&self, spec: &Spec) -> Result<Vec<Adjustment>, PluginError> {
        if !self.has_policy() {
            return Ok(Vec::new());
        }
        self.call("mutate-spec", async |p, store, i, s| p.policy(store, i)?.mutate_spec(store, s, spec).await)
    }

    fn validate_spec(&self, spec: &Spec) -> Result<Verdict, PluginError> {
        if !self.has_policy() {
            return Ok(Verdict::Allow);
        }
        self.call("validate-spec", async |p, store, i, s| p.policy(store, i)?.validate_spec(store, s, spec).await)
            .map(safe)
    }
}
