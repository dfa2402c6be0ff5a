//! `--format`, as docker's verbs take it: `table` (the verb's own columns), `json` (one object per
//! line), or a Go template (`'{{.Names}}'`, `'table {{.ID}}\t{{.Status}}'`) over the same objects,
//! with docker's field names. The template language is Go's text/template, run by the gtmpl
//! crate; sbx adds docker's functions (json, lower, upper, title, join, split, truncate), and prints
//! lists and maps as Go does ([`super::go_print`]).

use super::go_print;
use gtmpl::{FuncError, Template, Value};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    Table,
    Json,
    /// A template, checked when parsed; `table` when it began with `table ` (a header row, and
    /// cells split at tabs and aligned).
    Template {
        table: bool,
        text: String,
    },
}

/// `--format`'s value parser: Err names the template's problem and its column.
pub fn parse(arg: &str) -> Result<Format, String> {
    match arg {
        "table" | "" => return Ok(Format::Table),
        "json" => return Ok(Format::Json),
        _ => {}
    }
    let (table, text) = match arg.strip_prefix("table ") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    // As docker's: `\t` and `\n` written in the shell's quotes are a tab and a newline.
    let text = text.replace("\\t", "\t").replace("\\n", "\n");
    template(&text)?;
    Ok(Format::Template { table, text })
}

/// The template of `text`, its errors those of the text as written; it runs with each printed
/// value in Go's form.
fn template(text: &str) -> Result<Template, String> {
    let parse = |text: &str| {
        let mut t = Template::default();
        t.add_funcs(&FUNCS);
        t.add_func(go_print::PRINT, go_print::go_print);
        t.parse(text).map(|()| t).map_err(|e| e.to_string())
    };
    let written = parse(text).map_err(|e| bad_template(text, &e))?;
    Ok(parse(&go_print::printing_as_go(text)).unwrap_or(written))
}

/// gtmpl's message without its line prefix, with the column where the thing it names is.
fn bad_template(text: &str, message: &str) -> String {
    let message = match message.strip_prefix("template: :") {
        Some(rest) => rest.split_once(':').map_or(rest, |(_, m)| m),
        None => message,
    };
    let column = if message.contains("EOF") {
        Some(text.chars().count() + 1)
    } else {
        let named = message.strip_prefix("function ").and_then(|m| m.strip_suffix(" not defined"));
        let token = named.or_else(|| message.strip_prefix("unexpected ")?.split_whitespace().next());
        token.and_then(|t| text.find(t)).map(|byte| text[..byte].chars().count() + 1)
    };
    match column {
        Some(c) => format!("bad template at column {c}: {message}"),
        None => format!("bad template: {message}"),
    }
}

const FUNCS: [(&str, gtmpl::Func); 7] = [
    ("json", json),
    ("lower", lower),
    ("upper", upper),
    ("title", title),
    ("join", join),
    ("split", split),
    ("truncate", truncate),
];

fn one_string<'a>(name: &str, args: &'a [Value]) -> Result<&'a str, FuncError> {
    match args {
        [Value::String(s)] => Ok(s),
        [_] => Err(FuncError::Generic(format!("{name} takes a string"))),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [v] => Ok(Value::String(to_json(v).to_string())),
        _ => Err(FuncError::ExactlyXArgs("json".into(), 1)),
    }
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(one_string("lower", args)?.to_lowercase()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(one_string("upper", args)?.to_uppercase()))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    let s = one_string("title", args)?;
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        out.extend(if start { c.to_uppercase().collect::<Vec<_>>() } else { vec![c] });
        start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [Value::Array(items), Value::String(sep)] => {
            let words: Vec<String> = items.iter().map(|v| v.to_string()).collect();
            Ok(Value::String(words.join(sep)))
        }
        [_, _] => Err(FuncError::Generic("join takes a list and a separator".into())),
        _ => Err(FuncError::ExactlyXArgs("join".into(), 2)),
    }
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [Value::String(s), Value::String(sep)] => {
            Ok(Value::Array(s.split(sep.as_str()).map(|w| Value::String(w.into())).collect()))
        }
        [_, _] => Err(FuncError::Generic("split takes a string and a separator".into())),
        _ => Err(FuncError::ExactlyXArgs("split".into(), 2)),
    }
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [Value::String(s), Value::Number(n)] => {
            let n = n.as_u64().unwrap_or(0) as usize;
            Ok(Value::String(s.chars().take(n).collect()))
        }
        [_, _] => Err(FuncError::Generic("truncate takes a string and a length".into())),
        _ => Err(FuncError::ExactlyXArgs("truncate".into(), 2)),
    }
}

/// A JSON document as the template sees it: objects have fields (a field they lack is an error,
/// as a Go struct's is), arrays and scalars are themselves.
fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (None, Some(i)) => Value::from(i),
            _ => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        serde_json::Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect::<HashMap<_, _>>())
        }
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::String(s) => s.as_str().into(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into(),
            (None, Some(i)) => i.into(),
            _ => n.as_f64().into(),
        },
        Value::Array(a) => a.iter().map(to_json).collect(),
        Value::Object(o) | Value::Map(o) => o.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
    }
}

/// Renders `text` for each document; Err is the first failure.
pub fn render(text: &str, docs: &[serde_json::Value]) -> Result<Vec<String>, String> {
    let t = template(text)?;
    docs.iter().map(|d| render_one(&t, d)).collect()
}

fn render_one(t: &Template, doc: &serde_json::Value) -> Result<String, String> {
    t.render(&gtmpl::Context::from(to_value(doc))).map_err(|e| match e {
        // gtmpl's message quotes the whole document; the fields it has say more.
        gtmpl::error::ExecError::NoFiledFor(field, _) => {
            let fields: Vec<&str> = doc.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            format!("cannot render the template: no field {field} here (the fields are {})", fields.join(", "))
        }
        e => format!("cannot render the template: {e}"),
    })
}

/// Prints the documents of an `inspect` verb: a JSON array (without a format, or `json`), or each
/// through a template.
pub fn print_documents(format: Option<&Format>, docs: &[serde_json::Value]) -> i32 {
    match format {
        None | Some(Format::Json) | Some(Format::Table) => {
            say!("{}", serde_json::to_string_pretty(docs).expect("json"));
            0
        }
        Some(format) => print(format, docs, &serde_json::Value::Null, || {}),
    }
}

/// Prints `docs` as `format` says, `table` (the verb's own) through `own_table`. A template's
/// header row (with `table `) is the template rendered over `headers`: each field's column name.
pub fn print(
    format: &Format,
    docs: &[serde_json::Value],
    headers: &serde_json::Value,
    own_table: impl FnOnce(),
) -> i32 {
    match format {
        Format::Table => own_table(),
        Format::Json => {
            for d in docs {
                say!("{d}");
            }
        }
        Format::Template { table: false, text } => {
            // Each line as it is made: those before a failure are printed (docker's behaviour).
            let t = match template(text) {
                Ok(t) => t,
                Err(e) => return super::fail(e),
            };
            for d in docs {
                match render_one(&t, d) {
                    Ok(line) => say!("{line}"),
                    Err(e) => return super::fail(e),
                }
            }
        }
        Format::Template { table: true, text } => {
            let lines = match render(text, docs) {
                Ok(lines) => lines,
                Err(e) => return super::fail(e),
            };
            let header = render(text, std::slice::from_ref(headers)).unwrap_or_default();
            let rows: Vec<Vec<String>> =
                header.iter().chain(&lines).map(|l| l.split('\t').map(str::to_string).collect()).collect();
            super::print_table(&rows);
        }
    }
    0
}

/// A verb's own table: the `columns` of the header document, then of each document.
pub fn print_columns(headers: &serde_json::Value, docs: &[serde_json::Value], columns: &[&str]) {
    let cell = |d: &serde_json::Value, c: &str| match &d[c] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let table: Vec<Vec<String>> =
        std::iter::once(headers).chain(docs).map(|d| columns.iter().map(|c| cell(d, c)).collect()).collect();
    super::print_table(&table);
}

/// docker's column name for a field: its words in capitals (`CreatedAt` → `CREATED AT`).
pub fn header_of(field: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = field.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if i > 0 && c.is_uppercase() && (chars[i - 1].is_lowercase() || next_lower) {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// The header row's document: each of `fields` by its column name, except those `names` gives
/// another (docker's `ID` is `CONTAINER ID` in ps).
pub fn headers(fields: &[&str], names: &[(&str, &str)]) -> serde_json::Value {
    let named = |f: &str| names.iter().find(|(k, _)| *k == f).map_or_else(|| header_of(f), |(_, v)| v.to_string());
    fields.iter().map(|f| (f.to_string(), serde_json::Value::String(named(f)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(format: &str, doc: serde_json::Value) -> String {
        match parse(format).unwrap() {
            Format::Template { text, .. } => render(&text, &[doc]).unwrap().remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn formats_are_table_json_or_a_template() {
        assert_eq!(parse("table"), Ok(Format::Table));
        assert_eq!(parse("json"), Ok(Format::Json));
        assert_eq!(
            parse("table {{.ID}}\\t{{.Names}}"),
            Ok(Format::Template { table: true, text: "{{.ID}}\t{{.Names}}".into() })
        );
    }

    #[test]
    fn templates_see_dockers_fields_and_functions() {
        let doc = json!({"Names": "web", "State": {"Status": "running"}, "Args": ["-c", "x"], "Labels": {"a": "1"}});
        assert_eq!(t("{{.Names}}", doc.clone()), "web");
        assert_eq!(t("{{.State.Status}} {{upper .Names}} {{title \"a-b c\"}}", doc.clone()), "running WEB A-B C");
        assert_eq!(
            t("{{json .Args}}|{{join .Args \",\"}}|{{index .Labels \"a\"}}", doc.clone()),
            "[\"-c\",\"x\"]|-c,x|1"
        );
        assert_eq!(t("{{range .Args}}<{{.}}>{{end}}", doc.clone()), "<-c><x>");
        assert_eq!(t("{{json .}}", json!({"b": 1, "a": null})), r#"{"a":null,"b":1}"#);
        assert_eq!(t("{{truncate .Names 2}}{{len (split \"a:b\" \":\")}}", doc.clone()), "we2");
        // Lists and maps print as Go's.
        assert_eq!(
            t("{{.Args}} {{.Labels}} {{.Gone}}", json!({"Args": ["-c", "x"], "Labels": {"a": "1"}, "Gone": null})),
            "[-c x] map[a:1] <nil>"
        );
    }

    #[test]
    fn a_bad_template_is_named_with_its_column() {
        let e = parse("{{.Names | nosuch}}").unwrap_err();
        assert!(e.contains("column 12") && e.contains("function nosuch not defined"), "{e}");
        let e = parse("{{range .X}}").unwrap_err();
        assert!(e.contains("column 13") && e.contains("EOF"), "{e}");
        let doc = json!({"Names": "x"});
        let e = render("{{.Nope}}", &[doc]).unwrap_err();
        assert!(e.contains("Nope"), "{e}");
    }

    #[test]
    fn headers_are_dockers_column_names() {
        assert_eq!(header_of("CreatedAt"), "CREATED AT");
        assert_eq!(header_of("ID"), "ID");
        assert_eq!(header_of("RunningFor"), "RUNNING FOR");
        let h = headers(&["ID", "CreatedAt"], &[("ID", "CONTAINER ID")]);
        assert_eq!(h, json!({"ID": "CONTAINER ID", "CreatedAt": "CREATED AT"}));
    }
}
