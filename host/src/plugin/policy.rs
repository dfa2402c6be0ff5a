//! One policy plugin: loaded once (settings validated), then each check runs in a fresh Store made
//! from the pre-linked instance, with an epoch deadline and a memory limit. Every failure of the
//! plugin (trap, timeout, memory, panic) becomes a [`PluginError::Call`] naming it.

use super::bindings::{Image, Layer, LayerVerdict, PolicyPlugin, PolicyPluginPre, Verdict};
use super::chain::PolicyCheck;
use super::engine::{Engine, LoadInfo, PluginError, TICK, one_line};
use super::host::HostState;
use std::path::Path;
use std::time::Duration;
use wasmtime::{Store, Trap};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub time: Duration,
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(1),
            memory: 256 << 20,
        }
    }
}

pub struct Plugin {
    pub name: String,
    pub settings: String,
    pub limits: Limits,
    pub info: LoadInfo,
    engine: wasmtime::Engine,
    pre: PolicyPluginPre<HostState>,
}

impl Plugin {
    /// Loads the plugin at `path` and has it validate `settings` (JSON text).
    pub fn load(
        engine: &Engine,
        path: &Path,
        settings: &str,
        limits: Limits,
    ) -> Result<Plugin, PluginError> {
        let (component, info) = engine.load(path)?;
        let instance_pre =
            engine
                .linker
                .instantiate_pre(&component)
                .map_err(|e| PluginError::Link {
                    path: path.into(),
                    message: one_line(&e),
                })?;
        let pre = PolicyPluginPre::new(instance_pre).map_err(|e| PluginError::Link {
            path: path.into(),
            message: one_line(&e),
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let plugin = Plugin {
            name,
            settings: settings.to_string(),
            limits,
            info,
            engine: engine.engine.clone(),
            pre,
        };
        plugin
            .call("validate-settings", |p, store, settings| {
                p.sbx_plugin_policy()
                    .call_validate_settings(store, settings)
            })?
            .map_err(|message| PluginError::Settings {
                plugin: plugin.name.clone(),
                message,
            })?;
        Ok(plugin)
    }

    fn call<R>(
        &self,
        func: &'static str,
        f: impl FnOnce(&PolicyPlugin, &mut Store<HostState>, &str) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let mut store = Store::new(&self.engine, HostState::new(&self.name, self.limits.memory));
        store.limiter(|s| s);
        let ticks = (self.limits.time.as_micros() / TICK.as_micros()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|p| f(&p, &mut store, &self.settings));
        result.map_err(|e| PluginError::Call {
            plugin: self.name.clone(),
            func,
            message: self.describe(&e, store.data()),
        })
    }

    fn describe(&self, e: &wasmtime::Error, state: &HostState) -> String {
        let base = match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!(
                "exceeded its time limit of {} ms",
                self.limits.time.as_millis()
            ),
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
        &self.name
    }

    fn check_image(&self, image: &Image) -> Result<Verdict, PluginError> {
        self.call("check-image", |p, store, s| {
            p.sbx_plugin_policy().call_check_image(store, s, image)
        })
    }

    fn check_layer(&self, image: &Image, layer: &Layer) -> Result<LayerVerdict, PluginError> {
        self.call("check-layer", |p, store, s| {
            p.sbx_plugin_policy()
                .call_check_layer(store, s, image, layer)
        })
    }
}
