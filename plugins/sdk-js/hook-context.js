// What a hook may ask of sbx about the container its `onEvent` call is about. A module of its own:
// only the world hook-plugin imports sbx:plugin/hook-context, and a policy built with an SDK that
// named it would not build.
//
//     import { containerSpec } from "../../../plugins/sdk-js/hook-context.js";
//
// `containerSpec()` is the whole spec of the container (the container `onEvent` is given holds its
// id, name, image, args, user and state), asked of sbx at every call: ask once per event. Only
// during `onEvent`.

export { containerSpec } from "sbx:plugin/hook-context@0.9.0";
