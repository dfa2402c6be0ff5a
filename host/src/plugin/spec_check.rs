//! Admitting a container's spec, in two phases as Kubernetes admits objects. Mutation: every
//! policy's `mutate-spec`, in plugin order, each seeing the spec as the plugins before it left it;
//! their adjustments apply (see [`adjust`]) unless they contradict each other, and one that weakens
//! isolation (see [`weaken`]) is refused unless the plugin's configuration grants it, and shown
//! when it does. Validation: every policy's `validate-spec` on the final spec, which nothing
//! changes afterwards; a deny wins whatever the order. Monitor-mode plugins only report what they
//! would change or deny. The user is resolved to the numbers sbx will apply before each call. Pure
//! over [`PolicyCheck`] and the user resolver.

use super::adjust::{self, Claims};
use super::bindings::{Adjustment, Image, Verdict};
use super::chain::{Answer, Effect, Note, PolicyCheck, Raw, answer, effect, unasked};
use super::convert;
use super::weaken::{self, Asked};
use crate::config::Mode;
use crate::spec::ContainerSpec;
use crate::spec::user::{User, UserError};

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

/// What the evaluation needs besides the plugins and the spec.
pub struct Context<'a> {
    pub image: &'a Image,
    /// A user spec resolved as sbx will apply it (against the container's /etc/passwd and
    /// /etc/group).
    pub resolve: &'a dyn Fn(&str) -> Result<User, UserError>,
    /// sbx's own hard limit of an rlimit, by docker's name.
    pub own_hard: &'a dyn Fn(&str) -> Option<u64>,
}

/// Admits `spec`. Fails only when its own user cannot be resolved (the container could not start);
/// everything a plugin does wrong is a deny naming it.
pub fn evaluate(plugins: &[&dyn PolicyCheck], cx: &Context, spec: &ContainerSpec) -> Result<SpecEvaluation, UserError> {
    let asked_user = (cx.resolve)(&spec.user)?;
    let asked = Asked { spec, uid: asked_user.uid };
    let mut spec = spec.clone();
    let (mut user, mut resolved_for) = (asked_user, spec.user.clone());
    let mut claims = Claims::default();
    let mut notes = Vec::new();
    let mut answers = Vec::new();
    let deny = |plugin: &str, reason: String, notes: Vec<Note>, answers: &[Answer]| {
        // The words may quote a plugin's (an env value, a path): shown safe, as its own are.
        let reason = super::output::text(&reason, 2 * super::output::REASON);
        let decision = SpecDecision::Deny { plugin: plugin.into(), reason, notes };
        Ok(SpecEvaluation { decision, answers: answers.to_vec() })
    };
    for p in plugins {
        if !p.wants().mutate_spec {
            answers.push(unasked(p.name(), "mutate".into(), "ok"));
            continue;
        }
        let (raw, adjustments): (Raw, _) = match p.mutate_spec(&convert::spec(cx.image, &spec, &user)) {
            Ok(adjustments) => (Ok(None), adjustments),
            Err(e) => (Err(e), Vec::new()),
        };
        let mut a = answer(p.name(), "mutate".into(), &raw, "ok");
        a.adjustments = adjustments.iter().map(adjust::describe).collect();
        answers.push(a);
        match effect(p.mode(), p.on_error(), raw) {
            Effect::Stop(reason) => return deny(p.name(), reason, notes, &answers),
            Effect::Note(message) => notes.push(Note::new(p.name(), message)),
            Effect::Pass | Effect::Skip(_) => {}
        }
        if adjustments.is_empty() {
            continue;
        }
        if p.mode() == Mode::Monitor {
            let changes: Vec<String> = adjustments.iter().map(adjust::describe).collect();
            notes.push(Note::new(p.name(), format!("would {}", changes.join(", "))));
            continue;
        }
        if let Err(reason) = check_weakening(*p, &asked, cx, &adjustments, &mut notes) {
            return deny(p.name(), reason, notes, &answers);
        }
        if let Err(e) = adjust::apply(&mut spec, &mut claims, p.name(), &adjustments) {
            return deny(p.name(), e.to_string(), notes, &answers);
        }
        if let Some(u) = spec.ulimits.iter().find(|u| (cx.own_hard)(&u.name).is_some_and(|h| u.hard > h)) {
            let reason = format!("it asks for the rlimit {}={}:{}, above what sbx may give", u.name, u.soft, u.hard);
            return deny(p.name(), reason, notes, &answers);
        }
        if spec.user != resolved_for {
            user = match (cx.resolve)(&spec.user) {
                Ok(u) => u,
                Err(e) => {
                    return deny(p.name(), format!("it asks to run as a user that cannot be: {e}"), notes, &answers);
                }
            };
            resolved_for.clone_from(&spec.user);
        }
    }
    let last = plugins.iter().any(|p| p.wants().validate_spec).then(|| convert::spec(cx.image, &spec, &user));
    let mut denial = None;
    for p in plugins {
        let Some(last) = last.as_ref().filter(|_| p.wants().validate_spec) else {
            answers.push(unasked(p.name(), "validate".into(), "allow"));
            continue;
        };
        let raw: Raw = p.validate_spec(last).map(|v| match v {
            Verdict::Allow => None,
            Verdict::Deny(r) => Some(Err(r)),
        });
        answers.push(answer(p.name(), "validate".into(), &raw, "allow"));
        match effect(p.mode(), p.on_error(), raw) {
            Effect::Stop(reason) if denial.is_none() => denial = Some((p.name().to_string(), reason)),
            Effect::Note(message) => notes.push(Note::new(p.name(), message)),
            _ => {}
        }
    }
    match denial {
        Some((plugin, reason)) => deny(&plugin, reason, notes, &answers),
        None => Ok(SpecEvaluation { decision: SpecDecision::Allow { spec: Box::new(spec), notes }, answers }),
    }
}

/// Refuses an adjustment of `p` that weakens isolation without its configuration's grant, and
/// notes the ones it is granted.
fn check_weakening(
    p: &dyn PolicyCheck,
    asked: &Asked,
    cx: &Context,
    adjustments: &[Adjustment],
    notes: &mut Vec<Note>,
) -> Result<(), String> {
    let uid_of = |u: &str| (cx.resolve)(u).ok().map(|u| u.uid);
    for a in adjustments {
        let Some(part) = weaken::weakening(asked, a, &uid_of, cx.own_hard) else { continue };
        let change = adjust::describe(a);
        if !p.may_weaken().contains(&part) {
            return Err(format!(
                "it may not weaken the container's isolation, but asks to {change}; if that is intended, grant it with `may-weaken: [{}]` in its configuration",
                part.name()
            ));
        }
        let message = format!("weakens the container's isolation: {change} (may-weaken: {})", part.name());
        notes.push(Note::new(p.name(), message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OnError, Weakening};
    use crate::plugin::bindings::{EVERY_CHECK, Interests, Layer, LayerAnswer, LayerVerdict, Spec};
    use crate::plugin::engine::PluginError;
    use crate::spec::user;
    use crate::spec::{Overrides, build, get_env};
    use std::cell::RefCell;

    /// A scripted policy: its adjustments, and a verdict computed from the spec it validates.
    struct Scripted {
        name: &'static str,
        mode: Mode,
        may_weaken: Vec<Weakening>,
        adjustments: Result<Vec<Adjustment>, ()>,
        verdict: fn(&Spec) -> Verdict,
        wants: Interests,
        mutated: RefCell<Vec<Spec>>,
        validated: RefCell<Vec<Spec>>,
    }

    fn scripted(name: &'static str, adjustments: Vec<Adjustment>, verdict: fn(&Spec) -> Verdict) -> Scripted {
        Scripted {
            name,
            mode: Mode::Enforce,
            may_weaken: vec![],
            adjustments: Ok(adjustments),
            verdict,
            wants: EVERY_CHECK,
            mutated: RefCell::default(),
            validated: RefCell::default(),
        }
    }

    fn allow(_: &Spec) -> Verdict {
        Verdict::Allow
    }

    impl PolicyCheck for Scripted {
        fn name(&self) -> &str {
            self.name
        }
        fn mode(&self) -> Mode {
            self.mode
        }
        fn on_error(&self) -> OnError {
            OnError::Deny
        }
        fn may_weaken(&self) -> &[Weakening] {
            &self.may_weaken
        }
        fn wants(&self) -> &Interests {
            &self.wants
        }
        fn check_image(&self, _: &Image) -> Result<Verdict, PluginError> {
            Ok(Verdict::Allow)
        }
        fn check_layer(&self, _: &Image, _: &Layer) -> Result<LayerAnswer, PluginError> {
            Ok(LayerAnswer { verdict: LayerVerdict::Mount, findings: vec![] })
        }
        fn mutate_spec(&self, spec: &Spec) -> Result<Vec<Adjustment>, PluginError> {
            self.mutated.borrow_mut().push(spec.clone());
            self.adjustments.clone().map_err(|()| PluginError::Call {
                plugin: self.name.into(),
                func: "mutate-spec",
                message: "trapped".into(),
            })
        }
        fn validate_spec(&self, spec: &Spec) -> Result<Verdict, PluginError> {
            self.validated.borrow_mut().push(spec.clone());
            Ok((self.verdict)(spec))
        }
    }

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n";

    fn run(plugins: &[&dyn PolicyCheck], spec: &ContainerSpec) -> SpecEvaluation {
        let image = convert::bare_image("img");
        let resolve = |u: &str| user::resolve(u, Some(PASSWD), None);
        let cx = Context { image: &image, resolve: &resolve, own_hard: &|_| Some(1024) };
        evaluate(plugins, &cx, spec).unwrap()
    }

    fn spec_as(user: &str) -> ContainerSpec {
        let o = Overrides { cmd: vec!["sh".into()], user: Some(user.into()), ..Default::default() };
        build("img", None, &o, "h", |_| None).unwrap()
    }

    fn set(k: &str, v: &str) -> Adjustment {
        Adjustment::SetEnv((k.into(), v.into()))
    }

    fn denied(e: &SpecEvaluation) -> (&str, &str) {
        match &e.decision {
            SpecDecision::Deny { plugin, reason, .. } => (plugin, reason),
            SpecDecision::Allow { .. } => panic!("allowed: {e:?}"),
        }
    }

    #[test]
    fn every_policy_validates_the_final_spec_with_every_adjustment() {
        let a = scripted("a", vec![set("A", "1")], |s| {
            if s.read_only_rootfs { Verdict::Allow } else { Verdict::Deny("root must be read-only".into()) }
        });
        let b = scripted("b", vec![Adjustment::SetReadOnlyRootfs(true)], allow);
        let e = run(&[&a, &b], &spec_as("bob"));
        let SpecDecision::Allow { spec, .. } = &e.decision else { panic!("{e:?}") };
        assert_eq!(get_env(&spec.env, "A"), Some("1"));
        assert!(spec.read_only_rootfs);
        assert!(b.mutated.borrow()[0].env.contains(&"A=1".to_string()), "b mutates after a's change");
        assert!(a.validated.borrow()[0].read_only_rootfs, "a validates after b's change");
        let checks: Vec<(&str, &str)> = e.answers.iter().map(|x| (x.plugin.as_str(), x.check.as_str())).collect();
        assert_eq!(checks, [("a", "mutate"), ("b", "mutate"), ("a", "validate"), ("b", "validate")]);
    }

    #[test]
    fn a_deny_wins_whatever_the_order_and_no_later_plugin_undoes_it() {
        // The shipped non-root's logic, and a plugin after it that runs the container as root.
        let non_root = scripted("non-root", vec![], |s| {
            if s.uid == 0 { Verdict::Deny("runs as root".into()) } else { Verdict::Allow }
        });
        let mut to_root = scripted("to-root", vec![Adjustment::SetUser("0".into())], allow);
        to_root.may_weaken = vec![Weakening::User];
        for order in [[&non_root as &dyn PolicyCheck, &to_root], [&to_root, &non_root]] {
            let e = run(&order, &spec_as("bob"));
            assert_eq!(denied(&e), ("non-root", "runs as root"), "{e:?}");
        }
        for user in ["00", "root", "toor", "0:0"] {
            assert_eq!(denied(&run(&[&non_root], &spec_as(user))).0, "non-root", "{user} is uid 0");
        }
        let last = non_root.validated.borrow().last().cloned().unwrap();
        assert_eq!((last.user.as_str(), last.uid, last.gid), ("0:0", 0, 0));
    }

    #[test]
    fn weakening_needs_the_configurations_grant_and_is_always_shown() {
        let loosen = || {
            scripted(
                "loosen",
                vec![
                    Adjustment::AddCapability("SYS_ADMIN".into()),
                    Adjustment::SetNoNewPrivileges(false),
                    Adjustment::SetSeccomp(crate::plugin::bindings::Seccomp::Unconfined),
                ],
                allow,
            )
        };
        let e = run(&[&loosen()], &spec_as("bob"));
        let (plugin, reason) = denied(&e);
        assert_eq!(plugin, "loosen");
        assert!(reason.contains("may not weaken") && reason.contains("may-weaken: [capabilities]"), "{reason}");
        let mut granted = loosen();
        granted.may_weaken = vec![Weakening::Capabilities, Weakening::NoNewPrivileges, Weakening::Seccomp];
        let e = run(&[&granted], &spec_as("bob"));
        let SpecDecision::Allow { spec, notes } = &e.decision else { panic!("{e:?}") };
        assert!(spec.capabilities.contains(&"CAP_SYS_ADMIN".to_string()) && !spec.no_new_privileges);
        let shown: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].contains("weakens the container's isolation: add capability SYS_ADMIN"), "{shown:?}");
    }

    #[test]
    fn monitor_mode_reports_changes_and_denials_without_making_them() {
        let mut a = scripted("a", vec![set("A", "1")], allow);
        a.mode = Mode::Monitor;
        let mut b = scripted("b", vec![], |_| Verdict::Deny("no".into()));
        b.mode = Mode::Monitor;
        let e = run(&[&a, &b], &spec_as("bob"));
        let SpecDecision::Allow { spec: out, notes } = e.decision else { panic!("monitor never denies") };
        assert_eq!(*out, spec_as("bob"), "nothing changed");
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(messages, ["would set env A=1", "would deny: no"]);
    }

    #[test]
    fn contradictions_failures_and_bad_users_deny_naming_the_plugin() {
        let a = scripted("a", vec![Adjustment::SetUser("bob".into())], allow);
        let b = scripted("b", vec![Adjustment::SetUser("1000:1000".into())], allow);
        let e = run(&[&a, &b], &spec_as("bob"));
        assert_eq!(denied(&e).0, "b");
        assert!(denied(&e).1.contains("policies a and b contradict each other"), "{e:?}");
        let mut failing = scripted("f", vec![], allow);
        failing.adjustments = Err(());
        assert!(denied(&run(&[&failing], &spec_as("bob"))).1.contains("trapped"));
        let ghost = scripted("g", vec![Adjustment::SetUser("ghost".into())], allow);
        let e = run(&[&ghost], &spec_as("bob"));
        assert_eq!(denied(&e).0, "g");
        assert!(denied(&e).1.contains("unable to find user ghost"), "{e:?}");
        let minus_one = scripted("m", vec![Adjustment::SetUser("4294967295".into())], allow);
        assert!(denied(&run(&[&minus_one], &spec_as("bob"))).1.contains("invalid id"));
        let ulimit = crate::plugin::bindings::Ulimit { name: "nofile".into(), soft: 1, hard: 99_999 };
        let mut high = scripted("h", vec![Adjustment::SetUlimit(ulimit)], allow);
        high.may_weaken = vec![Weakening::Ulimits];
        assert!(denied(&run(&[&high], &spec_as("bob"))).1.contains("above what sbx may give"));
        let zero = crate::plugin::bindings::Limits {
            memory_bytes: Some(0),
            pids: None,
            cpu_millis: None,
            memory_swap: None,
            cpu_shares: None,
            cpuset_cpus: None,
        };
        let e = run(&[&scripted("z", vec![Adjustment::SetLimits(zero)], allow)], &spec_as("bob"));
        assert!(denied(&e).1.contains("the memory limit must be at least 1m"), "{e:?}");
    }

    #[test]
    fn spec_checks_a_policy_does_not_want_are_not_called() {
        let mut a = scripted("a", vec![set("A", "1")], |_| Verdict::Deny("never asked".into()));
        a.wants = Interests { mutate_spec: false, validate_spec: false, ..EVERY_CHECK };
        let mut b = scripted("b", vec![set("B", "2")], allow);
        b.wants = Interests { validate_spec: false, ..EVERY_CHECK };
        let e = run(&[&a, &b], &spec_as("bob"));
        let SpecDecision::Allow { spec, .. } = &e.decision else { panic!("{e:?}") };
        assert!(spec.env.contains(&"B=2".to_string()) && !spec.env.contains(&"A=1".to_string()), "{:?}", spec.env);
        assert!(a.mutated.borrow().is_empty() && a.validated.borrow().is_empty());
        assert_eq!((b.mutated.borrow().len(), b.validated.borrow().len()), (1, 0));
        let answers: Vec<(&str, &str)> = e.answers.iter().map(|a| (a.check.as_str(), a.verdict)).collect();
        assert_eq!(answers, [("mutate", "ok"), ("mutate", "ok"), ("validate", "allow"), ("validate", "allow")]);
        let asked: Vec<bool> = e.answers.iter().map(|a| a.asked).collect();
        assert_eq!(asked, [false, true, false, false]);
    }
}
