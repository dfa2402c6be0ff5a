//! Combining the verdicts of several policies, in order: every enforcing plugin must allow, the
//! first deny stops everything, and a plugin that fails is a deny unless its on-error is `allow`
//! (fail closed by default). Monitor-mode plugins only report what they would have done. Pure
//! over [`PolicyCheck`].

use super::bindings::{
    Adjustment, EVERY_CHECK, Entry, EntryFilter, Image, Interests, Layer, LayerAnswer, LayerVerdict, Spec, Verdict,
};
use super::engine::PluginError;
use crate::config::{Mode, OnError, Weakening};
use std::borrow::Cow;

pub trait PolicyCheck {
    fn name(&self) -> &str;
    fn mode(&self) -> Mode {
        Mode::Enforce
    }
    fn on_error(&self) -> OnError {
        OnError::Deny
    }
    /// The checks it is asked and the layer entries it is given (`policy.wants`): a check it
    /// does not want is answered as the SDKs' defaults answer it, without a call.
    fn wants(&self) -> &Interests {
        &EVERY_CHECK
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
    /// Whether the plugin was called: a check it does not want is answered without a call.
    pub asked: bool,
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
    Answer { plugin: plugin.into(), check, verdict, reason, adjustments: Vec::new(), asked: true }
}

/// The answer to a check the plugin does not want: `allowed`, without a call.
pub(crate) fn unasked(plugin: &str, check: String, allowed: &'static str) -> Answer {
    Answer { asked: false, ..answer(plugin, check, &Ok(None), allowed) }
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
            if !p.wants().check_image {
                self.answers.push(unasked(p.name(), "image".into(), "allow"));
                continue;
            }
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

    /// The checks of `plugins` on layer `i`, whose WIT record `record` builds when a plugin wants
    /// the layer, with at least the entries the filter it is given keeps ([`entries_needed`]); a
    /// skip ends them for it.
    pub fn layer(
        &mut self,
        plugins: &[&dyn PolicyCheck],
        image: &Image,
        i: usize,
        record: impl FnOnce(&EntryFilter) -> Result<Layer, String>,
    ) -> Result<(), Denied> {
        let mut record = Some(record);
        let mut built: Option<Layer> = None;
        for p in plugins {
            let wants = p.wants();
            if !wants.check_layer {
                self.answers.push(unasked(p.name(), format!("layer {i}"), "mount"));
                continue;
            }
            let layer = match &built {
                Some(layer) => layer,
                None => {
                    let build = record.take().expect("built once");
                    let needed = entries_needed(plugins);
                    built.insert(build(&needed).map_err(|reason| Denied { plugin: "sbx".into(), reason })?)
                }
            };
            let result = p.check_layer(image, &entries_wanted(layer, &wants.entries));
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

/// Whether a plugin that wants `filter`'s entries is shown an entry of `mode`.
pub fn shown(filter: &EntryFilter, mode: u32) -> bool {
    match filter {
        EntryFilter::All => true,
        EntryFilter::None => false,
        EntryFilter::WithMode(bits) => mode & bits != 0,
    }
}

/// The entries of a layer that some layer check of `plugins` is shown: a layer's record needs no
/// others, and no index read at all when that is none.
pub fn entries_needed(plugins: &[&dyn PolicyCheck]) -> EntryFilter {
    let mut bits = 0;
    for wants in plugins.iter().map(|p| p.wants()).filter(|w| w.check_layer) {
        match wants.entries {
            EntryFilter::All => return EntryFilter::All,
            EntryFilter::None => {}
            EntryFilter::WithMode(b) => bits |= b,
        }
    }
    if bits == 0 { EntryFilter::None } else { EntryFilter::WithMode(bits) }
}

/// The layer as a plugin that wants `filter`'s entries sees it: itself for every entry, else a
/// copy with only the wanted entries (a Python or JavaScript plugin pays for each entry it gets).
pub fn entries_wanted<'a>(layer: &'a Layer, filter: &EntryFilter) -> Cow<'a, Layer> {
    let keep = |e: &&Entry| shown(filter, e.mode);
    if matches!(filter, EntryFilter::All) {
        return Cow::Borrowed(layer);
    }
    Cow::Owned(Layer {
        index: layer.index,
        digest: layer.digest.clone(),
        diff_id: layer.diff_id.clone(),
        media_type: layer.media_type.clone(),
        size: layer.size,
        unpacked_size: layer.unpacked_size,
        created_by: layer.created_by.clone(),
        entries: layer.entries.iter().filter(keep).cloned().collect(),
    })
}

/// Evaluates `plugins` on the image, then on each layer bottom first. `layer(i, needed)` builds
/// the WIT record of layer `i` with (at least) the entries `needed` keeps, reading its index; it
/// is called only when a plugin wants to see the layer.
pub fn evaluate(
    plugins: &[&dyn PolicyCheck],
    image: &Image,
    mut layer: impl FnMut(usize, &EntryFilter) -> Result<Layer, String>,
) -> Evaluation {
    let mut checks = Checks::default();
    let outcome = checks.image(plugins, image).and_then(|()| {
        if plugins.is_empty() {
            return Ok(());
        }
        (0..image.layers.len()).try_for_each(|i| checks.layer(plugins, image, i, |needed| layer(i, needed)))
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
        wants: Interests,
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
                wants: EVERY_CHECK,
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
        fn wants(&self) -> &Interests {
            &self.wants
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

    fn layer(i: usize, _: &EntryFilter) -> Result<Layer, String> {
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
        let d = evaluate(&[], &image(3), |_, _| panic!("no layer index is read without plugins")).decision;
        assert_eq!(d, allow());
    }

    #[test]
    fn checks_a_plugin_does_not_want_are_answered_without_a_call() {
        let mut a = Scripted::new("a", Ok(Verdict::Deny("never asked".into())), |_| LayerVerdict::Deny("never".into()));
        a.wants = Interests { check_image: false, check_layer: false, ..EVERY_CHECK };
        let mut b = Scripted::new("b", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        b.wants = Interests { check_image: false, ..EVERY_CHECK };
        let evaluation = evaluate(&[&a, &b], &image(2), layer);
        assert_eq!(evaluation.decision, allow());
        assert!(a.seen.borrow().is_empty(), "{:?}", a.seen);
        assert_eq!(*b.seen.borrow(), ["layer 0", "layer 1"]);
        let answers: Vec<(&str, &str, &str)> =
            evaluation.answers.iter().map(|a| (a.plugin.as_str(), a.check.as_str(), a.verdict)).collect();
        let expected = [("a", "image", "allow"), ("b", "image", "allow"), ("a", "layer 0", "mount")];
        assert_eq!(answers[..3], expected, "the default answers are recorded as the SDKs would give them");
        let asked: Vec<bool> = evaluation.answers.iter().map(|a| a.asked).collect();
        assert_eq!(asked, [false, false, false, true, false, true]);
    }

    #[test]
    fn no_plugin_that_wants_layers_reads_no_layers() {
        let mut a = Scripted::new("a", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
        a.wants = Interests { check_layer: false, ..EVERY_CHECK };
        let d = evaluate(&[&a], &image(3), |_, _| panic!("no layer index is read when no plugin wants it")).decision;
        assert_eq!(d, allow());
        assert_eq!(*a.seen.borrow(), ["image"]);
    }

    #[test]
    fn a_plugin_gets_the_entries_it_wants() {
        let entry = |path: &str, mode: u32| Entry {
            path: path.into(),
            kind: crate::plugin::bindings::EntryKind::File,
            mode,
            uid: 0,
            gid: 0,
            size: 1,
            link_target: None,
        };
        let full = Layer {
            entries: vec![entry("bin/su", 0o4755), entry("bin/ls", 0o755), entry("bin/wall", 0o2755)],
            ..layer(0, &EntryFilter::All).unwrap()
        };
        let paths = |l: &Layer| l.entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
        assert!(matches!(entries_wanted(&full, &EntryFilter::All), Cow::Borrowed(_)), "every entry: no copy");
        assert!(entries_wanted(&full, &EntryFilter::None).entries.is_empty());
        assert_eq!(paths(&entries_wanted(&full, &EntryFilter::WithMode(0o6000))), ["bin/su", "bin/wall"]);
        assert_eq!(paths(&entries_wanted(&full, &EntryFilter::WithMode(0o2000))), ["bin/wall"]);
        let sizes = entries_wanted(&full, &EntryFilter::None);
        assert_eq!((sizes.index, sizes.unpacked_size), (full.index, full.unpacked_size));
    }

    #[test]
    fn a_layer_is_built_with_the_entries_some_layer_check_is_shown() {
        let with = |check_layer, entries| {
            let mut p = Scripted::new("p", Ok(Verdict::Allow), |_| LayerVerdict::Mount);
            p.wants = Interests { check_layer, entries, ..EVERY_CHECK };
            p
        };
        let (setuid, setgid) = (with(true, EntryFilter::WithMode(0o4000)), with(true, EntryFilter::WithMode(0o2000)));
        let sizes = with(true, EntryFilter::None);
        let everything_unasked = with(false, EntryFilter::All);
        assert!(matches!(entries_needed(&[&sizes, &everything_unasked]), EntryFilter::None));
        assert!(matches!(entries_needed(&[&setuid, &sizes, &setgid]), EntryFilter::WithMode(0o6000)));
        assert!(matches!(entries_needed(&[&setuid, &with(true, EntryFilter::All)]), EntryFilter::All));
        let needed = RefCell::new(Vec::new());
        let d = evaluate(&[&sizes, &setuid], &image(2), |i, n| {
            needed.borrow_mut().push(matches!(n, EntryFilter::WithMode(0o4000)));
            layer(i, n)
        });
        assert_eq!(d.decision, allow());
        assert_eq!(*needed.borrow(), [true, true], "each layer is built with the set-user-ID entries");
    }
}
