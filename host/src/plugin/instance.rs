//! One loaded plugin: compiled, linked, its exports found (config always; policy, hooks or both),
//! its settings validated. Each call runs in a fresh Store made from the pre-linked instance, with an
//! epoch deadline, a memory limit, optional fuel and the directories its config grants. Every
//! failure of the plugin (trap, timeout, memory, panic) becomes a [`PluginError::Call`] naming it.

use super::bindings::{
    Adjustment, Container, Event, Image, Layer, LayerAnswer, LayerVerdict, Spec, Verdict, config, hooks, policy,
};
use super::chain::PolicyCheck;
use super::engine::{Engine, LoadInfo, PluginError, TICK, one_line};
use super::host::HostState;
use crate::config::{Mode, OnError, PluginSpec, Weakening};
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Store, Trap};

pub struct Plugin {
    pub spec: PluginSpec,
    pub info: LoadInfo,
    engine: wasmtime::Engine,
    /// The engine meters fuel (some plugin of this run has a fuel budget).
    fuel: bool,
    pre: InstancePre<HostState>,
    config: config::GuestIndices,
    policy: Option<policy::GuestIndices>,
    hooks: Option<hooks::GuestIndices>,
}

impl Plugin {
    /// Loads the plugin `spec` names and has it validate its settings.
    pub fn load(engine: &Engine, spec: &PluginSpec) -> Result<Plugin, PluginError> {
        let path = spec.path.as_path();
        let (component, info) = engine.load(path)?;
        let link_error = |e: wasmtime::Error| PluginError::Link { path: path.into(), message: one_line(&e) };
        let pre = engine.linker.instantiate_pre(&component).map_err(link_error)?;
        // An exported interface that lacks a function is an error, not an interface to ignore.
        let exports_error = |e: wasmtime::Error| PluginError::Exports { path: path.into(), message: one_line(&e) };
        let config = config::GuestIndices::new(&pre).map_err(exports_error)?;
        let policy = info.policy.then(|| policy::GuestIndices::new(&pre)).transpose().map_err(exports_error)?;
        let hooks = info.hooks.then(|| hooks::GuestIndices::new(&pre)).transpose().map_err(exports_error)?;
        let plugin = Plugin {
            spec: spec.clone(),
            info,
            engine: engine.engine.clone(),
            fuel: engine.fuel,
            pre,
            config,
            policy,
            hooks,
        };
        plugin.validate_settings()?;
        Ok(plugin)
    }

    /// Has the plugin check its settings (done once when it is loaded).
    pub fn validate_settings(&self) -> Result<(), PluginError> {
        self.call("validate-settings", |p, store, instance, settings| {
            p.config.load(&mut *store, instance)?.call_validate_settings(store, settings)
        })?
        .map_err(|message| PluginError::Settings { plugin: self.spec.name.clone(), message })
    }

    pub fn has_policy(&self) -> bool {
        self.policy.is_some()
    }

    pub fn has_hooks(&self) -> bool {
        self.hooks.is_some()
    }

    fn call<R>(
        &self,
        func: &'static str,
        f: impl FnOnce(&Self, &mut Store<HostState>, &Instance, &str) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let limits = &self.spec.limits;
        let frozen_clocks = func != "on-event";
        let state = HostState::new(&self.spec.name, limits.memory_bytes(), &self.spec.preopens, frozen_clocks)
            .map_err(|message| PluginError::Call { plugin: self.spec.name.clone(), func, message })?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        let ticks = (limits.time().as_micros() / TICK.as_micros()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        if self.fuel {
            // Fuel is an engine-wide switch: plugins without a budget get an endless one.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        let result =
            self.pre.instantiate(&mut store).and_then(|instance| f(self, &mut store, &instance, &self.spec.settings));
        result.map_err(|e| PluginError::Call {
            plugin: self.spec.name.clone(),
            func,
            message: self.describe(&e, store.data()),
        })
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

    fn policy(&self, store: &mut Store<HostState>, instance: &Instance) -> wasmtime::Result<policy::Guest> {
        self.policy.as_ref().expect("policy calls are made only on plugins that export it").load(store, instance)
    }

    /// Tells the plugin's hooks about `event`; a plugin without hooks allows without being called.
    pub fn on_event(&self, event: Event, container: &Container) -> Result<Verdict, PluginError> {
        let Some(indices) = &self.hooks else { return Ok(Verdict::Allow) };
        self.call("on-event", |_, store, instance, s| {
            indices.load(&mut *store, instance)?.call_on_event(store, s, event, container)
        })
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

    fn check_image(&self, image: &Image) -> Result<Verdict, PluginError> {
        if !self.has_policy() {
            return Ok(Verdict::Allow);
        }
        self.call("check-image", |p, store, i, s| p.policy(store, i)?.call_check_image(store, s, image))
    }

    fn check_layer(&self, image: &Image, layer: &Layer) -> Result<LayerAnswer, PluginError> {
        if !self.has_policy() {
            return Ok(LayerAnswer { verdict: LayerVerdict::Mount, findings: vec![] });
        }
        self.call("check-layer", |p, store, i, s| p.policy(store, i)?.call_check_layer(store, s, image, layer))
    }

    fn may_weaken(&self) -> &[Weakening] {
        &self.spec.may_weaken
    }

    fn mutate_spec(&self, spec: &Spec) -> Result<Vec<Adjustment>, PluginError> {
        if !self.has_policy() {
            return Ok(Vec::new());
        }
        self.call("mutate-spec", |p, store, i, s| p.policy(store, i)?.call_mutate_spec(store, s, spec))
    }

    fn validate_spec(&self, spec: &Spec) -> Result<Verdict, PluginError> {
        if !self.has_policy() {
            return Ok(Verdict::Allow);
        }
        self.call("validate-spec", |p, store, i, s| p.policy(store, i)?.call_validate_spec(store, s, spec))
    }
}
