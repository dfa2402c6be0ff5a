// A policy that fails as JavaScript code fails, for the tests: the image's label `sbx.test.error`
// says how (`raise`: an exception two calls deep; `shape`: a check that returns a string).
import { allow, deny, exportPolicy } from "../../../plugins/sdk-js/sbx-plugin.js";

function owner(image) {
  const team = new Map(image.config.labels).get("team");
  return team.toUpperCase();
}

export const { config, policy } = exportPolicy({
  checkImage(settings, image) {
    const how = new Map(image.config.labels).get("sbx.test.error");
    if (how === "raise") return deny(`owned by ${owner(image)}`);
    if (how === "shape") return "allow";
    return allow();
  },
});
