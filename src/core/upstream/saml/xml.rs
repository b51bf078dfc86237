//! Safe intake of SAML XML: a size cap, no DTD at all, node and depth limits, and the
//! helpers that read SAML values without the classic traps (first-text-node truncation,
//! duplicate children, lost lexical prefixes).
//!
//! roxmltree never expands external entities and (0.21, `allow_dtd: false`) refuses a DOCTYPE.
//! keyedge does not rely on that default alone: any `<!DOCTYPE` or `<!ENTITY`, in any letter
//! case and anywhere in the input, is refused here before parsing.

use roxmltree::{Document, Node, ParsingOptions};
use std::fmt;

/// The largest SAML message accepted, in bytes of XML (after base64 / inflate).
pub const MAX_XML_BYTES: usize = 256 * 1024;
/// The most nodes (elements, texts, comments, PIs) in one document.
pub const MAX_NODES: u32 = 20_000;
/// The deepest element nesting accepted (SAML responses are about 8 deep).
pub const MAX_DEPTH: usize = 64;

pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_DS11: &str = "http://www.w3.org/2009/xmldsig11#";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
pub const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Why an XML input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// More than [`MAX_XML_BYTES`].
    TooLarge { len: usize },
    /// A `<!DOCTYPE` or `<!ENTITY` anywhere in the input (DTD, XXE, entity expansion).
    Dtd,
    /// Not well-formed XML, or a roxmltree limit was hit.
    Malformed(String),
    /// More than [`MAX_NODES`] nodes.
    TooManyNodes,
    /// Elements nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A simple-content element (a NameID, an Issuer, ...) holds a comment, a processing
    /// instruction or an element: its text would be ambiguous (CVE-2017-11427 class).
    NotSimpleContent { element: String },
    /// An element that must occur at most once occurs more than once.
    DuplicateChild { element: String },
    /// The lexical prefix of an element or attribute could not be read from the source.
    BadQName,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::TooLarge { len } => write!(f, "the XML is {len} bytes, more than the {MAX_XML_BYTES} accepted"),
            XmlError::Dtd => f.write_str("the XML carries a DTD or an entity declaration, which SAML never needs"),
            XmlError::Malformed(why) => write!(f, "the XML is not well-formed: {why}"),
            XmlError::TooManyNodes => write!(f, "the XML has more than {MAX_NODES} nodes"),
            XmlError::TooDeep => write!(f, "the XML nests elements deeper than {MAX_DEPTH}"),
            XmlError::NotSimpleContent { element } => {
                write!(f, "<{element}> must hold plain text only (no comment, processing instruction or element)")
            }
            XmlError::DuplicateChild { element } => write!(f, "<{element}> occurs more than once"),
            XmlError::BadQName => f.write_str("a qualified name could not be read from the XML source"),
        }
    }
}

impl std::error::Error for XmlError {}

/// Parses a SAML message. Refuses oversize input, any DTD or entity declaration, more than
/// [`MAX_NODES`] nodes and nesting deeper than [`MAX_DEPTH`].
pub fn parse(input: &str) -> Result<Document<'_>, XmlError> {
    if input.len() > MAX_XML_BYTES {
        return Err(XmlError::TooLarge { len: input.len() });
    }
    // Checked on the raw text, whatever the parser's options: nothing in SAML needs either
    // construct. Case-insensitive so that no parser differential can hide one.
    if contains_ascii_ci(input, "<!DOCTYPE") || contains_ascii_ci(input, "<!ENTITY") {
        return Err(XmlError::Dtd);
    }
    let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(input, options).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes,
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        other => XmlError::Malformed(other.to_string()),
    })?;
    check_depth(doc.root_element(), 1)?;
    Ok(doc)
}

fn contains_ascii_ci(haystack: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    haystack.as_bytes().windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn check_depth(node: Node, depth: usize) -> Result<(), XmlError> {
    if depth > MAX_DEPTH {
        return Err(XmlError::TooDeep);
    }
    for child in node.children().filter(|c| c.is_element()) {
        check_depth(child, depth + 1)?;
    }
    Ok(())
}

/// The text of a simple-content element: the concatenation of its text children (CDATA is
/// text). A comment, a processing instruction or a child element inside is an error, never
/// skipped: `<NameID>a@x<!---->.evil</NameID>` must not read as `a@x` nor as `a@x.evil`.
pub fn simple_text(node: Node) -> Result<String, XmlError> {
    let mut text = String::new();
    for child in node.children() {
        if child.is_text() {
            text.push_str(child.text().unwrap_or_default());
        } else {
            return Err(XmlError::NotSimpleContent { element: node.tag_name().name().to_string() });
        }
    }
    Ok(text)
}

/// The one child element `{ns}local` of `node`, if any; two are an error.
pub fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, local: &str) -> Result<Option<Node<'a, 'i>>, XmlError> {
    let mut found = None;
    for c in node.children().filter(|c| is(*c, ns, local)) {
        if found.is_some() {
            return Err(XmlError::DuplicateChild { element: local.to_string() });
        }
        found = Some(c);
    }
    Ok(found)
}

/// All child elements `{ns}local` of `node`.
pub fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(*c, ns, local))
}

/// Whether `node` is the element `{ns}local`.
pub fn is(node: Node, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// The lexical prefix of an element as written in the source (`None`: unprefixed).
/// roxmltree keeps only (namespace URI, local name); exclusive c14n needs the prefix.
pub fn element_prefix<'i>(node: Node<'_, 'i>) -> Result<Option<&'i str>, XmlError> {
    let src = node.document().input_text();
    let start = node.range().start;
    let rest = src.get(start..).ok_or(XmlError::BadQName)?;
    let rest = rest.strip_prefix('<').ok_or(XmlError::BadQName)?;
    let end = rest.find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/').ok_or(XmlError::BadQName)?;
    let qname = &rest[..end];
    split_prefix(qname, node.tag_name().name())
}

/// The lexical prefix of an attribute as written in the source.
pub fn attribute_prefix<'i>(
    node: Node<'_, 'i>,
    attr: &roxmltree::Attribute<'_, 'i>,
) -> Result<Option<&'i str>, XmlError> {
    let src = node.document().input_text();
    let qname = src.get(attr.range_qname()).ok_or(XmlError::BadQName)?;
    split_prefix(qname, attr.name())
}

fn split_prefix<'i>(qname: &'i str, local: &str) -> Result<Option<&'i str>, XmlError> {
    match qname.split_once(':') {
        None if qname == local => Ok(None),
        Some((prefix, l)) if l == local && !prefix.is_empty() => Ok(Some(prefix)),
        _ => Err(XmlError::BadQName),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_doctype_even_empty_and_entities() {
        assert_eq!(parse("<!DOCTYPE a><a/>").err(), Some(XmlError::Dtd));
        assert_eq!(parse("<!doctype a><a/>").err(), Some(XmlError::Dtd));
        // Outside a DOCTYPE roxmltree would call this "malformed"; it is named for what it is.
        assert_eq!(parse("<a><!ENTITY x 'y'></a>").err(), Some(XmlError::Dtd));
        assert_eq!(parse("<a>&lt;<![CDATA[<!doctype]]></a>").err(), Some(XmlError::Dtd));
    }

    #[test]
    fn refuses_oversize_and_deep() {
        let big = format!("<a>{}</a>", "x".repeat(MAX_XML_BYTES));
        assert!(matches!(parse(&big), Err(XmlError::TooLarge { .. })));
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep).err(), Some(XmlError::TooDeep));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_NODES as usize));
        assert_eq!(parse(&many).err(), Some(XmlError::TooManyNodes));
    }

    #[test]
    fn simple_text_refuses_comment_injection() {
        let doc = parse("<n>a@x<!---->.evil</n>").unwrap();
        // The trap: roxmltree's text() is the first text node only.
        assert_eq!(doc.root_element().text(), Some("a@x"));
        assert!(matches!(simple_text(doc.root_element()), Err(XmlError::NotSimpleContent { .. })));
        let doc = parse("<n>a@x<?pi x?>.evil</n>").unwrap();
        assert!(simple_text(doc.root_element()).is_err());
        let doc = parse("<n>a@x<b/>.evil</n>").unwrap();
        assert!(simple_text(doc.root_element()).is_err());
        let doc = parse("<n>a&amp;b<![CDATA[<c>]]></n>").unwrap();
        assert_eq!(simple_text(doc.root_element()).unwrap(), "a&b<c>");
        let doc = parse("<n/>").unwrap();
        assert_eq!(simple_text(doc.root_element()).unwrap(), "");
    }

    #[test]
    fn child_refuses_duplicates() {
        let doc = parse("<r xmlns:s='urn:s'><s:a/><s:b/><s:b/></r>").unwrap();
        let r = doc.root_element();
        assert!(child(r, "urn:s", "a").unwrap().is_some());
        assert!(child(r, "urn:s", "c").unwrap().is_none());
        assert!(child(r, "urn:other", "a").unwrap().is_none());
        assert_eq!(child(r, "urn:s", "b").err(), Some(XmlError::DuplicateChild { element: "b".into() }));
    }

    #[test]
    fn prefixes_come_from_the_source() {
        let doc = parse("<p:r xmlns:p='urn:x' xmlns:q='urn:x' q:a='1' b='2'><e/></p:r>").unwrap();
        let r = doc.root_element();
        assert_eq!(element_prefix(r).unwrap(), Some("p"));
        let attrs: Vec<_> = r.attributes().collect();
        assert_eq!(attribute_prefix(r, &attrs[0]).unwrap(), Some("q"));
        assert_eq!(attribute_prefix(r, &attrs[1]).unwrap(), None);
        assert_eq!(element_prefix(r.first_element_child().unwrap()).unwrap(), None);
    }
}
