// log-events in JavaScript: logs every lifecycle event of a container through sbx (`level`, info
// by default), and with `deny-root-create: true` stops containers that would run as uid 0 at
// create. StarlingMonkey gives JavaScript no files, so where audit-log writes a file, this hook
// logs: `sbx --log-level info run ...` shows its lines.
import { allow, deny, exportHooks, log, SettingsError } from "../../../plugins/sdk-js/sbx-plugin.js";

const LEVELS = ["debug", "info", "warn", "error"];

export const { config, hooks } = exportHooks({
  settings: { level: "info", "deny-root-create": false },

  validate(settings) {
    if (!LEVELS.includes(settings.level)) throw new SettingsError(`level ${settings.level} is not one of ${LEVELS.join(", ")}`);
  },

  onEvent(settings, event, c) {
    const state = c.state.exitCode === undefined ? c.state.status : `${c.state.status} ${c.state.exitCode}`;
    log(settings.level, `${event} ${c.name} (${c.spec.image.reference}: ${c.spec.args.join(" ")}) uid ${c.spec.uid}: ${state}`);
    if (event === "create" && settings["deny-root-create"] && c.spec.uid === 0) {
      return deny(`container ${c.name} would run as root (uid 0); run it with --user`);
    }
    return allow();
  },
});
