//! `sbx-plugin`: the guest side of sbx plugins.
//!
//! A policy is a type implementing [`Plugin`] (its settings) and [`Policy`] with plain Rust
//! functions, plus one line: `sbx_plugin::export_policy!(MyPolicy);`. Hooks implement [`Hooks`] and
//! use `export_hooks!`; a plugin with both uses `export_plugin!`. The functions take typed settings
//! (parsed from the JSON the host passes) and the WIT records re-exported here, so their logic can be
//! unit-tested natively.

#[doc(hidden)]
pub use sbx_plugin_bindings as bindings;
#[cfg(any(test, all(target_arch = "wasm32", feature = "arena")))]
mod arena;
mod panics;
#[doc(hidden)]
pub use sbx_plugin_hook_world as hook_world;
#[doc(hidden)]
pub use sbx_plugin_policy_world as policy_world;

pub use bindings::sbx::plugin::types::{
    Adjustment, Container, Device, Dns, Entry, EntryFilter, EntryKind, Event, HostEntry, Image, ImageConfig, Interests,
    Layer, LayerAnswer, LayerVerdict, Limits, LogLevel, Mount, MountKind, Network, NetworkAttachment, PublishedPort,
    Seccomp, Spec, State, Status, Ulimit, Userns, Verdict,
};

use serde::de::DeserializeOwned;

#[cfg(all(target_arch = "wasm32", feature = "arena"))]
#[global_allocator]
static ALLOCATOR: arena::Arena = arena::Arena::new();

/// Settings for a plugin that takes none: accepts `{}` and refuses anything else.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// File mode bits a policy often asks about.
pub mod mode {
    pub const SETUID: u32 = 0o4000;
    pub const SETGID: u32 = 0o2000;
    pub const STICKY: u32 = 0o1000;
}

/// Every check, every layer entry: what a policy wants unless it says less ([`Policy::wants`]).
pub const EVERY_CHECK: Interests = Interests {
    check_image: true,
    check_layer: true,
    mutate_spec: true,
    validate_spec: true,
    entries: EntryFilter::All,
};

/// No check: the base to name the few a policy wants, as in
/// `Interests { check_layer: true, entries: EntryFilter::None, ..NO_CHECK }`.
pub const NO_CHECK: Interests = Interests {
    check_image: false,
    check_layer: false,
    mutate_spec: false,
    validate_spec: false,
    entries: EntryFilter::None,
};

/// What every plugin has: its settings and their validation.
pub trait Plugin {
    /// The plugin's settings, parsed from the JSON text the host passes (`{}` when none).
    type Settings: DeserializeOwned + Default;

    /// Refuse settings that make no sense; the message is shown to the user at load time.
    fn validate(_settings: &Self::Settings) -> Result<(), String> {
        Ok(())
    }
}

/// An image, layer and spec policy. Every check has a default that allows (or changes nothing), so
/// a policy writes only the ones it cares about.
///
/// The spec is admitted in two phases: [`Policy::mutate_spec`] of every policy in order, then
/// [`Policy::validate_spec`] of every policy on the final spec, the one that runs. Decide in
/// `validate_spec`: no plugin can change the spec after it, so what it allows is what runs.
pub trait Policy: Plugin {
    /// The checks this policy implements and the layer entries its `check_layer` and `findings`
    /// read: sbx calls only those, with only those entries (a check it does not want allows).
    /// Every check and entry unless it says less; saying less makes it cheaper to run, and a
    /// check implemented but not wanted is never called.
    fn wants(_settings: &Self::Settings) -> Interests {
        EVERY_CHECK
    }

    fn check_image(_settings: &Self::Settings, _image: &Image) -> Verdict {
        Verdict::Allow
    }

    fn check_layer(_settings: &Self::Settings, _image: &Image, _layer: &Layer) -> LayerVerdict {
        LayerVerdict::Mount
    }

    /// What sbx should show about a layer whatever the verdict (a kept setuid file, say).
    fn findings(_settings: &Self::Settings, _image: &Image, _layer: &Layer) -> Vec<String> {
        Vec::new()
    }

    /// The changes this policy wants in the spec (it sees the changes of the policies before it).
    /// A change that weakens isolation is refused unless the configuration grants it.
    fn mutate_spec(_settings: &Self::Settings, _spec: &Spec) -> Vec<Adjustment> {
        Vec::new()
    }

    /// May the container run as it now is, with every policy's changes, this one's included?
    fn validate_spec(_settings: &Self::Settings, _spec: &Spec) -> Verdict {
        Verdict::Allow
    }
}

/// Lifecycle hooks: one function for every event (see [`Event`]); the default allows.
pub trait Hooks: Plugin {
    fn on_event(_settings: &Self::Settings, _event: Event, _container: &Container) -> Verdict {
        Verdict::Allow
    }
}

/// The event's name as the WIT spells it (`create`, `prestart`, ...), for logs and records.
pub fn event_name(event: Event) -> &'static str {
    match event {
        Event::Create => "create",
        Event::Prestart => "prestart",
        Event::Poststart => "poststart",
        Event::Exit => "exit",
        Event::Remove => "remove",
    }
}

/// A verdict that denies, for the reason given.
pub fn deny(reason: impl Into<String>) -> Verdict {
    Verdict::Deny(reason.into())
}

/// Parses settings JSON text into `T`; empty text means the defaults.
pub fn parse_settings<T: DeserializeOwned + Default>(text: &str) -> Result<T, String> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(text).map_err(|e| format!("invalid settings: {e}"))
}

/// Logs through the host (shown by sbx with the plugin's name). Only callable inside sbx. A
/// message of a level sbx does not show (`--log-level`) is dropped here, without a call.
pub fn log(level: LogLevel, message: &str) {
    static SHOWN: std::sync::OnceLock<LogLevel> = std::sync::OnceLock::new();
    let shown = *SHOWN.get_or_init(bindings::sbx::plugin::host::shown_level);
    if level as u8 >= shown as u8 {
        bindings::sbx::plugin::host::log(level, message)
    }
}

/// The whole spec of the container an [`Hooks::on_event`] call is about (the [`Container`] it is
/// given holds its id, name, image, args, user and state). Asked of sbx at each call of this
/// function, so ask once per event. Only callable inside sbx, during `on_event`.
pub fn container_spec() -> Spec {
    bindings::sbx::plugin::hook_context::container_spec()
}

#[doc(hidden)]
pub mod glue {
    //! What the export macros expand to call: settings parsing around the user's functions. A
    //! settings text that no longer parses (it was validated at load) denies. Each first sees
    //! that a panic's message reaches sbx (`panics`).
    use super::*;

    pub fn validate_settings<P: Plugin>(text: &str) -> Result<(), String> {
        panics::report();
        P::validate(&parse_settings::<P::Settings>(text)?)
    }

    /// Settings that no longer parse want every check, each of which denies for them.
    pub fn wants<P: Policy>(text: &str) -> Interests {
        panics::report();
        parse_settings::<P::Settings>(text).map_or(EVERY_CHECK, |s| P::wants(&s))
    }

    pub fn check_image<P: Policy>(text: &str, image: &Image) -> Verdict {
        panics::report();
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => P::check_image(&settings, image),
            Err(e) => Verdict::Deny(e),
        }
    }

    pub fn check_layer<P: Policy>(text: &str, image: &Image, layer: &Layer) -> LayerAnswer {
        panics::report();
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => LayerAnswer {
                verdict: P::check_layer(&settings, image, layer),
                findings: P::findings(&settings, image, layer),
            },
            Err(e) => LayerAnswer { verdict: LayerVerdict::Deny(e), findings: Vec::new() },
        }
    }

    /// Settings that no longer parse change nothing here; `validate_spec` denies for them.
    pub fn mutate_spec<P: Policy>(text: &str, spec: &Spec) -> Vec<Adjustment> {
        panics::report();
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => P::mutate_spec(&settings, spec),
            Err(_) => Vec::new(),
        }
    }

    pub fn validate_spec<P: Policy>(text: &str, spec: &Spec) -> Verdict {
        panics::report();
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => P::validate_spec(&settings, spec),
            Err(e) => deny(e),
        }
    }

    pub fn on_event<P: Hooks>(text: &str, event: Event, container: &Container) -> Verdict {
        panics::report();
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => P::on_event(&settings, event, container),
            Err(e) => Verdict::Deny(e),
        }
    }
}

/// Implements the guest traits of world `$world` for `$ty` by calling `$plugin`'s functions.
#[doc(hidden)]
#[macro_export]
macro_rules! __sbx_impl {
    (config $world:ident $ty:ident $plugin:ty) => {
        impl $crate::$world::exports::sbx::plugin::config::Guest for $ty {
            fn validate_settings(settings: String) -> Result<(), String> {
                $crate::glue::validate_settings::<$plugin>(&settings)
            }
        }
    };
    (policy $world:ident $ty:ident $plugin:ty) => {
        impl $crate::$world::exports::sbx::plugin::policy::Guest for $ty {
            fn wants(settings: String) -> $crate::Interests {
                $crate::glue::wants::<$plugin>(&settings)
            }
            fn check_image(settings: String, image: $crate::Image) -> $crate::Verdict {
                $crate::glue::check_image::<$plugin>(&settings, &image)
            }
            fn check_layer(settings: String, image: $crate::Image, layer: $crate::Layer) -> $crate::LayerAnswer {
                $crate::glue::check_layer::<$plugin>(&settings, &image, &layer)
            }
            fn mutate_spec(settings: String, spec: $crate::Spec) -> Vec<$crate::Adjustment> {
                $crate::glue::mutate_spec::<$plugin>(&settings, &spec)
            }
            fn validate_spec(settings: String, spec: $crate::Spec) -> $crate::Verdict {
                $crate::glue::validate_spec::<$plugin>(&settings, &spec)
            }
        }
    };
    (hooks $world:ident $ty:ident $plugin:ty) => {
        impl $crate::$world::exports::sbx::plugin::hooks::Guest for $ty {
            fn on_event(settings: String, event: $crate::Event, container: $crate::Container) -> $crate::Verdict {
                $crate::glue::on_event::<$plugin>(&settings, event, &container)
            }
        }
    };
}

// Native builds (unit tests) type-check the glue but export nothing: component export names are
// not valid symbol names for a native linker.

/// Exports a [`Policy`] as a component with the `config` and `policy` interfaces.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ty) => {
        #[allow(dead_code, reason = "only wasm builds export it")]
        struct __SbxExport;
        $crate::__sbx_impl!(config policy_world __SbxExport $plugin);
        $crate::__sbx_impl!(policy policy_world __SbxExport $plugin);
        #[cfg(target_arch = "wasm32")]
        mod __sbx_export {
            // The world's generated code names the shared types by this crate name.
            use super::__SbxExport;
            use $crate::bindings as sbx_plugin_bindings;
            $crate::policy_world::export!(__SbxExport with_types_in $crate::policy_world);
        }
    };
}

/// Exports [`Hooks`] as a component with the `config` and `hooks` interfaces.
#[macro_export]
macro_rules! export_hooks {
    ($plugin:ty) => {
        #[allow(dead_code, reason = "only wasm builds export it")]
        struct __SbxExport;
        $crate::__sbx_impl!(config hook_world __SbxExport $plugin);
        $crate::__sbx_impl!(hooks hook_world __SbxExport $plugin);
        #[cfg(target_arch = "wasm32")]
        mod __sbx_export {
            // The world's generated code names the shared types by this crate name.
            use super::__SbxExport;
            use $crate::bindings as sbx_plugin_bindings;
            $crate::hook_world::export!(__SbxExport with_types_in $crate::hook_world);
        }
    };
}

/// Exports a plugin that is both a [`Policy`] and [`Hooks`].
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[allow(dead_code, reason = "only wasm builds export it")]
        struct __SbxExport;
        $crate::__sbx_impl!(config bindings __SbxExport $plugin);
        $crate::__sbx_impl!(policy bindings __SbxExport $plugin);
        $crate::__sbx_impl!(hooks bindings __SbxExport $plugin);
        #[cfg(target_arch = "wasm32")]
        mod __sbx_export {
            // The world's generated code names the shared types by this crate name.
            use super::__SbxExport;
            use $crate::bindings as sbx_plugin_bindings;
            $crate::bindings::export!(__SbxExport with_types_in $crate::bindings);
        }
    };
}

/// Builders for tests of policy logic (native, no wasm needed).
pub mod testing {
    use super::*;

    pub fn image() -> Image {
        Image {
            reference: "test:latest".into(),
            names: vec!["test:latest".into()],
            manifest_digest: String::new(),
            config_digest: String::new(),
            os: "linux".into(),
            architecture: "amd64".into(),
            config: ImageConfig {
                user: None,
                env: vec![],
                entrypoint: vec![],
                cmd: vec![],
                working_dir: None,
                labels: vec![],
                exposed_ports: vec![],
            },
            history: vec![],
            layers: vec![],
        }
    }

    pub fn layer(entries: Vec<Entry>) -> Layer {
        Layer {
            index: 0,
            digest: "sha256:00".into(),
            diff_id: "sha256:00".into(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            size: 0,
            unpacked_size: entries.iter().map(|e| e.size).sum(),
            created_by: None,
            entries,
        }
    }

    pub fn file(path: &str, mode: u32, size: u64) -> Entry {
        Entry { path: path.into(), kind: EntryKind::File, mode, uid: 0, gid: 0, size, link_target: None }
    }

    /// A spec like the one sbx makes for `sbx run test:latest sh` with no flags.
    pub fn spec() -> Spec {
        Spec {
            image: image(),
            args: vec!["sh".into()],
            env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
            user: String::new(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            cwd: "/".into(),
            hostname: "test".into(),
            mounts: vec![],
            read_only_rootfs: false,
            capabilities: vec!["CAP_CHOWN".into(), "CAP_KILL".into(), "CAP_NET_RAW".into()],
            masked_paths: vec![],
            read_only_paths: vec![],
            namespaces: ["mount", "pid", "uts", "ipc", "network", "cgroup"].map(String::from).to_vec(),
            limits: Limits {
                memory_bytes: None,
                pids: None,
                cpu_millis: None,
                memory_swap: None,
                cpu_shares: None,
                cpuset_cpus: None,
            },
            network: Network::None,
            networks: Vec::new(),
            ports: Vec::new(),
            dns: Dns { servers: vec![], search: vec![], options: vec![] },
            extra_hosts: vec![],
            userns: Userns::Host,
            annotations: vec![],
            no_new_privileges: true,
            seccomp: Seccomp::Default,
            devices: vec![],
            ulimits: vec![],
            privileged: false,
            terminal: false,
            init: false,
        }
    }

    /// What a hook is told of a container running `spec`.
    pub fn container(spec: &Spec) -> Container {
        Container {
            id: "0".repeat(64),
            name: "test".into(),
            image: spec.image.reference.clone(),
            image_digest: spec.image.config_digest.clone(),
            args: spec.args.clone(),
            user: spec.user.clone(),
            uid: spec.uid,
            gid: spec.gid,
            state: State { status: Status::Created, pid: None, exit_code: None, signal: None, oom_killed: false },
        }
    }

    pub fn bind(source: &str, destination: &str) -> Mount {
        Mount { kind: MountKind::Bind, source: source.into(), destination: destination.into(), read_only: false }
    }
}
