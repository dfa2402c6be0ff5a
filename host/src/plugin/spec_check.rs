//! The spec checks of every policy, in order: each plugin sees the spec as the plugins before it
//! adjusted it; the first deny stops; adjustments of enforcing plugins apply (see [`adjust`]);
//! monitor-mode plugins only report what they would deny or change. Pure over [`PolicyCheck`].

use super::adjust::{self, Claims};
use super::bindings::{Image, Verdict};
use super::chain::{Answer, Effect, Note, PolicyCheck, Raw, answer, effect};
use super::convert;
use crate::config::Mode;
use crate::container::spec::ContainerSpec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecDecision {
    /// Run this spec (the input with every adjustment applied).
    Allow {
        spec: Box<ContainerSpec>,
        notes: Vec<Note>,
    },
    Deny {
        plugin: String,
        reason: String,
        notes: Vec<Note>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEvaluation {
    pub decision: SpecDecision,
    pub answers: Vec<Answer>,
}

pub fn evaluate(plugins: &[&dyn PolicyCheck], image: &Image, spec: &ContainerSpec) -> SpecEvaluation {
    let mut spec = spec.clone();
    let mut claims = Claims::default();
    let mut notes = Vec::new();
    let mut answers = Vec::new();
    for p in plugins {
        let result = p.check_spec(&convert::spec(image, &spec));
        let adjustments = result.as_ref().map(|v| v.adjustments.clone()).unwrap_or_default();
        let raw: Raw = result.map(|v| match v.verdict {
            Verdict::Allow => None,
            Verdict::Deny(r) => Some(Err(r)),
        });
        let mut a = answer(p.name(), "spec".into(), &raw, "allow");
        let denied = matches!(raw, Ok(Some(_)));
        if !denied {
            a.adjustments = adjustments.iter().map(adjust::describe).collect();
        }
        answers.push(a);
        let deny = |plugin: &str, reason, notes| SpecEvaluation {
            decision: SpecDecision::Deny { plugin: plugin.into(), reason, notes },
            answers: answers.clone(),
        };
        match effect(p.mode(), p.on_error(), raw) {
            Effect::Stop(reason) => return deny(p.name(), reason, notes),
            Effect::Note(message) => notes.push(Note { plugin: p.name().into(), message }),
            Effect::Pass | Effect::Skip(_) => {}
        }
        if denied || adjustments.is_empty() {
            continue;
        }
        if p.mode() == Mode::Monitor {
            let changes: Vec<String> = adjustments.iter().map(adjust::describe).collect();
            notes.push(Note { plugin: p.name().into(), message: format!("would {}", changes.join(", ")) });
            continue;
        }
        if let Err(e) = adjust::apply(&mut spec, &mut claims, p.name(), &adjustments) {
            return deny(p.name(), e.to_string(), notes);
        }
    }
    SpecEvaluation { decision: SpecDecision::Allow { spec: Box::new(spec), notes }, answers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OnError;
    use crate::container::spec::{Overrides, build, get_env};
    use crate::plugin::bindings::{Adjustment, Layer, LayerAnswer, LayerVerdict, Spec, SpecVerdict};
    use crate::plugin::engine::PluginError;
    use std::cell::RefCell;

    struct Adjuster {
        name: &'static str,
        mode: Mode,
        verdict: Result<SpecVerdict, ()>,
        seen: RefCell<Vec<Spec>>,
    }

    fn adjuster(name: &'static str, verdict: Verdict, adjustments: Vec<Adjustment>) -> Adjuster {
        Adjuster {
            name,
            mode: Mode::Enforce,
            verdict: Ok(SpecVerdict { verdict, adjustments }),
            seen: RefCell::default(),
        }
    }

    impl PolicyCheck for Adjuster {
        fn name(&self) -> &str {
            self.name
        }
        fn mode(&self) -> Mode {
            self.mode
        }
        fn on_error(&self) -> OnError {
            OnError::Deny
        }
        fn check_image(&self, _: &Image) -> Result<Verdict, PluginError> {
            Ok(Verdict::Allow)
        }
        fn check_layer(&self, _: &Image, _: &Layer) -> Result<LayerAnswer, PluginError> {
            Ok(LayerAnswer { verdict: LayerVerdict::Mount, findings: vec![] })
        }
        fn check_spec(&self, spec: &Spec) -> Result<SpecVerdict, PluginError> {
            self.seen.borrow_mut().push(spec.clone());
            self.verdict.clone().map_err(|()| PluginError::Call {
                plugin: self.name.into(),
                func: "check-spec",
                message: "trapped".into(),
            })
        }
    }

    fn spec() -> ContainerSpec {
        build("img", None, &Overrides { cmd: vec!["sh".into()], ..Default::default() }, "h", |_| None).unwrap()
    }

    fn image() -> Image {
        convert::bare_image("img")
    }

    fn set(k: &str, v: &str) -> Adjustment {
        Adjustment::SetEnv((k.into(), v.into()))
    }

    #[test]
    fn later_plugins_see_earlier_adjustments_and_the_result_has_them_all() {
        let a = adjuster("a", Verdict::Allow, vec![set("A", "1")]);
        let b = adjuster("b", Verdict::Allow, vec![Adjustment::SetReadOnlyRootfs(true)]);
        let e = evaluate(&[&a, &b], &image(), &spec());
        let SpecDecision::Allow { spec, notes } = e.decision else { panic!("allowed") };
        assert!(notes.is_empty());
        assert_eq!(get_env(&spec.env, "A"), Some("1"));
        assert!(spec.read_only_rootfs);
        assert!(b.seen.borrow()[0].env.contains(&"A=1".to_string()), "b sees a's change");
        assert_eq!(e.answers[0].adjustments, ["set env A=1"]);
    }

    #[test]
    fn a_deny_stops_and_later_plugins_are_not_asked() {
        let a = adjuster("a", Verdict::Deny("root".into()), vec![set("A", "1")]);
        let b = adjuster("b", Verdict::Allow, vec![]);
        let e = evaluate(&[&a, &b], &image(), &spec());
        assert_eq!(e.decision, SpecDecision::Deny { plugin: "a".into(), reason: "root".into(), notes: vec![] });
        assert!(b.seen.borrow().is_empty());
        assert!(e.answers[0].adjustments.is_empty(), "a deny's adjustments are ignored");
    }

    #[test]
    fn monitor_mode_reports_changes_and_denials_without_making_them() {
        let mut a = adjuster("a", Verdict::Allow, vec![set("A", "1")]);
        a.mode = Mode::Monitor;
        let mut b = adjuster("b", Verdict::Deny("no".into()), vec![]);
        b.mode = Mode::Monitor;
        let SpecDecision::Allow { spec: out, notes } = evaluate(&[&a, &b], &image(), &spec()).decision else {
            panic!("monitor never denies")
        };
        assert_eq!(*out, spec(), "nothing changed");
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(messages, ["would set env A=1", "would deny: no"]);
    }

    #[test]
    fn contradictions_deny_naming_both_plugins() {
        let a = adjuster("a", Verdict::Allow, vec![Adjustment::SetUser("0".into())]);
        let b = adjuster("b", Verdict::Allow, vec![Adjustment::SetUser("1000".into())]);
        let SpecDecision::Deny { plugin, reason, .. } = evaluate(&[&a, &b], &image(), &spec()).decision else {
            panic!("must deny")
        };
        assert_eq!(plugin, "b");
        assert!(reason.contains("policies a and b contradict each other"), "{reason}");
    }

    #[test]
    fn a_failing_plugin_denies() {
        let mut a = adjuster("a", Verdict::Allow, vec![]);
        a.verdict = Err(());
        let SpecDecision::Deny { plugin, reason, .. } = evaluate(&[&a], &image(), &spec()).decision else {
            panic!("fails closed")
        };
        assert_eq!(plugin, "a");
        assert!(reason.contains("trapped"), "{reason}");
    }
}
