//! A generic YAML tree with a span on every node, keys included.
//!
//! This is the only module that knows about the YAML library (serde-saphyr).
//! [`parse`] reads one document with YAML 1.2 scalar rules (`on`, `yes` and
//! `no` are strings), expands anchors, aliases and merge keys (`<<`, explicit
//! keys win over merged ones), enforces the library's budgets against alias
//! bombs, and reports duplicate keys. It never fails: a syntax error becomes
//! one [`Diagnostic`] and no tree.
//!
//! Spans of values that come from an alias or a merge point at the text where
//! the value is written (the anchored definition), because that is the text a
//! diagnostic about the value needs to show.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::span::{Pos, Span};

/// One YAML node and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    pub span: Span,
}

/// The value of a YAML node. Mapping keys are nodes, so they keep spans.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: Yaml, span: Span) -> Self {
        Node { value, span }
    }

    /// The node as JSON. Mapping keys that are not strings become their
    /// scalar text; non-finite floats become `null`.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Yaml::Map(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (key, value) in entries {
                    map.insert(key.key_text(), value.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// What kind of node this is, for messages: "a string", "a mapping", …
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) | Yaml::Float(_) => "a number",
            Yaml::String(_) => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Yaml::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` in a mapping node (first match).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A scalar as the string GitHub would see: strings as written, numbers
    /// and booleans in their canonical form (`3.10` is the number `3.1`).
    /// `None` for null, lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Yaml::String(s) => Some(s.clone()),
            Yaml::Bool(b) => Some(b.to_string()),
            Yaml::Int(i) => Some(i.to_string()),
            Yaml::Float(f) => Some(format_float(*f)),
            Yaml::Null | Yaml::Seq(_) | Yaml::Map(_) => None,
        }
    }

    /// The text of a mapping key: its scalar text, `""` for null, and JSON
    /// for the (rare) list or mapping key.
    pub fn key_text(&self) -> String {
        match &self.value {
            Yaml::Null => String::new(),
            Yaml::Seq(_) | Yaml::Map(_) => self.to_json().to_string(),
            _ => self.scalar_text().unwrap_or_default(),
        }
    }
}

/// Format a float like JavaScript does for the common cases: `1.0` is
/// `1`, `3.10` is `3.1`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        format!("{f}")
    }
}

/// Parse one YAML document. Returns `None` (and one diagnostic) when the
/// text is not valid YAML or exceeds a budget; duplicate keys are reported
/// and the later entry dropped.
pub fn parse(file: &str, src: &str) -> (Option<Node>, Vec<Diagnostic>) {
    let index = LineIndex::new(src);
    let mut diags = Vec::new();
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.merge_keys = serde_saphyr::MergeKeyPolicy::Merge;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    options.with_snippet = false;
    match serde_saphyr::from_str_with_options::<RawNode>(src, options) {
        Ok(raw) => {
            let mut converter = Converter {
                file,
                src,
                index: &index,
                diags: &mut diags,
            };
            let node = converter.convert(raw);
            (Some(node), diags)
        }
        Err(err) => {
            diags.push(syntax_diagnostic(file, src, &index, &err));
            (None, diags)
        }
    }
}

fn syntax_diagnostic(
    file: &str,
    src: &str,
    index: &LineIndex,
    err: &serde_saphyr::Error,
) -> Diagnostic {
    let mut inner = err;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    let span = err
        .location()
        .map(|loc| index.location_span(src, &loc))
        .unwrap_or_default();
    match inner {
        serde_saphyr::Error::Budget { breach, .. } => Diagnostic::error(
            file,
            span,
            format!(
                "the YAML document is too large or expands too much through aliases (limit reached: {})",
                budget_detail(breach)
            ),
        )
        .with_hint("reduce the number of anchors and aliases, or split the file"),
        serde_saphyr::Error::MultipleDocuments { .. } => Diagnostic::error(
            file,
            span,
            "the file holds more than one YAML document",
        )
        .with_hint("remove the `---` line and what follows it, or move it to its own file"),
        other => {
            use serde_saphyr::MessageFormatter;
            let message = serde_saphyr::DefaultMessageFormatter.format_message(other);
            let message = sanitize_message(&message);
            Diagnostic::error(file, span, format!("invalid YAML: {message}"))
        }
    }
}

/// `Nodes { nodes: 250001 }` → `nodes 250001`.
fn budget_detail(breach: &impl fmt::Debug) -> String {
    let text = format!("{breach:?}");
    match text
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
    {
        Some((inner, _)) => inner.trim().replace(':', ""),
        None => text,
    }
}

/// One line, no control characters, no trailing period.
fn sanitize_message(message: &str) -> String {
    let cleaned: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.trim().trim_end_matches('.').to_string()
}

/// Byte offsets of line starts, to turn offsets into line:col.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(src: &str) -> Self {
        let mut starts = vec![0];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// Position of a byte offset (clamped to the source, moved back to a
    /// char boundary). Columns count characters, from 1.
    pub(crate) fn pos(&self, src: &str, offset: usize) -> Pos {
        let mut offset = offset.min(src.len());
        while offset > 0 && !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = self.starts.get(line_idx).copied().unwrap_or(0);
        let col = src
            .get(line_start..offset)
            .map(|s| s.chars().filter(|c| *c != '\u{feff}').count())
            .unwrap_or(0);
        Pos {
            line: u32::try_from(line_idx + 1).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
            offset,
        }
    }

    /// Byte offset of a 1-based line and character column.
    fn offset_of(&self, src: &str, line: u64, col: u64) -> Option<usize> {
        let line_idx = usize::try_from(line.checked_sub(1)?).ok()?;
        let start = *self.starts.get(line_idx)?;
        let end = self.starts.get(line_idx + 1).copied().unwrap_or(src.len());
        let text = src.get(start..end)?;
        let col_idx = usize::try_from(col.saturating_sub(1)).ok()?;
        let byte = text
            .char_indices()
            .nth(col_idx)
            .map(|(i, _)| i)
            .unwrap_or(text.len());
        Some(start + byte)
    }

    /// The span of a serde-saphyr location: byte offsets when the library
    /// knows them, else line and column.
    fn location_span(&self, src: &str, loc: &serde_saphyr::Location) -> Span {
        let lib_span = loc.span();
        let start = match lib_span.byte_offset() {
            Some(off) => usize::try_from(off).ok(),
            None => self.offset_of(src, loc.line(), loc.column()),
        };
        let Some(start) = start else {
            return Span::default();
        };
        let len = match lib_span.byte_len() {
            Some(len) => usize::try_from(len).unwrap_or(0),
            None => {
                // Character length: walk that many chars from the start.
                let n_chars = usize::try_from(lib_span.len()).unwrap_or(0);
                src.get(start..)
                    .map(|rest| {
                        rest.char_indices()
                            .nth(n_chars)
                            .map(|(i, _)| i)
                            .unwrap_or(rest.len())
                    })
                    .unwrap_or(0)
            }
        };
        Span {
            start: self.pos(src, start),
            end: self.pos(src, start.saturating_add(len)),
        }
    }
}

/// What serde-saphyr gives us: a value and the location of its definition.
struct RawNode {
    value: RawYaml,
    location: serde_saphyr::Location,
}

enum RawYaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<RawNode>),
    Map(Vec<(RawNode, RawNode)>),
}

struct RawYamlVisitor;

impl<'de> Visitor<'de> for RawYamlVisitor {
    type Value = RawYaml;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawYaml, E> {
        Ok(RawYaml::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawYaml, E> {
        Ok(RawYaml::Int(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawYaml, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => RawYaml::Int(i),
            Err(_) => RawYaml::Float(v as f64),
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawYaml, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => RawYaml::Int(i),
            Err(_) => RawYaml::Float(v as f64),
        })
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawYaml, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => RawYaml::Int(i),
            Err(_) => RawYaml::Float(v as f64),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawYaml, E> {
        Ok(RawYaml::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawYaml, E> {
        Ok(RawYaml::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawYaml, E> {
        Ok(RawYaml::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawYaml, E> {
        Ok(RawYaml::String(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawYaml, E> {
        Ok(RawYaml::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<RawYaml, E> {
        Ok(RawYaml::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawYaml, D::Error> {
        deserializer.deserialize_any(RawYamlVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawYaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<RawNode>()? {
            items.push(item);
        }
        Ok(RawYaml::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawYaml, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<RawNode>()? {
            let value = map.next_value::<RawNode>()?;
            entries.push((key, value));
        }
        Ok(RawYaml::Map(entries))
    }
}

struct RawValue(RawYaml);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawYamlVisitor).map(RawValue)
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<RawValue>::deserialize(deserializer)?;
        Ok(RawNode {
            value: spanned.value.0,
            location: spanned.defined,
        })
    }
}

/// Turns the raw tree into [`Node`]s: full spans, integer spellings that
/// the library read as floats, duplicate keys.
struct Converter<'a> {
    file: &'a str,
    src: &'a str,
    index: &'a LineIndex,
    diags: &'a mut Vec<Diagnostic>,
}

impl Converter<'_> {
    fn convert(&mut self, raw: RawNode) -> Node {
        let mut span = self.index.location_span(self.src, &raw.location);
        let value = match raw.value {
            RawYaml::Null => Yaml::Null,
            RawYaml::Bool(b) => Yaml::Bool(b),
            RawYaml::Int(i) => Yaml::Int(i),
            RawYaml::Float(f) => self
                .integer_spelling(span)
                .map_or(Yaml::Float(f), Yaml::Int),
            RawYaml::String(s) => Yaml::String(s),
            RawYaml::Seq(items) => {
                let items: Vec<Node> = items.into_iter().map(|item| self.convert(item)).collect();
                for item in &items {
                    extend_span(&mut span, item.span);
                }
                Yaml::Seq(items)
            }
            RawYaml::Map(entries) => {
                let mut seen: HashMap<String, Span> = HashMap::with_capacity(entries.len());
                let mut out = Vec::with_capacity(entries.len());
                for (raw_key, raw_value) in entries {
                    let key = self.convert(raw_key);
                    let value = self.convert(raw_value);
                    extend_span(&mut span, key.span);
                    extend_span(&mut span, value.span);
                    let text = key.key_text();
                    if let Some(first) = seen.get(&text) {
                        let message = format!("duplicate key `{text}`");
                        let hint = if first.start.line == key.span.start.line {
                            format!("`{text}` is defined earlier on the same line")
                        } else {
                            format!("`{text}` is first defined on line {}", first.start.line)
                        };
                        self.diags
                            .push(Diagnostic::error(self.file, key.span, message).with_hint(hint));
                        continue;
                    }
                    seen.insert(text, key.span);
                    out.push((key, value));
                }
                Yaml::Map(out)
            }
        };
        Node { value, span }
    }

    /// serde-saphyr reads some integer spellings (`010`) as floats; YAML 1.2
    /// says they are integers.
    fn integer_spelling(&self, span: Span) -> Option<i64> {
        let text = self.src.get(span.start.offset..span.end.offset)?;
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<i64>().ok()
    }
}

/// Grow `span` to cover `child` when the child is written inside or after
/// it (children merged from an anchor may be written before it).
fn extend_span(span: &mut Span, child: Span) {
    if child.start.line == 0 || child.start.offset < span.start.offset {
        return;
    }
    if child.end.offset > span.end.offset {
        span.end = child.end;
    }
}
