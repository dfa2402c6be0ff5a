//! Signals by name or number, as docker's flags take them (`KILL`, `SIGKILL`, `9`). Pure.

/// The number of a signal given as `KILL`, `SIGKILL` or `9` (1 to 64, realtime ones included);
/// None for anything else.
pub fn number(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<nix::sys::signal::Signal>().ok().map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_or_without_sig_and_numbers() {
        assert_eq!(number("KILL"), Some(9));
        assert_eq!(number("sigterm"), Some(15));
        assert_eq!(number("34"), Some(34));
        assert_eq!(number("0"), None);
        assert_eq!(number("65"), None);
        assert_eq!(number("NOPE"), None);
    }
}
