"""audit-log in Python: appends a JSON line for every lifecycle event to DIR/audit.jsonl (`dir`,
default /audit: grant it read-write in the configuration). Mirrors plugins/audit-log/src/lib.rs."""

import json
import os
import time
from dataclasses import dataclass

import sbx_plugin as sbx

# Made once: json.dumps with any argument makes a new encoder at every call (about 5 us here).
_to_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class Settings:
    dir: str = "/audit"


def record(event, c, unix_ms):
    r = {
        "time_ms": unix_ms,
        "event": sbx.event_name(event),
        "id": c.id,
        "name": c.name,
        "image": c.image,
        "image_digest": c.image_digest,
        "args": c.args,
        "user": c.user,
        "status": c.state.status.name.lower(),
        "pid": c.state.pid,
        "exit_code": c.state.exit_code,
        "signal": c.state.signal,
        "oom_killed": c.state.oom_killed,
    }
    if event == sbx.Event.CREATE:
        # What the container may do, once: the rest of its spec is asked of sbx.
        spec = sbx.container_spec()
        r["privileged"] = spec.privileged
        r["capabilities"] = spec.capabilities
    return r


class AuditLog(sbx.Hooks):
    Settings = Settings

    def on_event(self, settings, event, container):
        path = settings.dir.rstrip("/") + "/audit.jsonl"
        line = _to_json(record(event, container, int(time.time() * 1000)))
        # One unbuffered append, as the Rust hook's: open() in text mode stacks three file objects
        # and asks the file about itself first, about 20 us more a call in the interpreter.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            reason = f"cannot append to {path}: {e} (is the directory granted read-write?)"
            sbx.log("error", reason)
            return sbx.deny(reason)
        return sbx.allow()


Config, Hooks = sbx.export_hooks(AuditLog())
