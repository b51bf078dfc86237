//! Headers as they cross between the Worker's JavaScript shell and Rust for a request answered
//! at once (src/edge, `AtOnce`): each name and each value followed by a line feed,
//! `name\nvalue\n…`. A line feed is in neither: the Fetch standard's header values exclude
//! it (and CR and NUL), the runtime's `Headers` refuse it, a name is a token, and `http`'s
//! `HeaderValue` refuses control characters. Read by splitting, written by appending: no JSON
//! reader or writer on the path of an isolate's first request, which compiles every function
//! it runs (docs/performance.md, *Cold start*).

/// `headers` as header lines. A value that is not visible ASCII is left out, as the JSON
/// crossing before them did (keyedge's own headers are ASCII; a redirect URI registered with
/// a raw non-ASCII character would lose its `Location`, failing closed).
pub fn write(headers: &http::HeaderMap) -> String {
    let mut lines = String::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            push(&mut lines, name.as_str(), value);
        }
    }
    lines
}

/// One header's line pair onto `lines`.
fn push(lines: &mut String, name: &str, value: &str) {
    lines.push_str(name);
    lines.push('\n');
    lines.push_str(value);
    lines.push('\n');
}

/// `(name, value)` pairs as header lines, in order; `None` when a name or value holds a line
/// break, which would read as other headers (neither `http` nor the runtime's headers can hold
/// one): the caller fails rather than send some of the headers.
pub fn write_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Option<String> {
    let mut lines = String::new();
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        if name.contains('\n') || value.contains('\n') {
            return None;
        }
        push(&mut lines, name, value);
    }
    Some(lines)
}

/// The `(name, value)` pairs of header lines, in order; `None` unless every name has its
/// value and the last one its line feed (nothing is guessed from a malformed list).
pub fn read(lines: &str) -> Option<Vec<(&str, &str)>> {
    let body = match lines.strip_suffix('\n') {
        Some(body) => body,
        None if lines.is_empty() => return Some(Vec::new()),
        None => return None,
    };
    let mut parts = body.split('\n');
    let mut pairs = Vec::new();
    while let Some(name) = parts.next() {
        pairs.push((name, parts.next()?));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_written_whole_or_not_at_all() {
        let lines = write_pairs(&[("a", "1"), ("b", "")]);
        assert_eq!(lines.as_deref(), Some("a\n1\nb\n\n"));
        assert_eq!(read(lines.as_deref().unwrap_or_default()), Some(vec![("a", "1"), ("b", "")]));
        // A value that would read as a second header fails the whole list.
        assert_eq!(write_pairs(&[("a", "1"), ("x-note", "v\nset-cookie\nkeyedge_session=y")]), None);
        assert_eq!(write_pairs(&[("a\nb", "1")]), None);
        assert_eq!(write_pairs::<&str, &str>(&[]).as_deref(), Some(""));
    }

    #[test]
    fn headers_read_back_as_written_in_order_with_repeats_and_empty_values() {
        let mut headers = http::HeaderMap::new();
        headers.append("set-cookie", "a=1; Path=/".parse().unwrap());
        headers.append("set-cookie", "b=2".parse().unwrap());
        headers.append("x-empty", "".parse().unwrap());
        headers.append("location", "/login?return_to=%2F".parse().unwrap());
        let lines = write(&headers);
        let read = read(&lines).unwrap();
        let written: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(read, written);
        assert_eq!(super::read("").unwrap(), vec![]);
    }

    #[test]
    fn a_value_that_is_not_visible_ascii_is_left_out() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-latin", http::HeaderValue::from_bytes(b"caf\xe9").unwrap());
        headers.append("x-ok", "yes".parse().unwrap());
        assert_eq!(write(&headers), "x-ok\nyes\n");
    }

    #[test]
    fn malformed_lines_are_refused_not_guessed() {
        for malformed in ["cookie", "cookie\n", "cookie\na=1", "cookie\na=1\nhost\n", "\n"] {
            assert_eq!(read(malformed), None, "{malformed:?}");
        }
        // A name whose value is empty is a pair, not a shifted list.
        assert_eq!(read("x-a\n\ncookie\na=1\n").unwrap(), vec![("x-a", ""), ("cookie", "a=1")]);
    }
}
