//! RUN's heredocs, read before the parser crate reads the file. The crate reads a heredoc only
//! where it opens the command (`RUN <<EOF`), one per RUN; BuildKit reads them wherever the shell
//! would (`RUN cat <<EOF > /etc/conf`, `RUN <<A <<B cmd`). So sbx reads every RUN's heredocs
//! itself and hands the crate the file with them masked: each marker's `<<` and each body line
//! blanked byte for byte, so that offsets and line numbers are the same in both texts. COPY's
//! and ADD's heredocs are the crate's; their bodies are only skipped here. Pure.

use super::parse::Heredoc;
use std::collections::BTreeMap;

/// The file as the crate should read it, and the heredocs of each RUN by its first line.
pub struct Masked {
    pub text: String,
    pub runs: BTreeMap<usize, Vec<Heredoc>>,
}

/// A marker in an instruction's text: where its `<<` is (bytes), its word, and how it reads.
struct Marker {
    at: usize,
    word: String,
    strip_tabs: bool,
    expand: bool,
}

/// Masks the RUN heredocs of `text`; Err is (line, message) for a heredoc not ended.
pub fn mask(text: &str) -> Result<Masked, (usize, String)> {
    let escape = escape_char(text);
    let lines: Vec<(usize, &str)> = line_starts(text);
    let mut masked = text.as_bytes().to_vec();
    let mut runs = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let (start, line) = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        // The instruction's physical lines: continued while a line ends with the escape
        // character; comment lines inside are not part of it.
        let first = i;
        let mut logical: Vec<(usize, &str)> = Vec::new();
        loop {
            let (s, l) = lines[i];
            if !(i > first && l.trim_start().starts_with('#')) {
                logical.push((s, l));
            }
            i += 1;
            if !l.trim_end().ends_with(escape) || i >= lines.len() {
                break;
            }
        }
        let keyword = trimmed.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        if !matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            continue;
        }
        let markers: Vec<Marker> = logical
            .iter()
            .enumerate()
            .flat_map(|(n, (s, l))| {
                // The keyword and the flags before the command are not searched.
                let skip = if n == 0 { command_start(l) } else { 0 };
                markers(&l[skip..], escape).into_iter().map(move |m| Marker { at: s + skip + m.at, ..m })
            })
            .collect();
        if keyword == "RUN" && is_exec_form(&logical[0].1[command_start(logical[0].1)..]) {
            continue;
        }
        let mut docs = Vec::new();
        for m in &markers {
            let mut body = String::new();
            loop {
                let Some(&(s, l)) = lines.get(i) else {
                    return Err((
                        first + 1,
                        format!("the heredoc {} is not ended: no line {} follows it", m.word, m.word),
                    ));
                };
                i += 1;
                let l = if m.strip_tabs { l.trim_start_matches('\t') } else { l };
                if keyword == "RUN" {
                    blank(&mut masked, s, lines_end(text, s));
                }
                if l == m.word {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            if keyword == "RUN" {
                masked[m.at..m.at + 2].copy_from_slice(b"  ");
                docs.push(Heredoc { body, expand: m.expand, word: m.word.clone() });
            }
        }
        if !docs.is_empty() {
            runs.insert(text[..start].matches('\n').count() + 1, docs);
        }
    }
    // Only ASCII bytes were written over whole lines or over `<<`: still UTF-8.
    let text = String::from_utf8(masked).expect("masking keeps UTF-8");
    Ok(Masked { text, runs })
}

/// Each line's start (bytes) and text, without its newline.
fn line_starts(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        out.push((start, line.trim_end_matches('\n').trim_end_matches('\r')));
        start += line.len();
    }
    out
}

fn lines_end(text: &str, start: usize) -> usize {
    text[start..].find('\n').map_or(text.len(), |n| start + n)
}

/// Writes spaces over `from..to` (a line: whitespace-only lines are nothing to the crate).
fn blank(bytes: &mut [u8], from: usize, to: usize) {
    bytes[from..to].iter_mut().for_each(|b| *b = b' ');
}

/// The escape directive's character (`# escape=``), else `\`.
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        if let Some((k, v)) = directive.split_once('=')
            && k.trim().eq_ignore_ascii_case("escape")
        {
            return v.trim().chars().next().unwrap_or('\\');
        }
    }
    '\\'
}

/// Where an instruction line's command starts: after the keyword and its `--flags`.
fn command_start(line: &str) -> usize {
    let mut at = line.len() - line.trim_start().len();
    let mut first = true;
    loop {
        let rest = &line[at..];
        let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if !first && !rest.starts_with("--") {
            return at;
        }
        first = false;
        at += word_len;
        at += line[at..].len() - line[at..].trim_start().len();
        if at >= line.len() {
            return at;
        }
    }
}

fn is_exec_form(command: &str) -> bool {
    command.trim_start().starts_with('[')
}

/// The heredoc markers of a command text outside quotes: `<<WORD`, `<<-WORD`, `<<"WORD"`,
/// `<<'WORD'` (quoted: not expanded); `<<<` is a here-string, not a heredoc.
fn markers(text: &str, escape: char) -> Vec<Marker> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(b'"') if b as char == escape => i += 1,
            Some(_) => {}
            None if b as char == escape => i += 1,
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if text[i..].starts_with("<<<") => i += 2,
            None if text[i..].starts_with("<<") => {
                let mut j = i + 2;
                let strip_tabs = bytes.get(j) == Some(&b'-');
                j += usize::from(strip_tabs);
                let quoted = bytes.get(j).filter(|c| **c == b'"' || **c == b'\'').copied();
                j += usize::from(quoted.is_some());
                let len = text[j..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - j);
                if len > 0 {
                    let word = text[j..j + len].to_string();
                    out.push(Marker { at: i, word, strip_tabs, expand: quoted.is_none() });
                    i = j + len + usize::from(quoted.is_some());
                    continue;
                }
            }
            None => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(word: &str, body: &str, expand: bool) -> Heredoc {
        Heredoc { body: body.into(), expand, word: word.into() }
    }

    #[test]
    fn heredocs_anywhere_in_a_run_are_read_and_masked_in_place() {
        let text = "FROM x\nRUN cat <<EOF > /one && cat <<-'B' >> /one\nhello $X\nEOF\n\tworld\n\tB\nRUN true\n";
        let m = mask(text).unwrap();
        assert_eq!(m.text.len(), text.len());
        assert_eq!(m.runs[&2], [doc("EOF", "hello $X\n", true), doc("B", "world\n", false)]);
        assert_eq!(m.text, "FROM x\nRUN cat   EOF > /one && cat   -'B' >> /one\n        \n   \n      \n  \nRUN true\n");
    }

    #[test]
    fn quoted_markers_here_strings_exec_forms_and_copy_bodies_are_not_runs_heredocs() {
        let text =
            "FROM x\nRUN echo '<<A' \"<<B\" <<<here\nRUN [\"sh\", \"-c\", \"cat <<E\"]\nCOPY <<EOF /f\nRUN no\nEOF\n";
        let m = mask(text).unwrap();
        assert!(m.runs.is_empty());
        assert_eq!(m.text, text, "COPY's heredoc is the crate's to read");
    }

    #[test]
    fn flags_continuations_and_the_escape_directive_are_followed() {
        let text = "# escape=`\nFROM x\nRUN --network=none `\n  cat <<EOF `\n  > /f\nbody\nEOF\n";
        let m = mask(text).unwrap();
        assert_eq!(m.runs[&3], [doc("EOF", "body\n", true)]);
        let e = mask("FROM x\nRUN cat <<EOF\nno end\n").err().unwrap();
        assert_eq!(e, (2, "the heredoc EOF is not ended: no line EOF follows it".to_string()));
    }
}
