//! The words of a Dockerfile instruction's arguments, as docker's shell lexer reads them: split at
//! unquoted whitespace, quotes removed, `\` escaping the next character outside single quotes,
//! and variables (`$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alternative}`) replaced from
//! the build's environment outside single quotes. Pure.

/// What a variable is, when the build has it.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The words of `text`, variables replaced through `lookup`.
pub fn words(text: &str, lookup: Lookup) -> Result<Vec<String>, String> {
    Lexer { chars: text.chars().collect(), at: 0, lookup }.run(true)
}

/// `text` as one word (WORKDIR, USER...): quotes and escapes removed, variables replaced, its
/// whitespace kept.
pub fn word(text: &str, lookup: Lookup) -> Result<String, String> {
    Ok(Lexer { chars: text.trim().chars().collect(), at: 0, lookup }.run(false)?.concat())
}

/// The body of a heredoc whose delimiter is not quoted (`COPY <<EOF`): its variables replaced and
/// `\$` made `$`, everything else as written (quotes are text here).
pub fn text(text: &str, lookup: Lookup) -> Result<String, String> {
    let mut lexer = Lexer { chars: text.chars().collect(), at: 0, lookup };
    let mut out = String::new();
    while let Some(c) = lexer.next() {
        match c {
            '\\' if lexer.peek() == Some('$') => out.push(lexer.next().unwrap()),
            '$' => out.push_str(&lexer.variable()?),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `KEY=VALUE` words (ENV, LABEL), or the old `KEY VALUE` form (the first word without `=`: the
/// rest of the text is the value, as docker reads `ENV KEY some value`).
pub fn pairs(text: &str, lookup: Lookup) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    let first = text.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let rest = text[first.len()..].trim();
        if first.is_empty() || rest.is_empty() {
            return Err(format!("'{text}' needs KEY=VALUE (or KEY VALUE)"));
        }
        return Ok(vec![(word(first, lookup)?, word(rest, lookup)?)]);
    }
    words(text, lookup)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("'{w}' is not KEY=VALUE")),
        })
        .collect()
}

struct Lexer<'a> {
    chars: Vec<char>,
    at: usize,
    lookup: Lookup<'a>,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.at).copied();
        self.at += 1;
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn run(mut self, split: bool) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut started = false;
        while let Some(c) = self.next() {
            match c {
                c if split && c.is_whitespace() => {
                    if started {
                        out.push(std::mem::take(&mut current));
                        started = false;
                    }
                    continue;
                }
                '\'' => loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("a single quote is not closed".into()),
                    }
                },
                '"' => loop {
                    match self.next() {
                        Some('"') => break,
                        Some('\\') if matches!(self.peek(), Some('"' | '\\' | '$')) => {
                            current.push(self.next().unwrap())
                        }
                        Some('$') => current.push_str(&self.variable()?),
                        Some(c) => current.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                },
                '\\' => current.push(self.next().unwrap_or('\\')),
                // Unquoted and empty, a variable makes no word, as in a shell.
                '$' => match self.variable()? {
                    v if v.is_empty() => continue,
                    v => current.push_str(&v),
                },
                c => current.push(c),
            }
            started = true;
        }
        if started {
            out.push(current);
        }
        Ok(out)
    }

    /// After a `$`: the variable's value (`$` itself when no name follows).
    fn variable(&mut self) -> Result<String, String> {
        let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if self.peek() != Some('{') {
            let start = self.at;
            while self.peek().is_some_and(name_char) {
                self.at += 1;
            }
            let name: String = self.chars[start..self.at].iter().collect();
            return Ok(match name.is_empty() {
                true => "$".into(),
                false => (self.lookup)(&name).unwrap_or_default(),
            });
        }
        self.at += 1;
        let start = self.at;
        while self.peek().is_some_and(name_char) {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        if name.is_empty() {
            return Err("a ${} names no variable".into());
        }
        let value = (self.lookup)(&name);
        match self.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let how = self.next();
                let mut word = String::new();
                let mut depth = 0;
                loop {
                    match self.next() {
                        Some('}') if depth == 0 => break,
                        Some('}') => {
                            depth -= 1;
                            word.push('}');
                        }
                        Some('$') => word.push_str(&self.variable()?),
                        Some('{') => {
                            depth += 1;
                            word.push('{');
                        }
                        Some(c) => word.push(c),
                        None => return Err(format!("${{{name}:... is not closed")),
                    }
                }
                let set = value.filter(|v| !v.is_empty());
                match how {
                    Some('-') => Ok(set.unwrap_or(word)),
                    Some('+') => Ok(if set.is_some() { word } else { String::new() }),
                    _ => Err(format!("${{{name}:...}} takes :- or :+")),
                }
            }
            _ => Err(format!("${{{name} is not closed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("one".into()),
            "SPACED" => Some("a b".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn words_split_at_unquoted_whitespace_with_quotes_and_escapes_removed() {
        let w = |t| words(t, &env).unwrap();
        assert_eq!(w("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(w(r#""a b" 'c d' e\ f"#), ["a b", "c d", "e f"]);
        assert_eq!(w(r#"x"y"'z'"#), ["xyz"]);
        assert_eq!(w(r#""" ''"#), ["", ""]);
        assert_eq!(w(r#""say \"hi\"""#), [r#"say "hi""#]);
        assert!(words("'open", &env).unwrap_err().contains("single quote"));
        assert!(words("\"open", &env).unwrap_err().contains("double quote"));
    }

    #[test]
    fn variables_are_replaced_outside_single_quotes() {
        let w = |t| words(t, &env).unwrap();
        assert_eq!(w("$A ${A} '$A' \"$A\" \\$A"), ["one", "one", "$A", "one", "$A"]);
        assert_eq!(w("$SPACED"), ["a b"], "a value is not split again");
        assert_eq!(w("${NONE}x $NONE \"$NONE\""), ["x", ""]);
        assert_eq!(w("${NONE:-d} ${EMPTY:-d} ${A:-d} ${A:+alt} ${NONE:+alt}x"), ["d", "d", "one", "alt", "x"]);
        assert_eq!(w("${NONE:-${A}}"), ["one"]);
        assert_eq!(w("a$ $"), ["a$", "$"]);
        assert!(words("${A", &env).unwrap_err().contains("not closed"));
        assert!(words("${A:?x}", &env).unwrap_err().contains(":- or :+"));
    }

    #[test]
    fn pairs_take_key_value_words_or_the_old_key_space_value_form() {
        let p = |t| pairs(t, &env).unwrap();
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(p(r#"a=1 b="two words" c=$A"#), [kv("a", "1"), kv("b", "two words"), kv("c", "one")]);
        assert_eq!(p("KEY some value $A"), [kv("KEY", "some value one")]);
        assert_eq!(p("empty="), [kv("empty", "")]);
        assert!(pairs("a=1 b", &env).unwrap_err().contains("'b' is not KEY=VALUE"));
        assert!(pairs("lonely", &env).unwrap_err().contains("needs KEY=VALUE"));
    }

    #[test]
    fn heredoc_text_has_its_variables_replaced_and_its_quotes_kept() {
        let t = |x| text(x, &env).unwrap();
        assert_eq!(t("a=$A '${A}' \"$NONE\"\n\\$A \\n $\n"), "a=one 'one' \"\"\n$A \\n $\n");
        assert!(text("${A", &env).unwrap_err().contains("not closed"));
    }

    #[test]
    fn word_keeps_whitespace() {
        assert_eq!(word(" /srv/$A dir ", &env).unwrap(), "/srv/one dir");
    }
}
