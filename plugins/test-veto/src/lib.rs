//! test-veto: a plugin for sbx's own tests that exports both a policy (which allows) and hooks:
//! its prestart hook denies when the image's `sbx.test.veto` label is `prestart`. Its image check
//! panics with a message of more than 10,000 bytes when the label is `panic`, and computes forever
//! when it is `loop`. It is built for wasm32-unknown-unknown (`wasi = "none"`): the SDK sends the
//! message to sbx one character a call, and sbx calls it without a fiber, which these exercise.
//! Never use it outside tests.

use sbx_plugin::{Container, Event, Hooks, Image, NoSettings, Plugin, Policy, Verdict};

pub struct Veto;

/// Whether the image asks for a veto at `event`.
pub fn wants_veto(image: &Image, event: Event) -> bool {
    event == Event::Prestart && label(image) == Some("prestart")
}

impl Plugin for Veto {
    type Settings = NoSettings;
}

impl Policy for Veto {
    fn check_image(_: &NoSettings, image: &Image) -> Verdict {
        if label(image) == Some("panic") {
            panic!("test-veto panics as asked\n{}", "x".repeat(10_000));
        }
        if label(image) == Some("loop") {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Verdict::Allow
    }
}

fn label(image: &Image) -> Option<&str> {
    image.config.labels.iter().find(|(k, _)| k == "sbx.test.veto").map(|(_, v)| v.as_str())
}

impl Hooks for Veto {
    fn on_event(_: &NoSettings, event: Event, _: &Container) -> Verdict {
        // The image's labels are in the spec, asked of sbx at the one event that may veto.
        if event == Event::Prestart && wants_veto(&sbx_plugin::container_spec().image, event) {
            Verdict::Deny("test-veto vetoes prestart as asked".into())
        } else {
            Verdict::Allow
        }
    }
}

sbx_plugin::export_plugin!(Veto);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;

    #[test]
    fn vetoes_prestart_only_when_asked() {
        let mut image = spec().image;
        assert!(!wants_veto(&image, Event::Prestart));
        image.config.labels.push(("sbx.test.veto".into(), "prestart".into()));
        assert!(wants_veto(&image, Event::Prestart));
        assert!(!wants_veto(&image, Event::Create));
    }
}
