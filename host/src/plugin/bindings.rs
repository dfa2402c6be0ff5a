//! The host side of plugins/wit, generated. The only place `bindgen!` is used. The world `plugin`
//! holds every export; a component may have only some of them, so each export interface is looked up
//! on its own (see [`super::instance`]).

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../plugins/wit",
    // Calls run as futures so that a deadline can end one that waits in a host call (a WASI
    // sleep, a read that blocks), not only one that computes (see [`super::instance`]).
    exports: { default: async },
    // Asked outside an `on-event` call, the container's spec traps.
    imports: { "sbx:plugin/hook-context.container-spec": trappable },
});

pub use self::sbx::plugin::types::{
    Adjustment, Container, Device, Dns, Entry, EntryFilter, EntryKind, Event, HostEntry, Image, ImageConfig, Interests,
    Layer, LayerAnswer, LayerVerdict, Limits, LogLevel, Mount, MountKind, Network, NetworkAttachment, PublishedPort,
    Seccomp, Spec, State, Status, Ulimit, Userns, Verdict,
};
pub use exports::sbx::plugin::{config, hooks, policy};

/// The same exports with calls that run on the calling thread, for components that import no
/// WASI (see [`super::exports`]); the types and imports are the ones above.
pub mod sync_calls {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../plugins/wit",
        with: {
            "sbx:plugin/types": super::sbx::plugin::types,
            "sbx:plugin/host": super::sbx::plugin::host,
            "sbx:plugin/hook-context": super::sbx::plugin::hook_context,
        },
    });
    pub use exports::sbx::plugin::{config, hooks, policy};
}

/// What a policy wants unless it says (and what the policy checks of a plugin without one want):
/// every check, every entry.
pub const EVERY_CHECK: Interests = Interests {
    check_image: true,
    check_layer: true,
    mutate_spec: true,
    validate_spec: true,
    entries: EntryFilter::All,
};

/// The WIT package version this host speaks; components naming another are refused.
pub const WIT_VERSION: &str = "0.9.0";
pub const CONFIG_EXPORT: &str = "sbx:plugin/config@0.9.0";
pub const POLICY_EXPORT: &str = "sbx:plugin/policy@0.9.0";
pub const HOOKS_EXPORT: &str = "sbx:plugin/hooks@0.9.0";
