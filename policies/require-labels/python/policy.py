"""require-labels in Python: the image must carry the labels the settings name (`*`: any value).
Mirrors policies/require-labels/src/lib.rs; policies/require-labels/tests.yaml tests both."""

from dataclasses import dataclass

import sbx_plugin as sbx


@dataclass
class Settings:
    labels: dict[str, str]


class RequireLabels(sbx.Policy):
    Settings = Settings

    def validate(self, settings):
        if not settings.labels:
            raise sbx.SettingsError("labels lists no label to require")

    def check_image(self, settings, image):
        have = dict(image.config.labels)
        for key, want in sorted(settings.labels.items()):
            if key not in have:
                return sbx.deny(f"image {image.reference} has no label {key}")
            if want != "*" and have[key] != want:
                return sbx.deny(f"image {image.reference} has label {key}={have[key]}, not {want}")
        return sbx.allow()


Config, Policy = sbx.export_policy(RequireLabels())
