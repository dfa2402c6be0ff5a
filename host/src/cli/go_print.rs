//! Values printed as Go's text/template prints them: gtmpl prints a list or a map whole in Rust's
//! debug form (`[String("a")]`), where docker's templates print `[a b]` and `map[k:v]`. gtmpl
//! offers no hook for printing, so each action that prints gets `| _print` at its end
//! ([`printing_as_go`]), and `_print` ([`go_print`]) turns its value into Go's text.

use gtmpl::{FuncError, Value};

/// The function the rewritten actions end in.
pub const PRINT: &str = "_print";

/// Words that begin actions that print nothing of their own.
const KEYWORDS: [&str; 10] = ["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"];

/// `text` with `| _print` at the end of every action that prints a value (not control structures,
/// comments or variable declarations). A text it cannot follow (an action left open) comes back as
/// it was.
pub fn printing_as_go(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let inside = &rest[open + 2..];
        let Some(close) = action_end(inside) else { return text.to_string() };
        out.push_str(&rest[..open]);
        out.push_str("{{");
        out.push_str(&printing(&inside[..close]));
        out.push_str("}}");
        rest = &inside[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Where the action that `s` begins ends: the byte of its `}}`, outside quotes and comments.
fn action_end(s: &str) -> Option<usize> {
    let body = s.strip_prefix('-').unwrap_or(s).trim_start();
    if body.starts_with("/*") {
        let comment_end = s.find("*/")? + 2;
        return s[comment_end..].find("}}").map(|i| comment_end + i);
    }
    let bytes = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == b'\\' && q != b'`' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if matches!(b, b'"' | b'`' | b'\'') => quote = Some(b),
            None if bytes[i..].starts_with(b"}}") => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// One action's inside, ending in `| _print` when it prints a value.
fn printing(inside: &str) -> String {
    let lead = if inside.starts_with("- ") { "- " } else { "" };
    let trail = if inside.ends_with(" -") && inside.len() > 2 { " -" } else { "" };
    let core = inside[lead.len()..inside.len() - trail.len()].trim();
    let first = core.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let mut words = core.split_whitespace();
    let declares = first.starts_with('$') && (first.contains('=') || matches!(words.nth(1), Some(":=" | "=")));
    if core.is_empty() || core.starts_with("/*") || KEYWORDS.contains(&first) || declares {
        return inside.to_string();
    }
    format!("{lead}{core} | {PRINT}{trail}")
}

/// `_print`: its one value as Go's `fmt.Print` shows it.
pub fn go_print(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [v] => Ok(Value::String(go_text(v))),
        _ => Err(FuncError::ExactlyXArgs(PRINT.into(), 1)),
    }
}

fn go_text(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_text).collect::<Vec<_>>().join(" ")),
        Value::Object(m) | Value::Map(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let pairs: Vec<String> = keys.into_iter().map(|k| format!("{k}:{}", go_text(&m[k]))).collect();
            format!("map[{}]", pairs.join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_that_print_end_in_print() {
        assert_eq!(printing_as_go("a {{.X}} b {{- .Y -}}"), "a {{.X | _print}} b {{- .Y | _print -}}");
        assert_eq!(printing_as_go("{{json .X | lower}}"), "{{json .X | lower | _print}}");
        let kept = "{{range $i, $v := .X}}{{if .Y}}{{else}}{{end}}{{end}}{{/* a }} comment */}}{{$x := .Z}}";
        assert_eq!(printing_as_go(kept), kept);
        assert_eq!(printing_as_go(r#"{{index .L "}}"}}"#), r#"{{index .L "}}" | _print}}"#);
        assert_eq!(printing_as_go("{{.X"), "{{.X", "left as it was");
    }

    #[test]
    fn lists_and_maps_print_as_gos() {
        let list = Value::Array(vec![Value::String("a=1".into()), Value::from(2u64)]);
        assert_eq!(go_text(&list), "[a=1 2]");
        let map = Value::Object([("b".to_string(), list), ("a".to_string(), Value::Nil)].into_iter().collect());
        assert_eq!(go_text(&map), "map[a:<nil> b:[a=1 2]]");
        assert_eq!(go_text(&Value::Object(Default::default())), "map[]");
    }
}
