// require-labels in JavaScript: the image must carry the labels the settings name (`*`: any
// value). Mirrors policies/require-labels/src/lib.rs; policies/require-labels/tests.yaml tests both.
import { SettingsError, allow, deny, exportPolicy } from "../../../plugins/sdk-js/sbx-plugin.js";

export const { config, policy } = exportPolicy({
  settings: { labels: undefined },

  validate(settings) {
    if (Object.keys(settings.labels).length === 0) throw new SettingsError("labels lists no label to require");
  },

  checkImage(settings, image) {
    const have = new Map(image.config.labels);
    for (const key of Object.keys(settings.labels).sort()) {
      const want = settings.labels[key];
      if (!have.has(key)) return deny(`image ${image.reference} has no label ${key}`);
      if (want !== "*" && have.get(key) !== want) {
        return deny(`image ${image.reference} has label ${key}=${have.get(key)}, not ${want}`);
      }
    }
    return allow();
  },
});
