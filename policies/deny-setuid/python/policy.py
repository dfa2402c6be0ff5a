"""deny-setuid in Python: a layer that adds a setuid or setgid file is denied, every such file
named. Mirrors policies/deny-setuid/src/lib.rs; policies/deny-setuid/tests.yaml tests both."""

from dataclasses import dataclass, field

import sbx_plugin as sbx
from sbx_plugin import EntryKind

# What Debian, Ubuntu and Alpine install setuid or setgid (`distribution_defaults: true`).
DISTRIBUTION_DEFAULTS = frozenset([
    "bin/bbsuid", "bin/mount", "bin/su", "bin/umount", "sbin/unix_chkpwd", "usr/bin/chage",
    "usr/bin/chfn", "usr/bin/chsh", "usr/bin/expiry", "usr/bin/gpasswd", "usr/bin/mount",
    "usr/bin/newgrp", "usr/bin/passwd", "usr/bin/su", "usr/bin/umount", "usr/bin/wall",
    "usr/bin/write.ul", "usr/bin/ssh-agent", "usr/bin/crontab", "usr/lib/openssh/ssh-keysign",
    "usr/lib/dbus-1.0/dbus-daemon-launch-helper", "usr/sbin/pam_extrausers_chkpwd",
    "usr/sbin/unix_chkpwd",
])


@dataclass
class Settings:
    allow: list[str] = field(default_factory=list)
    distribution_defaults: bool = False

    def allows(self, path):
        return path in self.allow or (self.distribution_defaults and path in DISTRIBUTION_DEFAULTS)


def is_setuid(entry):
    return entry.kind in (EntryKind.FILE, EntryKind.HARDLINK) and entry.mode & (sbx.SETUID | sbx.SETGID)


def describe(files, shown=20):
    named = [f"/{e.path} ({'setuid' if e.mode & sbx.SETUID else 'setgid'}, mode {e.mode:o})" for e in files[:shown]]
    if len(files) > shown:
        named.append(f"and {len(files) - shown} more")
    return ", ".join(named)


class DenySetuid(sbx.Policy):
    entries = sbx.entries_with_mode(sbx.SETUID | sbx.SETGID)
    Settings = Settings

    def findings(self, settings, image, layer):
        return [f"keeps setuid/setgid file /{e.path} (allowed by the settings)"
                for e in layer.entries if is_setuid(e) and settings.allows(e.path)]

    def check_layer(self, settings, image, layer):
        files = [e for e in layer.entries if is_setuid(e) and not settings.allows(e.path)]
        if not files:
            return sbx.mount()
        n = len(files)
        return sbx.deny_layer(f"layer {layer.diff_id} adds {n} setuid/setgid file{'' if n == 1 else 's'}: {describe(files)}")


Config, Policy = sbx.export_policy(DenySetuid())
