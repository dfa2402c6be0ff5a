// log-events in JavaScript: logs every lifecycle event of a container through sbx (`level`, info
// by default), and with `deny-root-create: true` stops containers that would run as uid 0 at
// create. StarlingMonkey gives JavaScript no files, so where audit-log writes a file, this hook
// logs: `sbx --log-level info run ...` shows its lines (at create, with the container's number of
// capabilities).
import { allow, deny, exportHooks, log, SettingsError } from "../../../plugins/sdk-js/sbx-plugin.js";
import { containerSpec } from "../../../plugins/sdk-js/hook-context.js";

const LEVELS = ["debug", "info", "warn", "error"];

export const { config, hooks } = exportHooks({
  settings: { level: "info", "deny-root-create": false },

  validate(settings) {
    if (!LEVELS.includes(settings.level)) throw new SettingsError(`level ${settings.level} is not one of ${LEVELS.join(", ")}`);
  },

  onEvent(settings, event, c) {
    const state = c.state.exitCode === undefined ? c.state.status : `${c.state.status} ${c.state.exitCode}`;
    // At create, what the container may do too: the rest of its spec is asked of sbx, once.
    const caps = event === "create" ? `, ${containerSpec().capabilities.length} capabilities` : "";
    log(settings.level, `${event} ${c.name} (${c.image}: ${c.args.join(" ")}) uid ${c.uid}${caps}: ${state}`);
    if (event === "create" && settings["deny-root-create"] && c.uid === 0) {
      return deny(`container ${c.name} would run as root (uid 0); run it with --user`);
    }
    return allow();
  },
});
