//! What a plugin says, made safe to show: bounded in length and in count, with control and
//! formatting characters escaped, so that a plugin can neither flood the terminal nor forge a line
//! that looks like sbx's or another plugin's (a newline, a carriage return, an escape sequence, a
//! right-to-left override). Pure.

/// Characters of a deny reason, a settings error or a plugin's last words.
pub const REASON: usize = 2000;
/// Characters of one finding, and findings of one layer check.
pub const FINDING: usize = 500;
pub const FINDINGS: usize = 64;

/// Whether `c` must not reach a terminal as it is: control characters (C0, DEL, C1) and the
/// invisible formatting ones that reorder or hide text.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `s` with unsafe characters escaped (`\n`, `\u{1b}`), cut after `max` characters with a note of
/// how much was left out.
pub fn text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 16);
    for (shown, (at, c)) in s.char_indices().enumerate() {
        if shown == max {
            out.push_str(&format!("... ({} more bytes)", s.len() - at));
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// At most [`FINDINGS`] findings, each made safe, and a last line saying how many were left out.
pub fn findings(all: Vec<String>) -> Vec<String> {
    let more = all.len().saturating_sub(FINDINGS);
    let mut out: Vec<String> = all.iter().take(FINDINGS).map(|f| text(f, FINDING)).collect();
    if more > 0 {
        out.push(format!("... and {more} more findings"));
    }
    out
}

/// Why a plugin failed, from what it wrote on stderr, made safe to show, its lines joined by
/// ` | `: a Rust panic (from its `panicked at` line), a Python traceback (its frames and the
/// exception, without componentize-py's own panic after it), a JavaScript exception as the
/// JavaScript SDK writes it (`Uncaught`, its type, message and frames, without the runtime's
/// own report after it: the bare message, `Stack:` and every frame) or as the runtime alone
/// writes it, or else the last line.
pub fn last_words(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with") && !l.starts_with("Redirecting call to abort()"))
        .collect();
    let from = |marker: &str| lines.iter().rposition(|l| l.contains(marker));
    let words: &[&str] = if let Some(start) = from("Traceback (most recent call last):") {
        let rest = &lines[start..];
        &rest[..rest.iter().position(|l| l.contains("panicked at")).unwrap_or(rest.len())]
    } else if let Some(start) = from("Uncaught ") {
        let rest = &lines[start..];
        &rest[..rest.iter().position(|l| *l == "Stack:").map_or(rest.len(), |s| s.saturating_sub(1).max(1))]
    } else if let Some(stack) = lines.iter().rposition(|l| *l == "Stack:") {
        &lines[stack.saturating_sub(1)..]
    } else if let Some(start) = from("panicked at") {
        &lines[start..]
    } else {
        &lines[lines.len().saturating_sub(1)..]
    };
    (!words.is_empty()).then(|| text(&words.join(" | "), REASON))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_length_is_bounded() {
        assert_eq!(
            text("a\nsbx: policy x: allowed\r\u{1b}[2J\u{202e}z", 100),
            "a\\nsbx: policy x: allowed\\r\\u{1b}[2J\\u{202e}z"
        );
        assert_eq!(text("héllo wörld", 5), "héllo... (7 more bytes)");
        assert_eq!(text("fine", 4), "fine");
        let huge = "x".repeat(100 << 20);
        assert!(text(&huge, REASON).len() < REASON + 40);
    }

    #[test]
    fn last_words_keep_a_panic_a_traceback_or_the_last_line() {
        let rust = "thread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(last_words(rust).unwrap(), "thread '<unnamed>' panicked at src/lib.rs:3:5: | boom");
        let python = "Traceback (most recent call last):\n  File \"/app.py\", line 12, in check_image\n    raise KeyError(\"x\")\nKeyError: 'x'\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1280:25:\nPython function threw an unexpected exception\n";
        assert_eq!(
            last_words(python).unwrap(),
            "Traceback (most recent call last): | File \"/app.py\", line 12, in check_image | raise KeyError(\"x\") | KeyError: 'x'"
        );
        let js = "x is undefined\nStack:\n  checkImage@app.js:5:9\nRedirecting call to abort() to mozalloc_abort\n";
        assert_eq!(last_words(js).unwrap(), "x is undefined | Stack: | checkImage@app.js:5:9");
        let sdk = format!("Uncaught TypeError: x is undefined\n    checkImage@app.js:5:9\n{js}");
        assert_eq!(last_words(&sdk).unwrap(), "Uncaught TypeError: x is undefined | checkImage@app.js:5:9");
        assert_eq!(last_words("one\ntwo\n\n").unwrap(), "two");
        assert_eq!(last_words("\n"), None);
    }

    #[test]
    fn findings_are_bounded_in_count() {
        let f = findings((0..1_000_000).map(|i| format!("finding {i}")).collect());
        assert_eq!(f.len(), FINDINGS + 1);
        assert_eq!(f.last().map(String::as_str), Some("... and 999936 more findings"));
    }
}
