//! One policy plugin: loaded once (settings validated), then each check runs in a fresh Store made
//! from the pre-linked instance, with an epoch deadline, a memory limit and optional fuel. Every
//! failure of the plugin (trap, timeout, memory, panic) becomes a [`PluginError::Call`] naming it.

use super::bindings::{Image, Layer, LayerVerdict, PolicyPlugin, PolicyPluginPre, Verdict};
use super::chain::PolicyCheck;
use super::engine::{Engine, LoadInfo, PluginError, TICK, one_line};
use super::host::HostState;
use crate::config::{Mode, OnError, PluginSpec};
use wasmtime::{Store, Trap};

pub struct Plugin {
    pub spec: PluginSpec,
    pub info: LoadInfo,
    engine: wasmtime::Engine,
    /// The engine meters fuel (some plugin of this run has a fuel budget).
    fuel: bool,
    pre: PolicyPluginPre<HostState>,
}

impl Plugin {
    /// Loads the plugin `spec` names and has it validate its settings.
    pub fn load(engine: &Engine, spec: &PluginSpec) -> Result<Plugin, PluginError> {
        let path = spec.path.as_path();
        let (component, info) = engine.load(path)?;
        let link_error = |e: wasmtime::Error| PluginError::Link { path: path.into(), message: one_line(&e) };
        let instance_pre = engine.linker.instantiate_pre(&component).map_err(link_error)?;
        let pre = PolicyPluginPre::new(instance_pre).map_err(link_error)?;
        let plugin = Plugin { spec: spec.clone(), info, engine: engine.engine.clone(), fuel: engine.fuel, pre };
        plugin
            .call("validate-settings", |p, store, settings| {
                p.sbx_plugin_policy().call_validate_settings(store, settings)
            })?
            .map_err(|message| PluginError::Settings { plugin: plugin.spec.name.clone(), message })?;
        Ok(plugin)
    }

    fn call<R>(
        &self,
        func: &'static str,
        f: impl FnOnce(&PolicyPlugin, &mut Store<HostState>, &str) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let limits = &self.spec.limits;
        let mut store = Store::new(&self.engine, HostState::new(&self.spec.name, limits.memory_bytes()));
        store.limiter(|s| s);
        let ticks = (limits.time().as_micros() / TICK.as_micros()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        if self.fuel {
            // Fuel is an engine-wide switch: plugins without a budget get an endless one.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        let result = self.pre.instantiate(&mut store).and_then(|p| f(&p, &mut store, &self.spec.settings));
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
}

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
        self.call("check-image", |p, store, s| p.sbx_plugin_policy().call_check_image(store, s, image))
    }

    fn check_layer(&self, image: &Image, layer: &Layer) -> Result<LayerVerdict, PluginError> {
        self.call("check-layer", |p, store, s| p.sbx_plugin_policy().call_check_layer(store, s, image, layer))
    }
}
