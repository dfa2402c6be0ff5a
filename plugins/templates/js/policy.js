// __NAME__: an sbx policy in JavaScript. Build it with ./build.sh, test it with
// `sbx policy test --suite tests.yaml`, use it with `sbx run --policy __NAME__.wasm IMAGE`.
//
// As written it refuses images run by a moving tag (`latest`, or the tags its settings name):
// change checkImage, or write checkLayer, mutateSpec, validateSpec (see sbx-plugin.js).
import { allow, deny, exportPolicy } from "./sbx-plugin.js";

// The tag of `name[:tag][@digest]`: none when pinned by digest, `latest` when not given.
function tag(reference) {
  if (reference.includes("@")) return null;
  const last = reference.split("/").pop();
  return last.includes(":") ? last.slice(last.indexOf(":") + 1) : "latest";
}

export const { config, policy } = exportPolicy({
  settings: { denied_tags: ["latest"] },

  checkImage(settings, image) {
    const t = tag(image.reference);
    if (settings.denied_tags.includes(t)) return deny(`image ${image.reference} uses the tag ${t}; pin a version or a digest`);
    return allow();
  },
});
