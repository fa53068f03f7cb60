//! `StringMatches` patterns: `*` matches zero or more characters, `\*` is a
//! literal star and `\\` a literal backslash (in JSON text: `"\\*"` and
//! `"\\\\"`). Nothing else is special. The ASL spec calls an unfinished escape
//! a runtime error; we report it, and any other backslash, when the
//! definition is validated instead, so a bad pattern never reaches an execution.

/// A compiled `StringMatches` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The literal pieces between unescaped stars, escapes resolved: a pattern
    /// with `n` stars has `n + 1` pieces (possibly empty).
    pieces: Vec<String>,
}

impl Pattern {
    /// Compile a pattern; the error message says how to fix the escape.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => pieces.push(String::new()),
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => push_char(&mut pieces, e),
                    Some(other) => {
                        return Err(format!(
                            "'{text}' has '\\{other}', which is not an escape: only '\\*' (a literal star) and '\\\\' (a literal backslash) are; write a literal backslash as '\\\\' (\"\\\\\\\\\" in JSON)"
                        ))
                    }
                    None => {
                        return Err(format!(
                            "'{text}' ends with an unfinished escape '\\': write a literal backslash as '\\\\' (\"\\\\\\\\\" in JSON)"
                        ))
                    }
                },
                c => push_char(&mut pieces, c),
            }
        }
        Ok(Pattern {
            text: text.to_string(),
            pieces,
        })
    }

    /// The pattern as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `s` matches the whole pattern.
    pub fn matches(&self, s: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        let Some(mut tail) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        // With `*` as the only wildcard, taking the leftmost occurrence of each
        // middle piece is always safe: it leaves the most room for the rest.
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }
}

fn push_char(pieces: &mut [String], c: char) {
    if let Some(last) = pieces.last_mut() {
        last.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(pattern: &str, s: &str) -> bool {
        Pattern::parse(pattern).expect("valid pattern").matches(s)
    }

    #[test]
    fn spec_examples() {
        assert!(m("foo*.log", "foo23.log"));
        assert!(m("*.log", "zebra.log"));
        assert!(m("foo*.*", "foobar.zebra"));
        assert!(m("log-*.txt", "log-.txt"));
        assert!(!m("log-*.txt", "log-1.txt.gz"));
        assert!(!m("foo*.log", "bar23.log"));
    }

    #[test]
    fn literal_and_star_only() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("*ab*ab", "xxabyyab"));
        assert!(m("*é*", "café au lait"));
    }

    #[test]
    fn escapes() {
        // Pattern text `a\*b` (JSON "a\\*b") matches only the literal `a*b`.
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        // `a\\*` (JSON "a\\\\*"): a literal backslash, then a wildcard.
        assert!(m(r"a\\*", r"a\xyz"));
        assert!(!m(r"a\\*", "axyz"));
        assert!(m(r"\\", r"\"));
        assert!(m(r"*\**", "one*two"));
        assert!(!m(r"*\**", "onetwo"));
    }

    #[test]
    fn bad_escapes_are_rejected() {
        assert!(Pattern::parse(r"abc\")
            .unwrap_err()
            .contains("unfinished escape"));
        assert!(Pattern::parse(r"a\nb")
            .unwrap_err()
            .contains("not an escape"));
    }
}
