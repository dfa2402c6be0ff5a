// deny-setuid in JavaScript: a layer that adds a setuid or setgid file is denied, every such file
// named. Mirrors policies/deny-setuid/src/lib.rs; policies/deny-setuid/tests.yaml tests both.
import { SETGID, SETUID, denyLayer, entriesWithMode, exportPolicy, mount } from "../../../plugins/sdk-js/sbx-plugin.js";

// What Debian, Ubuntu and Alpine install setuid or setgid (`distribution_defaults: true`).
const DISTRIBUTION_DEFAULTS = new Set([
  "bin/bbsuid", "bin/mount", "bin/su", "bin/umount", "sbin/unix_chkpwd", "usr/bin/chage",
  "usr/bin/chfn", "usr/bin/chsh", "usr/bin/expiry", "usr/bin/gpasswd", "usr/bin/mount",
  "usr/bin/newgrp", "usr/bin/passwd", "usr/bin/su", "usr/bin/umount", "usr/bin/wall",
  "usr/bin/write.ul", "usr/bin/ssh-agent", "usr/bin/crontab", "usr/lib/openssh/ssh-keysign",
  "usr/lib/dbus-1.0/dbus-daemon-launch-helper", "usr/sbin/pam_extrausers_chkpwd",
  "usr/sbin/unix_chkpwd",
]);

const allows = (s, path) => s.allow.includes(path) || (s.distribution_defaults && DISTRIBUTION_DEFAULTS.has(path));
const isSetuid = (e) => (e.kind === "file" || e.kind === "hardlink") && (e.mode & (SETUID | SETGID)) !== 0;

function describe(files, shown = 20) {
  const named = files.slice(0, shown).map((e) => `/${e.path} (${e.mode & SETUID ? "setuid" : "setgid"}, mode ${e.mode.toString(8)})`);
  if (files.length > shown) named.push(`and ${files.length - shown} more`);
  return named.join(", ");
}

export const { config, policy } = exportPolicy({
  settings: { allow: [], distribution_defaults: false },
  entries: entriesWithMode(SETUID | SETGID),

  findings(settings, image, layer) {
    return layer.entries
      .filter((e) => isSetuid(e) && allows(settings, e.path))
      .map((e) => `keeps setuid/setgid file /${e.path} (allowed by the settings)`);
  },

  checkLayer(settings, image, layer) {
    const files = layer.entries.filter((e) => isSetuid(e) && !allows(settings, e.path));
    if (files.length === 0) return mount();
    const n = files.length;
    return denyLayer(`layer ${layer.diffId} adds ${n} setuid/setgid file${n === 1 ? "" : "s"}: ${describe(files)}`);
  },
});
