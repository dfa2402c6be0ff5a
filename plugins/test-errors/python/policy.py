"""A policy that fails as Python code fails, for the tests: the image's label `sbx.test.error`
says how (`raise`: an exception two calls deep; `shape`: a check that returns a string)."""

import sbx_plugin as sbx


def owner(image):
    return dict(image.config.labels)["team"]


class TestErrors(sbx.Policy):
    def check_image(self, settings, image):
        how = dict(image.config.labels).get("sbx.test.error")
        if how == "raise":
            return sbx.deny(f"owned by {owner(image)}")
        if how == "shape":
            return "allow"
        return sbx.allow()


Config, Policy = sbx.export_policy(TestErrors())
