//! Which stages of a Dockerfile a build makes: the target and those it needs, by their `AS`
//! names or indexes. Pure.

use crate::dockerfile::{Dockerfile, Instruction};

/// The stage `name` names (its `AS` name, case-insensitively, or its index) among the first
/// `before` of `names`.
pub fn find(names: &[Option<String>], name: &str, before: usize) -> Option<usize> {
    let lower = name.to_lowercase();
    names[..before]
        .iter()
        .position(|n| n.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
}

/// The stages the target needs: itself and those its FROM lines and `COPY --from` name, in order.
/// Pure.
pub fn needed(dockerfile: &Dockerfile, bases: &[String], target: usize) -> Vec<bool> {
    let names: Vec<Option<String>> = dockerfile.stages.iter().map(|s| s.name.clone()).collect();
    let find = |name: &str, before: usize| find(&names, name, before);
    let mut need = vec![false; dockerfile.stages.len()];
    need[target] = true;
    for i in (0..=target).rev() {
        if !need[i] {
            continue;
        }
        if let Some(j) = find(&bases[i], i) {
            need[j] = true;
        }
        for step in &dockerfile.stages[i].steps {
            if let Instruction::Copy(t) | Instruction::Add(t) = &step.instruction
                && let Some((_, Some(from))) = t.flags.iter().find(|(k, _)| k == "from")
                && let Some(j) = find(from, i)
            {
                need[j] = true;
            }
        }
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stages_the_target_needs_are_built() {
        let d = crate::dockerfile::parse(
            "Dockerfile",
            "FROM busybox AS tools\nRUN true\nFROM busybox AS unused\nRUN true\nFROM tools AS build\nRUN make\n\
             FROM scratch\nCOPY --from=build /out /\nFROM busybox AS other\n",
        )
        .unwrap();
        let bases: Vec<String> = d.stages.iter().map(|s| s.base.clone()).collect();
        assert_eq!(needed(&d, &bases, 3), [true, false, true, true, false]);
        assert_eq!(needed(&d, &bases, 1), [false, true, false, false, false]);
        assert_eq!(needed(&d, &bases, 4), [false, false, false, false, true]);
    }
}
