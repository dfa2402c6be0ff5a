"""sbx_plugin: the guest side of sbx plugins in Python, built with componentize-py.

A policy is a class with its settings (a dataclass) and the checks it cares about; the module
that componentize-py builds names the interfaces it exports::

    from dataclasses import dataclass, field
    import sbx_plugin as sbx

    @dataclass
    class Settings:
        labels: dict[str, str] = field(default_factory=dict)

    class RequireLabels(sbx.Policy):
        Settings = Settings

        def check_image(self, settings, image):
            ...
            return sbx.deny(f"image {image.reference} has no label team")

    Config, Policy = sbx.export_policy(RequireLabels())

The shapes are the Rust SDK's (plugins/sdk): the WIT records as componentize-py generates them
(`image.config.labels`, `layer.entries`, `spec.capabilities`), the settings parsed from the JSON
text sbx passes into the dataclass (unknown fields refused, as serde's `deny_unknown_fields`), and
checks that allow by default. sbx calls only the checks a policy class defines (the SDK tells it,
`policy.wants`), and gives `check_layer` and `findings` the layer entries its `entries` names
(every one unless it says `entries = sbx.entries_with_mode(sbx.SETUID | sbx.SETGID)` or
`sbx.NO_ENTRIES`): each call and each entry costs. An exception a check raises fails the call: sbx
shows its traceback and, unless the configuration says otherwise, denies.
"""

import copy
import dataclasses
import gc
import json
import typing

from wit_world.imports import host, types
from wit_world.imports.types import EntryKind, Event, Status

try:  # imported when the module is built (componentize-py keeps what is imported then)
    from wit_world.imports import hook_context as _hook_context
except ImportError:  # a policy: its world does not import sbx:plugin/hook-context
    _hook_context = None

__all__ = [
    "Plugin", "Policy", "Hooks", "SettingsError", "NoSettings", "export_policy", "export_hooks",
    "export_plugin", "allow", "deny", "mount", "skip", "deny_layer", "log", "event_name", "container_spec",
    "parse_settings", "types", "EntryKind", "Event", "Status", "SETUID", "SETGID", "STICKY",
    "ALL_ENTRIES", "NO_ENTRIES", "entries_with_mode",
]

SETUID = 0o4000
SETGID = 0o2000
STICKY = 0o1000

# Which of a layer's entries `check_layer` and `findings` are given (a Policy's `entries`).
ALL_ENTRIES = types.EntryFilter_All()
NO_ENTRIES = types.EntryFilter_None_()


def entries_with_mode(bits: int) -> types.EntryFilter:
    """The entries whose mode has one or more of `bits` (SETUID | SETGID: the setuid files)."""
    return types.EntryFilter_WithMode(bits)


class SettingsError(Exception):
    """Settings that make no sense: the message is shown to the user at load time."""


@dataclasses.dataclass
class NoSettings:
    """Settings of a plugin that takes none: `{}` only."""


def allow() -> types.Verdict:
    return types.Verdict_Allow()


def deny(reason: str) -> types.Verdict:
    return types.Verdict_Deny(str(reason))


def mount() -> types.LayerVerdict:
    return types.LayerVerdict_Mount()


def skip(reason: str) -> types.LayerVerdict:
    """Leave the layer out of the stack; the reason is shown to the user."""
    return types.LayerVerdict_Skip(str(reason))


def deny_layer(reason: str) -> types.LayerVerdict:
    return types.LayerVerdict_Deny(str(reason))


_LEVELS = {"debug": types.LogLevel.DEBUG, "info": types.LogLevel.INFO,
           "warn": types.LogLevel.WARN, "error": types.LogLevel.ERROR}


_shown = None


def log(level: str, message: str) -> None:
    """Logs through sbx, shown with the plugin's name (`debug`, `info`, `warn` or `error`). A
    message of a level sbx does not show (`--log-level`) is dropped here, without a call."""
    global _shown
    if _shown is None:
        _shown = host.shown_level().value
    if _LEVELS[level].value >= _shown:
        host.log(_LEVELS[level], str(message))


def container_spec() -> types.Spec:
    """The whole spec of the container the current `on_event` call is about (the container it is
    given holds its id, name, image, args, user and state). Asked of sbx at every call of this
    function: ask once per event. Only in hooks, during `on_event`."""
    if _hook_context is None:
        raise RuntimeError("container_spec() is for hooks (on_event); a policy is given the spec it checks")
    return _hook_context.container_spec()


def event_name(event: types.Event) -> str:
    """The event's name as the WIT spells it (`create`, `prestart`, ...)."""
    return event.name.lower()


_JSON_KINDS = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
               list: "an array", dict: "an object"}


def _check_kind(name: str, hint, value) -> None:
    kind = typing.get_origin(hint) or hint
    if kind not in _JSON_KINDS:
        return
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise SettingsError(f"invalid settings: `{name}` must be {_JSON_KINDS[kind]}, not {json.dumps(value)}")


# What a settings text parsed into, by class and text: sbx passes every call the same text, and
# checking it (typing.get_type_hints above all) costs tens of microseconds a call.
_PARSED: dict = {}

# A settings class's fields and type hints, by class.
_SHAPES: dict = {}


def _shape_of(cls):
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = ({f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls))
    return shape


def _prepare(cls) -> None:
    """Done when the module is built (export_policy and export_hooks run then, and componentize-py
    keeps the state they leave): the settings class's shape, and the settings sbx passes when a
    configuration gives none, parsed. A fresh instance (every run's) then starts with them rather
    than working them out in its first call, which cost a Python policy most of a millisecond."""
    _shape_of(cls)
    for text in ("{}", ""):
        try:
            _PARSED[(cls, text)] = _checked_fields(cls, text)
        except SettingsError:
            pass  # required fields: a configuration must give them, and is checked when it does


def parse_settings(cls, text: str):
    """Parses the settings JSON text into the dataclass `cls`; empty text means the defaults."""
    data = _PARSED.get((cls, text))
    if data is None:
        data = _PARSED[(cls, text)] = _checked_fields(cls, text)
    # Every call gets settings of its own: what one call changes in them, the next does not see.
    return cls(**{k: copy.deepcopy(v) if isinstance(v, (list, dict)) else v for k, v in data.items()})


def _checked_fields(cls, text: str) -> dict:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        raise SettingsError(f"invalid settings: {e}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"invalid settings: expected an object, not {json.dumps(data)}")
    fields, hints = _shape_of(cls)
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(f"`{n}`" for n in fields) or "none"
            raise SettingsError(f"invalid settings: unknown field `{key}`, expected one of {known}")
        _check_kind(key, hints.get(key), value)
    for name, f in fields.items():
        empty = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if empty and name not in data:
            raise SettingsError(f"invalid settings: missing field `{name}`")
    return data


class Plugin:
    """What every plugin has: its settings (a dataclass) and their validation."""

    Settings = NoSettings

    def validate(self, settings) -> None:
        """Raise SettingsError for settings that make no sense."""


class Policy(Plugin):
    """An image, layer and spec policy. Every check allows (or changes nothing) by default.

    The spec is admitted in two phases: `mutate_spec` of every policy in order, then
    `validate_spec` of every policy on the final spec, the one that runs. Decide there.
    sbx calls only the checks the class defines, giving the layer checks the `entries` it names."""

    entries = ALL_ENTRIES

    def check_image(self, settings, image: types.Image) -> types.Verdict:
        return allow()

    def check_layer(self, settings, image: types.Image, layer: types.Layer) -> types.LayerVerdict:
        return mount()

    def findings(self, settings, image: types.Image, layer: types.Layer) -> list[str]:
        """What sbx should show about a layer whatever the verdict."""
        return []

    def mutate_spec(self, settings, spec: types.Spec) -> list:
        """The changes this policy wants (`types.Adjustment_SetEnv(("K", "V"))`, ...)."""
        return []

    def validate_spec(self, settings, spec: types.Spec) -> types.Verdict:
        return allow()


class Hooks(Plugin):
    """Lifecycle hooks: one method for every event; the default allows."""

    def on_event(self, settings, event: types.Event, container: types.Container) -> types.Verdict:
        return allow()


def _shape(value, expected, func: str, what: str):
    """A check's answer, or a TypeError naming the check and what it returned instead."""
    if isinstance(value, expected):
        return value
    raise TypeError(f"{func} returned {value!r}, not {what}")


_VERDICT = (types.Verdict_Allow, types.Verdict_Deny)
_LAYER_VERDICT = (types.LayerVerdict_Mount, types.LayerVerdict_Skip, types.LayerVerdict_Deny)


def _config(plugin: Plugin):
    from componentize_py_types import Err

    class Config:
        def validate_settings(self, settings: str) -> None:
            try:
                plugin.validate(parse_settings(plugin.Settings, settings))
            except SettingsError as e:
                raise Err(str(e)) from None

    return Config


def _defines(plugin: Policy, name: str) -> bool:
    """Whether the plugin's class defines the check `name` (not the default of Policy)."""
    return getattr(type(plugin), name) is not getattr(Policy, name)


def _policy(plugin: Policy):
    def settings_or_none(text):
        try:
            return parse_settings(plugin.Settings, text), None
        except SettingsError as e:
            return None, str(e)

    class Policy:
        def wants(self, settings):
            _, error = settings_or_none(settings)
            if error:  # every check, each of which denies for the settings
                return types.Interests(True, True, True, True, ALL_ENTRIES)
            layer = _defines(plugin, "check_layer") or _defines(plugin, "findings")
            return types.Interests(_defines(plugin, "check_image"), layer, _defines(plugin, "mutate_spec"),
                                   _defines(plugin, "validate_spec"), plugin.entries)

        def check_image(self, settings, image):
            s, error = settings_or_none(settings)
            if error:
                return deny(error)
            return _shape(plugin.check_image(s, image), _VERDICT, "check_image", "a verdict (allow() or deny(reason))")

        def check_layer(self, settings, image, layer):
            s, error = settings_or_none(settings)
            if error:
                return types.LayerAnswer(deny_layer(error), [])
            verdict = _shape(plugin.check_layer(s, image, layer), _LAYER_VERDICT, "check_layer",
                             "a layer verdict (mount(), skip(reason) or deny_layer(reason))")
            findings = [str(f) for f in plugin.findings(s, image, layer)]
            return types.LayerAnswer(verdict, findings)

        def mutate_spec(self, settings, spec):
            s, error = settings_or_none(settings)
            # Settings that no longer parse change nothing; validate_spec denies for them.
            return [] if error else list(plugin.mutate_spec(s, spec))

        def validate_spec(self, settings, spec):
            s, error = settings_or_none(settings)
            if error:
                return deny(error)
            return _shape(plugin.validate_spec(s, spec), _VERDICT, "validate_spec", "a verdict (allow() or deny(reason))")

    return Policy


def _hooks(plugin: Hooks):
    class Hooks:
        def on_event(self, settings, event, container):
            try:
                s = parse_settings(plugin.Settings, settings)
            except SettingsError as e:
                return deny(str(e))
            return _shape(plugin.on_event(s, event, container), _VERDICT, "on_event", "a verdict (allow() or deny(reason))")

    return Hooks


def _settle() -> None:
    """Leaves what the module made when it was built out of the garbage collector's walks.

    componentize-py runs the module when it builds the component and keeps the memory it leaves
    (11 MiB: the interpreter, the modules, their objects), which each instance starts from, mapped
    from the compiled file. The objects a call makes start collections, and collections that walk
    the older objects read and write pages of that memory all over, pages the call itself never
    needs: each first touch costs the run a page fault, each write a copy of the page. Frozen here,
    at the end of the module's code (where it exports its plugin), those objects are never walked
    again; what calls make is collected as before. A run with deny-setuid took 0.54 ms less.
    """
    gc.freeze()


def export_policy(plugin: Policy):
    """The classes componentize-py exports for a policy: `Config, Policy = export_policy(P())`."""
    _prepare(plugin.Settings)
    _settle()
    return _config(plugin), _policy(plugin)


def export_hooks(plugin: Hooks):
    """The classes componentize-py exports for hooks: `Config, Hooks = export_hooks(H())`."""
    _prepare(plugin.Settings)
    _settle()
    return _config(plugin), _hooks(plugin)


def export_plugin(plugin):
    """For a class that is both a Policy and Hooks: `Config, Policy, Hooks = export_plugin(P())`."""
    _prepare(plugin.Settings)
    _settle()
    return _config(plugin), _policy(plugin), _hooks(plugin)
