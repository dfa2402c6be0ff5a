//! Combining the verdicts of several policies, in order: every enforcing plugin must allow, the
//! first deny stops everything, and a plugin that fails is a deny unless its on-error is `allow`
//! (fail closed by default). Monitor-mode plugins only report what they would have done. Pure
//! over [`PolicyCheck`].

use super::bindings::{Adjustment, Image, Layer, LayerAnswer, LayerVerdict, Spec, Verdict};
use super::engine::PluginError;
use crate::config::{Mode, OnError, Weakening};

pub trait PolicyCheck {
    fn name(&self) -> &str;
    fn mode(&self) -> Mode {
        Mode::Enforce
    }
    fn on_error(&self) -> OnError {
        OnError::Deny
    }
    fn check_image(&self, image: &Image) -> Result<Verdict, PluginError>;
    fn check_layer(&self, image: &Image, layer: &Layer) -> Result<LayerAnswer, PluginError>;
    /// The isolation this plugin's configuration lets its adjustments weaken (`may-weaken`).
    fn may_weaken(&self) -> &[Weakening] {
        &[]
    }
    fn mutate_spec(&self, _spec: &Spec) -> Result<Vec<Adjustment>, PluginError> {
        Ok(Vec::new())
    }
    fn validate_spec(&self, _spec: &Spec) -> Result<Verdict, PluginError> {
        Ok(Verdict::Allow)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub layer: usize,
    pub plugin: String,
    pub reason: String,
}

/// Something a plugin did that did not change the outcome: a monitor-mode deny or skip, or a
/// failure its on-error lets pass. Shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    pub plugin: String,
    pub message: String,
    /// What a layer check found and allowed (info: shown at `--log-level info`), rather than
    /// a monitor-mode verdict or an ignored failure (always shown).
    #[serde(default)]
    pub finding: bool,
}

impl Note {
    pub fn new(plugin: &str, message: String) -> Note {
        Note { plugin: plugin.into(), message, finding: false }
    }
}

/// One plugin's answer to one check, as `sbx policy test` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    pub plugin: String,
    /// `image`, `layer N` or `spec`.
    pub check: String,
    /// allow, mount, skip, deny or error.
    pub verdict: &'static str,
    pub reason: String,
    /// The changes a spec check asked for.
    pub adjustments: Vec<String>,
}

/// The decision and every answer that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run, leaving out the skipped layers.
    Allow {
        skipped: Vec<Skip>,
        notes: Vec<Note>,
    },
    Deny {
        plugin: String,
        reason: String,
        notes: Vec<Note>,
    },
}

/// What one answer of one plugin does to the run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Pass,
    Skip(String),
    Stop(String),
    Note(String),
}

/// The effect of a plugin's answer (`Ok(None)` allow, `Ok(Some(Err(r)))` deny, `Ok(Some(Ok(r)))`
/// skip) given its mode and on-error.
pub(crate) fn effect(mode: Mode, on_error: OnError, answer: Raw) -> Effect {
    match (answer, mode, on_error) {
        (Ok(None), _, _) => Effect::Pass,
        (Ok(Some(Ok(reason))), Mode::Enforce, _) => Effect::Skip(reason),
        (Ok(Some(Ok(reason))), Mode::Monitor, _) => Effect::Note(format!("would skip the layer: {reason}")),
        (Ok(Some(Err(reason))), Mode::Enforce, _) => Effect::Stop(reason),
        (Ok(Some(Err(reason))), Mode::Monitor, _) => Effect::Note(format!("would deny: {reason}")),
        (Err(e), Mode::Enforce, OnError::Deny) => Effect::Stop(e.to_string()),
        (Err(e), _, _) => Effect::Note(format!("ignored failure: {e}")),
    }
}

pub(crate) type Raw = Result<Option<Result<String, String>>, PluginError>;

pub(crate) fn answer(plugin: &str, check: String, raw: &Raw, allowed: &'static str) -> Answer {
    let (verdict, reason) = match raw {
        Ok(None) => (allowed, String::new()),
        Ok(Some(Ok(r))) => ("skip", r.clone()),
        Ok(Some(Err(r))) => ("deny", r.clone()),
        Err(e) => ("error", e.to_string()),
    };
    Answer { plugin: plugin.into(), check, verdict, reason, adjustments: Vec::new() }
}

fn image_answer(v: Result<Verdict, PluginError>) -> Raw {
    v.map(|v| match v {
        Verdict::Allow => None,
        Verdict::Deny(r) => Some(Err(r)),
    })
}

fn layer_answer(v: Result<LayerVerdict, PluginError>) -> Raw {
    v.map(|v| match v {
        LayerVerdict::Mount => None,
        LayerVerdict::Skip(r) => Some(Ok(r)),
        LayerVerdict::Deny(r) => Some(Err(r)),
    })
}

/// A plugin's deny (or failure that denies), as [`Decision::Deny`] without the notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub plugin: String,
    pub reason: String,
}

/// An evaluation under way: the image checks, then the layers' one by one, in any order (a pull
/// checks each layer as it arrives, before it enters the store).
#[derive(Debug, Default)]
pub struct Checks {
    answers: Vec<Answer>,
    notes: Vec<Note>,
    skipped: Vec<Skip>,
}

impl Checks {
    /// The image checks of `plugins`, in order; the first deny stops them.
    pub fn image(&mut self, plugins: &[&dyn PolicyCheck], image: &Image) -> Result<(), Denied> {
        for p in plugins {
            let raw = image_answer(p.check_image(image));
            self.answers.push(answer(p.name(), "image".into(), &raw, "allow"));
            match effect(p.mode(), p.on_error(), raw) {
                Effect::Pass | Effect::Skip(_) => {}
                Effect::Stop(reason) => return Err(Denied { plugin: p.name().into(), reason }),
                Effect::Note(message) => self.notes.push(Note::new(p.name(), message)),
            }
        }
        Ok(())
    }

    /// The checks of `plugins` on layer `i` (its WIT record `layer`); a skip ends them for it.
    pub fn layer(
        &mut self,
        plugins: &[&dyn PolicyCheck],
        image: &Image,
        i: usize,
        layer: &Layer,
    ) -> Result<(), Denied> {
        for p in plugins {
            let result = p.check_layer(image, layer);
            let findings = result.as_ref().map(|a| a.findings.clone()).unwrap_or_default();
            self.notes.extend(
                findings.into_iter().map(|f| Note { finding: true, ..Note::new(p.name(), format!("layer {i}: {f}")) }),
            );
            let raw = layer_answer(result.map(|a| a.verdict));
            self.answers.push(answer(p.name(), format!("layer {i}"), &raw, "mount"));
            match effect(p.mode(), p.on_error(), raw) {
                Effect::Pass => {}
                Effect::Skip(reason) => {
                    self.skipped.push(Skip { layer: i, plugin: p.name().into(), reason });
                    break;
                }
                Effect::Stop(reason) => return Err(Denied { plugin: p.name().into(), reason }),
                Effect::Note(message) => self.notes.push(Note::new(p.name(), format!("layer {i}: {message}"))),
            }
        }
        Ok(())
    }

    /// The notes so far, taken (a pull shows them as it goes).
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// The evaluation these checks came to, `outcome` being the first deny if any.
    pub fn finish(self, outcome: Result<(), Denied>) -> Evaluation {
        let Checks { answers, notes, mut skipped } = self;
        skipped.sort_by_key(|s| s.layer);
        let decision = match outcome {
            Ok(()) => Decision::Allow { skipped, notes },
            Err(Denied { plugin, reason }) => Decision::Deny { plugin, reason, notes },
        };
        Evaluation { decision, answers }
    }
}

/// Evaluates `plugins` on the image, then on each layer bottom first. `layer(i)` builds the WIT
/// record of layer `i` (reading its index); it is called only when there are plugins to see it.
pub fn evaluate(
    plugins: &[&dyn PolicyCheck],
    image: &Image,
    mut layer: impl FnMut(usize) -> Result<Layer, String>,
) -> Evaluation {
    let mut checks = Checks::default();
    let outcome = checks.image(plugins, image).and_then(|()| {
        if plugins.is_empty() {
            return Ok(());
        }
        (0..image.layers.len()).try_for_each(|i| {
            let record = layer(i).map_err(|reason| Denied { plugin: "sbx".into(), reason })?;
            checks.layer(plugins, image, i, &record)
        })
    });
    checks.finish(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A scripted policy that records what it was asked.
    struct Scripted {
        name: &'static str,
        mode: Mode,
        on_error: OnError,
        image: Result<Verdict, ()>,
        layer: fn(u32) -> LayerVerdict,
        findings: bool,
        seen: RefCell<Vec<String>>,
    }

    impl Scripted {
        fn new(name: &'static str, image: Result<Verdict, ()>, layer: fn(u32) -> LayerVerdict) -> Self {
            Scripted {
                name,
                mode: Mode::Enforce,
                on_error: OnError::Deny,
                image,
                layer,
                findings: false,
                seen: RefCell::new(vec![]),
            }
        }
    }

    impl PolicyCheck for Scripted {
        fn name(&self) -> &str {
            self.name
        }
        fn mode(&self) -> Mode {
            self.mode
        }
        fn on_error(&self) -> OnError {
            self.on_error
        }
        fn check_image(&self, _: &Image) -> Result<Verdict, PluginError> {
            self.seen.borrow_mut().push("image".into());
            self.image.clone().map_err(|()| PluginError::Call {
                plugin: self.name.into(),
                func: "check-image",
                message: "trapped".into(),
            })
        }
        fn check_layer(&self, _: &Image, l: &Layer) -> Result<LayerAnswer, PluginError> {
            self.seen.borrow_mut().push(format!("layer {}", l.index));
            let findings = if self.findings { vec![format!("saw layer {}", l.index)] } else { vec![] };
            Ok(LayerAnswer { verdict: (self.layer)(l.index), findings })
        }
    }

    fn image(layers: usize) -> Image {
        Image { layers: vec!["sha256:0".into(); layers], ..crate::plugin::convert::bare_image("x") }
    }

    fn layer(i: usize) -> Result<Layer, String> {
        Ok(Layer {
            index: i as u32,
            digest: String::new(),
            diff_id: String::new(),
            media_type: String::new(),
            size: 0,
            unpacked_size: 0,
            created_by: None,
            entries: vec![],
        })
    }

    fn allow() -> Decision {
        Decision::Allow { skipped: vec![], notes: vec![] }
    }

    fn deny(plugin: &str, reason: &str) -> Decision {
        Decision::Deny { plugin: plugin.into(), reason: reason.into(), notes: vec![] }
    }

    #[test]
    fn all_allow_runs_every_check_in_order() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        assert_eq!(evaluate(&[&a, &b], &image(2), layer).decision, allow());
        assert_eq!(*a.seen.borrow(), ["image", "layer 0", "layer 1"]);
        assert_eq!(*b.seen.borrow(), ["image", "layer 0", "layer 1"]);
    }

    #[test]
    fn first_image_deny_stops_before_later_plugins() {
        let a = Scripted::new("a", Ok(Verdict::Deny("no".into())), |_| LayerVerdict::Mount);
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        assert_eq!(evaluate(&[&a, &b], &image(1), layer).decision, deny("a", "no"));
        assert!(b.seen.borrow().is_empty());
    }

    #[test]
    fn layer_deny_names_plugin_and_stops() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |i| {
            if i == 1 { LayerVerdict::Deny("setuid".into()) } else { LayerVerdict::Mount }
        });
        assert_eq!(evaluate(&[&a], &image(3), layer).decision, deny("a", "setuid"));
        assert_eq!(*a.seen.borrow(), ["image", "layer 0", "layer 1"]);
    }

    #[test]
    fn a_failing_plugin_denies() {
        let a = Scripted::new("a", Err(()), |_| LayerVerdict::Mount);
        let Decision::Deny { plugin, reason, .. } = evaluate(&[&a], &image(1), layer).decision else {
            panic!("must deny")
        };
        assert_eq!(plugin, "a");
        assert!(reason.contains("trapped"), "{reason}");
    }

    #[test]
    fn on_error_allow_lets_a_failure_pass_with_a_note() {
        let mut a = Scripted::new("a", Err(()), |_| LayerVerdict::Mount);
        a.on_error = OnError::Allow;
        let Decision::Allow { notes, .. } = evaluate(&[&a], &image(1), layer).decision else { panic!("must allow") };
        assert_eq!(notes.len(), 1);
        assert!(notes[0].message.starts_with("ignored failure: ") && notes[0].message.contains("trapped"), "{notes:?}");
    }

    #[test]
    fn monitor_mode_reports_and_changes_nothing() {
        let mut a = Scripted::new("a", Ok(Verdict::Deny("no".into())), |i| {
            if i == 0 { LayerVerdict::Skip("docs".into()) } else { LayerVerdict::Deny("bad".into()) }
        });
        a.mode = Mode::Monitor;
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        let d = evaluate(&[&a, &b], &image(2), layer).decision;
        let Decision::Allow { skipped, notes } = d else { panic!("monitor never denies: {d:?}") };
        assert!(skipped.is_empty(), "monitor never skips");
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(messages, ["would deny: no", "layer 0: would skip the layer: docs", "layer 1: would deny: bad"]);
        assert_eq!(*b.seen.borrow(), ["image", "layer 0", "layer 1"], "later plugins still run");
    }

    #[test]
    fn skip_is_recorded_and_later_plugins_do_not_see_the_layer() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |i| {
            if i == 0 { LayerVerdict::Skip("docs".into()) } else { LayerVerdict::Mount }
        });
        let b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        let d = evaluate(&[&a, &b], &image(2), layer).decision;
        assert_eq!(
            d,
            Decision::Allow {
                skipped: vec![Skip { layer: 0, plugin: "a".into(), reason: "docs".into() }],
                notes: vec![]
            }
        );
        assert_eq!(*b.seen.borrow(), ["image", "layer 1"]);
    }

    #[test]
    fn every_answer_is_recorded_up_to_the_deny() {
        let a = Scripted::new("a", Ok(Verdict::Allow), |i| {
            if i == 1 { LayerVerdict::Deny("bad".into()) } else { LayerVerdict::Mount }
        });
        let e = evaluate(&[&a], &image(3), layer);
        let got: Vec<(String, &str, String)> = e.answers.into_iter().map(|a| (a.check, a.verdict, a.reason)).collect();
        assert_eq!(
            got,
            [
                ("image".into(), "allow", String::new()),
                ("layer 0".into(), "mount", String::new()),
                ("layer 1".into(), "deny", "bad".into())
            ]
        );
    }

    #[test]
    fn findings_are_shown_whatever_the_verdict() {
        let mut a = Scripted::new("a", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        a.findings = true;
        let Decision::Allow { notes, .. } = evaluate(&[&a], &image(2), layer).decision else { panic!("allowed") };
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(messages, ["layer 0: saw layer 0", "layer 1: saw layer 1"]);
    }

    #[test]
    fn no_plugins_reads_no_layers() {
        let d = evaluate(&[], &image(3), |_| panic!("no layer index is read without plugins")).decision;
        assert_eq!(d, allow());
    }
}
