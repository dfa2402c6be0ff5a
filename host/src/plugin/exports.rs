//! A plugin's exports, called one of two ways. A component that imports WASI may wait in a host
//! call (a sleep, a read that blocks), so its calls run as futures on a fiber of their own, which
//! the call's deadline can drop (see [`super::instance`]). One that imports nothing of WASI (the
//! shipped Rust policies) calls only sbx's own host functions, which never wait: it is called on
//! the calling thread, without a fiber stack to map for each instance and without the runtime
//! that drives the futures. The epoch deadline still bounds its computing. `T` is the stores' data
//! (sbx's `HostState`), which this module need not know.

use super::bindings::{Adjustment, Container, Event, Image, Interests, Layer, LayerAnswer, Spec, Verdict};
use super::bindings::{config, hooks, policy, sync_calls};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

/// One interface's exports (or their indices), in the way the plugin's calls are made.
#[derive(Clone)]
pub enum Way<Async, Sync> {
    Async(Async),
    Sync(Sync),
}

/// The indices of an interface's exports, found once per plugin, and loaded (type-checked) once
/// per instance.
macro_rules! indices {
    ($indices:ident, $guest:ident, $iface:ident) => {
        pub type $indices = Way<$iface::GuestIndices, sync_calls::$iface::GuestIndices>;
        pub type $guest = Way<$iface::Guest, sync_calls::$iface::Guest>;

        impl $indices {
            pub fn new<T: 'static>(pre: &InstancePre<T>, sync: bool) -> wasmtime::Result<$indices> {
                Ok(match sync {
                    true => Way::Sync(sync_calls::$iface::GuestIndices::new(pre)?),
                    false => Way::Async($iface::GuestIndices::new(pre)?),
                })
            }

            pub fn load<T: 'static>(&self, store: &mut Store<T>, instance: &Instance) -> wasmtime::Result<$guest> {
                Ok(match self {
                    Way::Sync(i) => Way::Sync(i.load(store, instance)?),
                    Way::Async(i) => Way::Async(i.load(store, instance)?),
                })
            }
        }
    };
}

indices!(ConfigIndices, Config, config);
indices!(PolicyIndices, Policy, policy);
indices!(HooksIndices, Hooks, hooks);

/// Calls `$func` with `$args` the way `$guest` is called.
macro_rules! call {
    ($guest:expr, $func:ident, $store:expr $(, $arg:expr)*) => {
        match $guest {
            Way::Sync(g) => g.$func($store $(, $arg)*),
            Way::Async(g) => g.$func($store $(, $arg)*).await,
        }
    };
}

impl Config {
    pub async fn validate_settings<T: Send + 'static>(
        &self,
        store: &mut Store<T>,
        settings: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        call!(self, call_validate_settings, store, settings)
    }
}

impl Policy {
    pub async fn wants<T: Send + 'static>(&self, store: &mut Store<T>, settings: &str) -> wasmtime::Result<Interests> {
        call!(self, call_wants, store, settings)
    }

    pub async fn check_image<T: Send + 'static>(
        &self,
        store: &mut Store<T>,
        settings: &str,
        image: &Image,
    ) -> wasmtime::Result<Verdict> {
        call!(self, call_check_image, store, settings, image)
    }

    pub async fn check_layer<T: Send + 'static>(
        &self,
        store: &mut Store<T>,
        settings: &str,
        image: &Image,
        layer: &Layer,
    ) -> wasmtime::Result<LayerAnswer> {
        call!(self, call_check_layer, store, settings, image, layer)
    }

    pub async fn mutate_spec<T: Send + 'static>(
        &self,
        store: &mut Store<T>,
        settings: &str,
        spec: &Spec,
    ) -> wasmtime::Result<Vec<Adjustment>> {
        call!(self, call_mutate_spec, store, settings, spec)
    }

    pub async fn validate_spec<T: Send + 'static>(
        &self,
        store: &mut Store<T>,
        settings: &str,
        spec: &Spec,
    ) -> wasmtime::Result<Verdict> {
        call!(self, call_validate_spec, store, settings, spec)
    }
}

impl Hooks {
    pub async fn on_event<T: Send + 'static>(
        &self,
        store: &mut Store<T>,
        settings: &str,
        event: Event,
        container: &Container,
    ) -> wasmtime::Result<Verdict> {
        call!(self, call_on_event, store, settings, event, container)
    }
}
