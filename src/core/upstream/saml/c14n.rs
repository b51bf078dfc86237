//! Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>), with and
//! without comments, with an `InclusiveNamespaces PrefixList`, for the one node-set shape
//! XML-Signature in SAML needs: an element, its descendants, minus at most one excluded
//! subtree (the enveloped `ds:Signature`). No XPath.
//!
//! The input is a roxmltree document parsed by [`super::xml::parse`]: line endings and
//! attribute values are already normalised, references expanded, CDATA turned into text.
//! Lexical prefixes, which roxmltree drops, are read back from the source.

use roxmltree::{Node, NodeType};
use std::fmt;

use super::xml::{attribute_prefix, element_prefix, XmlError, NS_XML};

pub const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ALG_EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Why a node could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum C14nError {
    /// The apex is not an element.
    NotAnElement,
    /// A prefix used by an element or attribute is not declared (cannot happen after
    /// roxmltree parsed the document, kept rather than panicking).
    UndeclaredPrefix(String),
    /// A prefix is bound to the empty namespace name (`xmlns:p=""`, XML 1.1 only).
    EmptyPrefixBinding(String),
    /// A lexical name could not be read back from the source.
    Xml(XmlError),
}

impl fmt::Display for C14nError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            C14nError::NotAnElement => f.write_str("only an element can be canonicalised"),
            C14nError::UndeclaredPrefix(p) => write!(f, "the namespace prefix {p:?} is not declared"),
            C14nError::EmptyPrefixBinding(p) => write!(f, "the namespace prefix {p:?} is bound to an empty name"),
            C14nError::Xml(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for C14nError {}

impl From<XmlError> for C14nError {
    fn from(e: XmlError) -> Self {
        C14nError::Xml(e)
    }
}

/// What to canonicalise and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// `#WithComments`: render comments. (A same-document `URI="#id"` reference never has
    /// comments in its node-set, whatever the transform says: XMLDSig §4.4.3.3.)
    pub with_comments: bool,
    /// The `InclusiveNamespaces PrefixList`, `#default` for the default namespace.
    pub inclusive_prefixes: &'a [&'a str],
}

/// The exclusive canonical form of `apex` and its descendants, leaving out the subtree of
/// `exclude` (the enveloped signature) if given.
pub fn canonicalize(apex: Node, exclude: Option<Node>, options: Options) -> Result<Vec<u8>, C14nError> {
    if !apex.is_element() {
        return Err(C14nError::NotAnElement);
    }
    let mut out = Vec::with_capacity(apex.range().len());
    // The namespaces rendered by output ancestors: none above the apex.
    let rendered: Vec<(Option<&str>, &str)> = Vec::new();
    let excluded = exclude.map(|n| n.id());
    element(apex, excluded, &options, &rendered, &mut out)?;
    Ok(out)
}

/// The URI `prefix` is bound to on `node` (`""` for no default namespace).
fn in_scope<'a>(node: Node<'a, '_>, prefix: Option<&str>) -> Option<&'a str> {
    node.lookup_namespace_uri(prefix)
}

fn rendered_uri<'a>(rendered: &[(Option<&'a str>, &'a str)], prefix: Option<&str>) -> Option<&'a str> {
    rendered.iter().rev().find(|(p, _)| *p == prefix).map(|(_, u)| *u)
}

fn element<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    excluded: Option<roxmltree::NodeId>,
    options: &Options,
    rendered: &[(Option<&'a str>, &'a str)],
    out: &mut Vec<u8>,
) -> Result<(), C14nError> {
    let prefix = element_prefix(node)?;

    // Namespace prefixes visibly utilised by this element: its own (the default namespace if
    // unprefixed) and those of its prefixed attributes. `xml` is never declared.
    let mut wanted: Vec<Option<&str>> = vec![prefix];
    let mut attrs = Vec::new();
    for attr in node.attributes() {
        let ap = attribute_prefix(node, &attr)?;
        if let Some(p) = ap {
            if p != "xml" && !wanted.contains(&Some(p)) {
                wanted.push(Some(p));
            }
        }
        attrs.push((attr, ap));
    }
    // Plus the InclusiveNamespaces prefixes that are in scope here, treated as in inclusive
    // c14n (rendered unless an output ancestor rendered the same binding).
    for p in options.inclusive_prefixes {
        let p = if *p == "#default" { None } else { Some(*p) };
        if p == Some("xml") || wanted.contains(&p) {
            continue;
        }
        if in_scope(node, p).is_some() {
            wanted.push(p);
        }
    }

    let mut decls: Vec<(Option<&'a str>, &'a str)> = Vec::new();
    for p in wanted {
        match p {
            None => {
                let uri = in_scope(node, None).unwrap_or("");
                let above = rendered_uri(rendered, None).unwrap_or("");
                if uri != above {
                    decls.push((None, uri));
                }
            }
            Some(p) => {
                let uri = in_scope(node, Some(p)).ok_or_else(|| C14nError::UndeclaredPrefix(p.to_string()))?;
                if uri.is_empty() {
                    return Err(C14nError::EmptyPrefixBinding(p.to_string()));
                }
                // Rebind `p` with the node's own lifetime: take it from the namespace node.
                let p_static = node
                    .namespaces()
                    .find(|ns| ns.name() == Some(p))
                    .and_then(|ns| ns.name())
                    .ok_or_else(|| C14nError::UndeclaredPrefix(p.to_string()))?;
                if rendered_uri(rendered, Some(p)) != Some(uri) {
                    decls.push((Some(p_static), uri));
                }
            }
        }
    }
    // Default namespace first, then by prefix.
    decls.sort_by(|a, b| a.0.cmp(&b.0));
    // Attributes by (namespace URI, local name); unqualified ones (empty URI) first.
    attrs.sort_by(|(a, _), (b, _)| {
        (a.namespace().unwrap_or(""), a.name()).cmp(&(b.namespace().unwrap_or(""), b.name()))
    });

    let qname = match prefix {
        Some(p) => format!("{p}:{}", node.tag_name().name()),
        None => node.tag_name().name().to_string(),
    };
    out.push(b'<');
    out.extend_from_slice(qname.as_bytes());
    for (p, uri) in &decls {
        match p {
            None => out.extend_from_slice(b" xmlns=\""),
            Some(p) => {
                out.extend_from_slice(b" xmlns:");
                out.extend_from_slice(p.as_bytes());
                out.extend_from_slice(b"=\"");
            }
        }
        escape_attr(uri, out);
        out.push(b'"');
    }
    for (attr, ap) in &attrs {
        out.push(b' ');
        match ap {
            Some(p) => {
                out.extend_from_slice(p.as_bytes());
                out.push(b':');
            }
            None if attr.namespace().is_some_and(|ns| ns == NS_XML) => out.extend_from_slice(b"xml:"),
            None => {}
        }
        out.extend_from_slice(attr.name().as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attr(attr.value(), out);
        out.push(b'"');
    }
    out.push(b'>');

    let mut inner: Vec<(Option<&'a str>, &'a str)> = rendered.to_vec();
    inner.extend(decls);
    for child in node.children() {
        if Some(child.id()) == excluded {
            continue;
        }
        match child.node_type() {
            NodeType::Element => element(child, excluded, options, &inner, out)?,
            NodeType::Text => escape_text(child.text().unwrap_or_default(), out),
            NodeType::Comment => {
                if options.with_comments {
                    out.extend_from_slice(b"<!--");
                    out.extend_from_slice(child.text().unwrap_or_default().as_bytes());
                    out.extend_from_slice(b"-->");
                }
            }
            NodeType::PI => {
                if let Some(pi) = child.pi() {
                    out.extend_from_slice(b"<?");
                    out.extend_from_slice(pi.target.as_bytes());
                    if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                        out.push(b' ');
                        out.extend_from_slice(value.as_bytes());
                    }
                    out.extend_from_slice(b"?>");
                }
            }
            NodeType::Root => {}
        }
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(qname.as_bytes());
    out.push(b'>');
    Ok(())
}

fn escape_text(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(b),
        }
    }
}

fn escape_attr(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\t' => out.extend_from_slice(b"&#x9;"),
            b'\n' => out.extend_from_slice(b"&#xA;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(b),
        }
    }
}
