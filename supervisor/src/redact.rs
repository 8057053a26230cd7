//! Secret redaction: every secret value is replaced by `[redacted:NAME]` before an event is written anywhere.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};

/// Secrets shorter than this are not redacted: they would match ordinary words and numbers.
pub(crate) const MIN_SECRET_LEN: usize = 8;

/// Replaces known secret values in event data.
///
/// Each secret is searched as it is, as it appears inside a JSON string (escaped) and written wholly as
/// `\uXXXX` escapes, because agent lines are JSON text and redaction runs on the raw bytes before they are
/// embedded in an event.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    matcher: Option<AhoCorasick>,
    replacements: Vec<Vec<u8>>,
}

impl Redactor {
    /// `secrets` are `(name, value)`; values shorter than `MIN_SECRET_LEN` are ignored.
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut replacements = Vec::new();
        for (name, value) in secrets {
            if value.len() < MIN_SECRET_LEN {
                continue;
            }
            let replacement = format!("[redacted:{name}]").into_bytes();
            let escaped = serde_json::to_string(value).expect("a string always serialises");
            let escaped = &escaped[1..escaped.len() - 1];
            if escaped != value {
                patterns.push(escaped.as_bytes().to_vec());
                replacements.push(replacement.clone());
            }
            // Every character as `\uXXXX`, in either case of hex digit: the form an agent that escapes
            // all of a string (or a JSON encoder asked to) prints. Mixed forms are not matched.
            for upper in [false, true] {
                let unicode: String = value
                    .encode_utf16()
                    .map(|unit| {
                        if upper {
                            format!("\\u{unit:04X}")
                        } else {
                            format!("\\u{unit:04x}")
                        }
                    })
                    .collect();
                patterns.push(unicode.into_bytes());
                replacements.push(replacement.clone());
            }
            patterns.push(value.as_bytes().to_vec());
            replacements.push(replacement);
        }
        if patterns.is_empty() {
            return Self::default();
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .expect("literal patterns of bounded size always build");
        Self {
            matcher: Some(matcher),
            replacements,
        }
    }

    pub(crate) fn redact<'a>(&self, data: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(data);
        };
        if matcher.find(data).is_none() {
            return Cow::Borrowed(data);
        }
        Cow::Owned(matcher.replace_all_bytes(data, &self.replacements))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_plain_and_json_escaped_secrets() {
        let redactor = Redactor::new([
            ("API_KEY", "sk-123456789"),
            ("QUOTED", "pa\"ss\\word"),
            ("SHORT", "abc"),
        ]);
        let out = redactor.redact(br#"{"text":"key sk-123456789 and pa\"ss\\word, abc"}"#);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"text":"key [redacted:API_KEY] and [redacted:QUOTED], abc"}"#
        );
    }

    #[test]
    fn leaves_data_without_secrets_borrowed() {
        let redactor = Redactor::new([("API_KEY", "sk-123456789")]);
        assert!(matches!(redactor.redact(b"nothing here"), Cow::Borrowed(_)));
        assert!(matches!(
            Redactor::default().redact(b"sk-123456789"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn replaces_a_secret_written_as_unicode_escapes() {
        let redactor = Redactor::new([("API_KEY", "sk-123456789")]);
        let lower: String = "sk-123456789"
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let upper = lower.to_uppercase().replace("\\U", "\\u");
        for escaped in [lower, upper] {
            let line = format!(r#"{{"text":"{escaped}"}}"#);
            let out = redactor.redact(line.as_bytes());
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                r#"{"text":"[redacted:API_KEY]"}"#,
                "{line}"
            );
        }
    }
}
