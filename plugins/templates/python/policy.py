"""__NAME__: an sbx policy in Python. Build it with ./build.sh, test it with
`sbx policy test --suite tests.yaml`, use it with `sbx run --policy __NAME__.wasm IMAGE`.

As written it refuses images run by a moving tag (`latest`, or the tags its settings name):
change `check_image`, or write `check_layer`, `mutate_spec`, `validate_spec` (see sbx_plugin)."""

from dataclasses import dataclass, field

import sbx_plugin as sbx


@dataclass
class Settings:
    denied_tags: list[str] = field(default_factory=lambda: ["latest"])


def tag(reference):
    """The tag of `name[:tag][@digest]`: none when pinned by digest, `latest` when not given."""
    if "@" in reference:
        return None
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class Checks(sbx.Policy):
    Settings = Settings

    def check_image(self, settings, image):
        t = tag(image.reference)
        if t in settings.denied_tags:
            return sbx.deny(f"image {image.reference} uses the tag {t}; pin a version or a digest")
        return sbx.allow()


Config, Policy = sbx.export_policy(Checks())
