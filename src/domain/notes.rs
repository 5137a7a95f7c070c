//! The free-text notes of a conversion event.

use std::fmt;

pub const MAX_NOTES_CHARS: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("notes must be at most {MAX_NOTES_CHARS} characters")]
pub struct NotesTooLong;

/// Personal data may be in it: it is stored and returned, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Notes(String);

impl Notes {
    pub fn parse(text: String) -> Result<Self, NotesTooLong> {
        if text.chars().count() > MAX_NOTES_CHARS {
            return Err(NotesTooLong);
        }
        Ok(Self(text))
    }

    /// Notes as stored, of any length: the limit applies to requests.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Notes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Notes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notes(<{} characters>)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_never_show_in_debug_output() {
        let notes = Notes::parse("Paid in full".to_owned()).unwrap();
        assert_eq!(format!("{notes:?}"), "Notes(<12 characters>)");
    }

    #[test]
    fn notes_are_at_most_5000_characters_not_bytes() {
        assert!(Notes::parse("\u{e9}".repeat(5000)).is_ok());
        assert_eq!(Notes::parse("n".repeat(5001)), Err(NotesTooLong));
        assert_eq!(
            NotesTooLong.to_string(),
            "notes must be at most 5000 characters"
        );
    }

    #[test]
    fn debug_output_never_shows_the_text() {
        let notes = Notes::parse("Client paid in cash".into()).unwrap();
        assert!(!format!("{notes:?}").contains("cash"));
    }
}
