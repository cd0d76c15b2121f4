//! Account inputs parsed into domain types at the edge; each refusal says what would pass.

use unicode_normalization::UnicodeNormalization;

use crate::error::{ApiError, ApiResult};

/// A username: 3 to 32 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses `raw` (surrounding spaces ignored).
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let name = raw.trim();
        let ok_chars = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        let ok_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if !(3..=32).contains(&name.len()) || !ok_chars || !ok_start {
            return Err(ApiError::bad_input(
                "username",
                "a username is 3 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address of ordinary shape: `local@domain.tld`, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses `raw` (surrounding spaces ignored).
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let email = raw.trim();
        let refuse = || ApiError::bad_input("email", "that is not an email address");
        if email.len() > 254 {
            return Err(ApiError::bad_input(
                "email",
                "an email address has at most 254 characters",
            ));
        }
        let (local, domain) = email.split_once('@').ok_or_else(refuse)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&*+/=?^_`{|}~.-".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.');
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !local_ok || !domain_ok {
            return Err(refuse());
        }
        Ok(Self(email.to_owned()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 10 to 72 bytes (bcrypt's limit), not the username.
pub struct Password(String);

impl Password {
    /// Parses a new password for `username`.
    pub fn parse(raw: &str, username: &Username) -> ApiResult<Self> {
        if raw.chars().count() < 10 {
            return Err(ApiError::bad_input(
                "password",
                "a password has at least 10 characters",
            ));
        }
        if raw.len() > 72 {
            return Err(ApiError::bad_input(
                "password",
                "a password has at most 72 bytes",
            ));
        }
        if raw.trim().eq_ignore_ascii_case(username.as_str()) {
            return Err(ApiError::bad_input(
                "password",
                "the password may not be the username",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// Characters that show nothing or turn the direction of the text around them: a name with
/// them can pass for another, or reverse what is shown after it.
fn invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

impl DisplayName {
    /// Parses `raw` (surrounding spaces ignored), in Unicode's composed form (NFC), so one
    /// name is stored one way.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let name: String = raw.trim().nfc().collect();
        let count = name.chars().count();
        if !(1..=64).contains(&count) || name.chars().any(char::is_control) {
            return Err(ApiError::bad_input(
                "displayName",
                "a display name is 1 to 64 characters without control characters",
            ));
        }
        if name.chars().any(invisible_or_bidi) {
            return Err(ApiError::bad_input(
                "displayName",
                "a display name may not hold invisible or direction-changing characters",
            ));
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Two ASCII letters, as in country and language codes.
fn two_letters(raw: &str, field: &'static str, message: &str) -> ApiResult<String> {
    let code = raw.trim();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ApiError::bad_input(field, message));
    }
    Ok(code.to_owned())
}

/// An ISO 3166-1 alpha-2 country code, stored upper case.
pub fn parse_country(raw: &str) -> ApiResult<String> {
    two_letters(raw, "country", "a country is a 2-letter code such as FI")
        .map(|c| c.to_ascii_uppercase())
}

/// An ISO 639-1 language code, stored lower case.
pub fn parse_language(raw: &str) -> ApiResult<String> {
    two_letters(raw, "language", "a language is a 2-letter code such as en")
        .map(|c| c.to_ascii_lowercase())
}

/// A phone number in international form: `+`, then 6 to 15 digits (spaces and dashes dropped).
pub fn parse_phone(raw: &str) -> ApiResult<String> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    if !(6..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::bad_input(
            "phone",
            "a phone number is + and 6 to 15 digits, such as +358401234567",
        ));
    }
    Ok(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_composed_and_without_invisible_or_bidi_characters() {
        // "é" as e + combining acute is stored composed.
        let composed = DisplayName::parse("Rene\u{301}")
            .ok()
            .map(DisplayName::into_inner);
        assert_eq!(composed.as_deref(), Some("Ren\u{e9}"));
        for bad in [
            "admin\u{202E}nimda",
            "ad\u{200B}min",
            "\u{2067}name",
            "name\u{FEFF}",
            "x\u{E0041}",
            "a\u{0000}b",
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DisplayName::parse("Ääkkönen 🎮").is_ok());
    }

    #[test]
    fn usernames() {
        for good in ["abc", "Player_1", "a.b-c", "x".repeat(32).as_str()] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "_abc",
            "has space",
            "robert'); DROP TABLE users;--",
            "ümlaut",
            "x".repeat(33).as_str(),
            "",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "plain",
            "a@b",
            "@b.co",
            "a@-b.co",
            "a b@c.de",
            "a@b..co",
            ".a@b.co",
            "x' OR 1=1 --@b.co",
            &format!("{}@b.co", "a".repeat(250)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        let name = Username::parse("player1").expect("valid");
        assert!(Password::parse("long enough!", &name).is_ok());
        assert!(Password::parse("short", &name).is_err());
        assert!(Password::parse("PLAYER1", &name).is_err());
        let long_name = Username::parse("playerone10").expect("valid");
        assert!(Password::parse("PlayerOne10", &long_name).is_err());
        assert!(Password::parse(&"x".repeat(73), &name).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-value", &name).expect("ok")),
            "Password(***)"
        );
    }

    #[test]
    fn small_fields() {
        assert_eq!(parse_country("fi").ok().as_deref(), Some("FI"));
        assert!(parse_country("FIN").is_err());
        assert_eq!(parse_language("EN").ok().as_deref(), Some("en"));
        assert!(parse_language("e1").is_err());
        assert_eq!(
            parse_phone("+358 40-123 4567").ok().as_deref(),
            Some("+358401234567")
        );
        assert!(parse_phone("0401234567").is_err());
        assert!(DisplayName::parse("  ").is_err());
        assert!(DisplayName::parse("bell\u{7}").is_err());
        assert!(DisplayName::parse("Ninja 🥷").is_ok());
    }
}
