// sbx-plugin: the guest side of sbx plugins in JavaScript, built with componentize-js.
//
// A policy is an object with its settings' defaults and the checks it cares about; the module
// componentize-js builds exports the interfaces `exportPolicy` makes of it:
//
//     import { exportPolicy, allow, deny } from "../../../plugins/sdk-js/sbx-plugin.js";
//     export const { config, policy } = exportPolicy({
//       settings: { labels: {} },
//       checkImage(settings, image) { return deny(`image ${image.reference} has no label team`); },
//     });
//
// The shapes are the Rust SDK's (plugins/sdk): the WIT records as componentize-js lowers them
// (`image.config.labels` is a list of [key, value], enums are their WIT names: `entry.kind ===
// "file"`), the settings parsed from the JSON text sbx passes over the defaults (unknown fields
// and fields of another type refused, as serde does), and checks that allow by default. sbx calls
// only the checks the object has (the SDK tells it, `policy.wants`), and gives `checkLayer` and
// `findings` the layer entries its `entries` names (every one unless it says `entries:
// entriesWithMode(SETUID | SETGID)` or `NO_ENTRIES`): each call and each entry costs. An
// exception a check throws fails the call: sbx shows it with its stack and, unless the
// configuration says otherwise, denies.

import { log as hostLog, shownLevel as hostShownLevel } from "sbx:plugin/host@0.9.0";

export const SETUID = 0o4000;
export const SETGID = 0o2000;
export const STICKY = 0o1000;

/** Which of a layer's entries `checkLayer` and `findings` are given (a policy's `entries`). */
export const ALL_ENTRIES = { tag: "all" };
export const NO_ENTRIES = { tag: "none" };
/** The entries whose mode has one or more of `bits` (SETUID | SETGID: the setuid files). */
export const entriesWithMode = (bits) => ({ tag: "with-mode", val: bits >>> 0 });

/** Settings that make no sense: the message is shown to the user at load time. */
export class SettingsError extends Error {}

export const allow = () => ({ tag: "allow" });
export const deny = (reason) => ({ tag: "deny", val: String(reason) });
export const mount = () => ({ tag: "mount" });
/** Leave the layer out of the stack; the reason is shown to the user. */
export const skip = (reason) => ({ tag: "skip", val: String(reason) });
export const denyLayer = (reason) => ({ tag: "deny", val: String(reason) });

const LEVELS = ["debug", "info", "warn", "error"];
let shown;

/** Logs through sbx, shown with the plugin's name: `debug`, `info`, `warn` or `error`. A message
 * of a level sbx does not show (`--log-level`) is dropped here, without a call. */
export function log(level, message) {
  shown ??= LEVELS.indexOf(hostShownLevel());
  const severity = LEVELS.indexOf(level);
  if (severity < 0 || severity >= shown) hostLog(level, String(message));
}

const kindOf = (v) => (Array.isArray(v) ? "an array" : v === null ? "null" : `a ${typeof v}`);

// What each settings text parsed into, by defaults object: sbx passes every call the same text.
const parsed = new WeakMap();

/** The settings JSON text over `defaults`; empty text means the defaults. Every call gets settings
 * of its own: what one call changes in them, the next does not see. */
export function parseSettings(defaults, text) {
  let known = parsed.get(defaults);
  if (known === undefined) parsed.set(defaults, (known = new Map()));
  let settings = known.get(text);
  if (settings === undefined) known.set(text, (settings = checkedSettings(defaults, text)));
  return structuredClone(settings);
}

function checkedSettings(defaults, text) {
  let value = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new SettingsError(`invalid settings: ${e.message}`);
    }
  }
  if (kindOf(value) !== "a object") {
    throw new SettingsError(`invalid settings: expected an object, not ${JSON.stringify(value)}`);
  }
  const known = Object.keys(defaults);
  for (const [key, v] of Object.entries(value)) {
    if (!known.includes(key)) {
      const expected = known.map((k) => `\`${k}\``).join(", ") || "none";
      throw new SettingsError(`invalid settings: unknown field \`${key}\`, expected one of ${expected}`);
    }
    if (defaults[key] !== undefined && defaults[key] !== null && kindOf(v) !== kindOf(defaults[key])) {
      throw new SettingsError(`invalid settings: \`${key}\` must be ${kindOf(defaults[key])}, not ${JSON.stringify(v)}`);
    }
  }
  for (const key of known) {
    if (defaults[key] === undefined && !(key in value)) {
      throw new SettingsError(`invalid settings: missing field \`${key}\``);
    }
  }
  return { ...structuredClone(defaults), ...value };
}

// An exception from the plugin's code fails the call. The runtime writes the bare message and
// every frame to stderr; before it, this writes what sbx shows: `Uncaught`, the error's type and
// message, and the plugin's own frames (not this SDK's or the generated glue's).
function guarded(f) {
  return (...args) => {
    try {
      return f(...args);
    } catch (e) {
      console.error(`Uncaught ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      for (const frame of String(e?.stack ?? "").split("\n")) {
        if (frame !== "" && !/sbx-plugin\.js|initializer\.js/.test(frame)) console.error(`    ${frame}`);
      }
      throw e;
    }
  };
}

function shape(value, tags, func, what) {
  if (value !== null && typeof value === "object" && tags.includes(value.tag)) return value;
  throw new TypeError(`${func} returned ${JSON.stringify(value)}, not ${what}`);
}

const VERDICT = "a verdict (allow() or deny(reason))";

function exportConfig(plugin) {
  return {
    validateSettings(text) {
      try {
        // Parsed whether or not the plugin validates further (`validate?.(parse())` would not parse).
        const settings = parseSettings(plugin.settings ?? {}, text);
        if (plugin.validate) plugin.validate(settings);
      } catch (e) {
        if (e instanceof SettingsError) throw String(e.message);
        throw e;
      }
    },
  };
}

function withSettings(plugin, text, onError, f) {
  let settings;
  try {
    settings = parseSettings(plugin.settings ?? {}, text);
  } catch (e) {
    if (e instanceof SettingsError) return onError(e.message);
    throw e;
  }
  return f(settings);
}

function exportPolicyInterface(p) {
  return {
    wants: guarded((text) =>
      withSettings(
        p,
        text,
        // Every check, each of which denies for the settings.
        () => ({ checkImage: true, checkLayer: true, mutateSpec: true, validateSpec: true, entries: ALL_ENTRIES }),
        () => ({
          checkImage: Boolean(p.checkImage),
          checkLayer: Boolean(p.checkLayer || p.findings),
          mutateSpec: Boolean(p.mutateSpec),
          validateSpec: Boolean(p.validateSpec),
          entries: p.entries ?? ALL_ENTRIES,
        }),
      ),
    ),
    checkImage: guarded((text, image) =>
      withSettings(p, text, deny, (s) => shape(p.checkImage ? p.checkImage(s, image) : allow(), ["allow", "deny"], "checkImage", VERDICT)),
    ),
    checkLayer: guarded((text, image, layer) =>
      withSettings(p, text, (m) => ({ verdict: denyLayer(m), findings: [] }), (s) => ({
        verdict: shape(p.checkLayer ? p.checkLayer(s, image, layer) : mount(), ["mount", "skip", "deny"], "checkLayer", "a layer verdict (mount(), skip(reason) or denyLayer(reason))"),
        findings: (p.findings ? p.findings(s, image, layer) : []).map(String),
      })),
    ),
    // Settings that no longer parse change nothing here; validateSpec denies for them.
    mutateSpec: guarded((text, spec) => withSettings(p, text, () => [], (s) => (p.mutateSpec ? p.mutateSpec(s, spec) : []))),
    validateSpec: guarded((text, spec) =>
      withSettings(p, text, deny, (s) => shape(p.validateSpec ? p.validateSpec(s, spec) : allow(), ["allow", "deny"], "validateSpec", VERDICT)),
    ),
  };
}

function exportHooksInterface(h) {
  return {
    onEvent: guarded((text, event, container) =>
      withSettings(h, text, deny, (s) => shape(h.onEvent ? h.onEvent(s, event, container) : allow(), ["allow", "deny"], "onEvent", VERDICT)),
    ),
  };
}

/** `export const { config, policy } = exportPolicy({ settings, validate, checkImage, ... })`. */
export function exportPolicy(plugin) {
  return { config: exportConfig(plugin), policy: exportPolicyInterface(plugin) };
}

/** `export const { config, hooks } = exportHooks({ settings, validate, onEvent })`. */
export function exportHooks(plugin) {
  return { config: exportConfig(plugin), hooks: exportHooksInterface(plugin) };
}

/** For a plugin with checks and hooks: `export const { config, policy, hooks } = exportPlugin(...)`. */
export function exportPlugin(plugin) {
  return { ...exportPolicy(plugin), hooks: exportHooksInterface(plugin) };
}
