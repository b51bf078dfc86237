//! The one spelling of a site path that the gate checks and forwards.
//!
//! Servers read a path in different ways: nginx decodes `%2F` and resolves `..` after
//! decoding, Workers Static Assets decodes escapes, Tomcat and Spring drop `;parameters`,
//! IIS ignores case. Were the gate to match the raw path, any of those readings would reach a
//! protected page under another spelling. So a request path becomes a [`SitePath`] first:
//! escapes of unreserved characters decoded (RFC 3986 §6.2.2.2), other escapes in upper case
//! (§6.2.2.1), dot segments resolved (§5.2.4, `%2E` included), `//` collapsed; and a spelling
//! that servers disagree on (an encoded `/`, any `\`, control characters, malformed escapes,
//! bytes that are not UTF-8, a dot segment with parameters) is refused. Rules match the
//! decoded form of that path, and that very path is what the site is sent.

use std::fmt;

use percent_encoding::percent_decode_str;

/// A request path in canonical form: it starts with `/`, has no empty, `.` or `..` segment,
/// and every `%` starts an upper-case escape of a byte that is not an unreserved character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePath(String);

/// Why a path has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    NotAbsolute,
    /// `%2F`: some servers read it as a segment separator, others not.
    EncodedSlash,
    /// `\` or `%5C`: a separator on Windows servers and in WHATWG URL parsing.
    Backslash,
    /// NUL, line breaks and other control characters, raw or escaped.
    ControlCharacter,
    /// `%` not followed by two hexadecimal digits.
    MalformedEscape,
    /// Escapes that do not decode to UTF-8.
    NotUtf8,
    /// `..;x` or `.;x`: a dot segment to servers that drop path parameters, a name to others.
    DotSegmentWithParameters,
    /// A character that a URL path carries percent-encoded (`?`, `#`, a space, non-ASCII).
    MustBeEncoded(char),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAbsolute => f.write_str("the path does not start with /"),
            Self::EncodedSlash => f.write_str("it has an encoded slash (%2F)"),
            Self::Backslash => f.write_str("it has a backslash (\\ or %5C)"),
            Self::ControlCharacter => f.write_str("it has a control character (such as %00 or a line break)"),
            Self::MalformedEscape => f.write_str("a % is not followed by two hexadecimal digits"),
            Self::NotUtf8 => f.write_str("its escapes are not UTF-8"),
            Self::DotSegmentWithParameters => f.write_str("it has a . or .. segment with ;parameters"),
            Self::MustBeEncoded(c) => write!(f, "the character {c:?} must be percent-encoded"),
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Checks one byte of the path, raw or decoded from an escape.
fn check_byte(b: u8) -> Result<(), PathError> {
    match b {
        b'\\' => Err(PathError::Backslash),
        0..=0x1f | 0x7f => Err(PathError::ControlCharacter),
        _ => Ok(()),
    }
}

impl SitePath {
    /// The canonical form of the path of a request (without its query).
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if !raw.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        // Escapes of unreserved characters decoded, the others in upper case.
        let mut spelled = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(c) = rest.chars().next() {
            if c == '%' {
                let hex = rest.get(1..3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else { return Err(PathError::MalformedEscape) };
                // Decoded by the crate; two hex digits always make one byte.
                let Some(b) = percent_decode_str(&rest[..3]).next() else { return Err(PathError::MalformedEscape) };
                if b == b'/' {
                    return Err(PathError::EncodedSlash);
                }
                check_byte(b)?;
                if is_unreserved(b) {
                    spelled.push(char::from(b));
                } else {
                    spelled.push('%');
                    spelled.push_str(&hex.to_ascii_uppercase());
                }
                rest = &rest[3..];
                continue;
            }
            if !c.is_ascii() || matches!(c, ' ' | '?' | '#') {
                return Err(PathError::MustBeEncoded(c));
            }
            check_byte(c as u8)?;
            spelled.push(c);
            rest = &rest[1..];
        }
        // Whole escaped sequences must be UTF-8, and no decoded character a control one.
        let decoded = percent_decode_str(&spelled).decode_utf8().map_err(|_| PathError::NotUtf8)?;
        if decoded.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        // Dot segments resolved and empty segments dropped; a path that ended in a directory
        // (`/`, `/.`, `/..`) still does.
        let mut segments: Vec<&str> = Vec::new();
        let mut directory = false;
        for segment in spelled.split('/').skip(1) {
            let name = decode(segment);
            if let Some((before, _)) = name.split_once(';') {
                if before == "." || before == ".." {
                    return Err(PathError::DotSegmentWithParameters);
                }
            }
            directory = matches!(segment, "" | "." | "..");
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                s => segments.push(s),
            }
        }
        let mut path = String::with_capacity(spelled.len());
        for s in &segments {
            path.push('/');
            path.push_str(s);
        }
        if directory || segments.is_empty() {
            path.push('/');
        }
        Ok(Self(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What rules are matched against: the path fully decoded (a valid [`SitePath`] always
    /// decodes), each segment without its `;parameters` (`%3B` too: servers differ on which
    /// they cut), folded case for an origin that ignores case.
    pub fn match_key(&self, case_insensitive: bool) -> String {
        let key = self
            .0
            .split('/')
            .map(|s| {
                let mut name = decode(s);
                name.truncate(name.find(';').unwrap_or(name.len()));
                name
            })
            .collect::<Vec<_>>()
            .join("/");
        if case_insensitive {
            // Through upper case first, as origins that ignore case compare (Java's
            // equalsIgnoreCase, .NET's OrdinalIgnoreCase, NTFS): `ſ` is `S` there and `ı` is
            // `I`, so `/ſtaff/` must be `/staff/` here too.
            key.to_uppercase().to_lowercase()
        } else {
            key
        }
    }
}

impl fmt::Display for SitePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> Result<String, PathError> {
        SitePath::parse(raw).map(|p| p.0)
    }

    #[test]
    fn spellings_of_one_path_have_one_canonical_form() {
        for (raw, expected) in [
            ("/", "/"),
            ("//", "/"),
            ("/staff", "/staff"),
            ("//staff/", "/staff/"),
            ("/%73taff/", "/staff/"),
            ("/public/../staff/", "/staff/"),
            ("/public/%2E%2e/staff/", "/staff/"),
            ("/./staff/", "/staff/"),
            ("/staff/./", "/staff/"),
            ("/staff/.", "/staff/"),
            ("/staff/a/..", "/staff/"),
            ("/../../staff", "/staff"),
            ("/a/.b/..c/b..", "/a/.b/..c/b.."),
            ("/%7Eu/%5f%2D%2e", "/~u/_-."),
            ("/caf%c3%a9%20x", "/caf%C3%A9%20x"),
            ("/a;b=c/d", "/a;b=c/d"),
            ("/a|b*", "/a|b*"),
        ] {
            assert_eq!(canonical(raw).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn ambiguous_spellings_are_refused() {
        for (raw, expected) in [
            ("staff", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("/staff%2F", PathError::EncodedSlash),
            ("/%2fstaff", PathError::EncodedSlash),
            ("/a\\b", PathError::Backslash),
            ("/a%5cb", PathError::Backslash),
            ("/a%00", PathError::ControlCharacter),
            ("/a\0", PathError::ControlCharacter),
            ("/a%0d%0a", PathError::ControlCharacter),
            ("/a\t", PathError::ControlCharacter),
            ("/a%7F", PathError::ControlCharacter),
            ("/a%C2%85", PathError::ControlCharacter),
            ("/a%", PathError::MalformedEscape),
            ("/a%4", PathError::MalformedEscape),
            ("/a%zz", PathError::MalformedEscape),
            ("/a%+1", PathError::MalformedEscape),
            ("/%FF", PathError::NotUtf8),
            ("/%C3%28", PathError::NotUtf8),
            ("/%C3", PathError::NotUtf8),
            ("/public/..;/staff/", PathError::DotSegmentWithParameters),
            ("/public/.;x/staff/", PathError::DotSegmentWithParameters),
            ("/public/%2E%2E%3B/staff/", PathError::DotSegmentWithParameters),
            ("/a b", PathError::MustBeEncoded(' ')),
            ("/a?b", PathError::MustBeEncoded('?')),
            ("/a#b", PathError::MustBeEncoded('#')),
            ("/café", PathError::MustBeEncoded('é')),
        ] {
            assert_eq!(canonical(raw), Err(expected), "{raw}");
        }
    }

    #[test]
    fn the_match_key_is_decoded_without_parameters() {
        let key = |raw: &str, ci| SitePath::parse(raw).map(|p| p.match_key(ci)).unwrap();
        assert_eq!(key("/St%61ff;jsessionid=1/x%3By/caf%C3%A9/", false), "/Staff/x/café/");
        assert_eq!(key("/St%61ff;jsessionid=1/x%3By/caf%C3%89/", true), "/staff/x/café/");
        assert_eq!(key("/a%3Fb", false), "/a?b");
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point() {
        for raw in ["/a/%C3%A9/b;c", "/x/", "/", "/%20/~"] {
            let once = canonical(raw).unwrap();
            assert_eq!(canonical(&once).unwrap(), once);
        }
    }
}
