//! A YAML/JSON document tree that remembers where every node starts.

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty value.
    Null,
    /// A scalar: its text and whether it was quoted (a quoted `"true"` is a string).
    Scalar(String, bool),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

/// One node of a document with its position and its tag (`!Ref`, `!Sub`, …) if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the node starts.
    pub pos: Pos,
    /// The local tag without its leading `!`, e.g. `Ref` for `!Ref`.
    pub tag: Option<String>,
}

impl Node {
    /// A node without a tag.
    pub fn new(value: Value, pos: Pos) -> Self {
        Node {
            value,
            pos,
            tag: None,
        }
    }

    /// The value for `key` in a mapping (first match), or `None`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut node = self;
        for key in keys {
            node = node.get(key)?;
        }
        Some(node)
    }

    /// The scalar text, if the node is a scalar without a tag.
    pub fn as_str(&self) -> Option<&str> {
        match (&self.value, &self.tag) {
            (Value::Scalar(s, _), None) => Some(s),
            _ => None,
        }
    }

    /// The scalar text even when tagged (for `!Ref x`, gives `x`).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// `Some(true/false)` for a boolean scalar (YAML 1.2 core and the common 1.1 spellings).
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()? {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "on" => Some(true),
            "false" | "False" | "FALSE" | "no" | "No" | "off" => Some(false),
            _ => None,
        }
    }

    /// The integer value of an untagged scalar.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_str()?.trim().parse().ok()
    }

    /// The items of a sequence (empty for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries of a mapping (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// Whether the node is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// Number of nodes in this subtree (this one included).
    pub fn size(&self) -> usize {
        1 + match &self.value {
            Value::Null | Value::Scalar(..) => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Node {
        Node::new(Value::Scalar(text.into(), false), Pos::default())
    }

    #[test]
    fn get_path_and_bool() {
        let inner = Node::new(Value::Map(vec![(s("b"), s("true"))]), Pos::default());
        let root = Node::new(Value::Map(vec![(s("a"), inner)]), Pos::default());
        assert_eq!(root.path(&["a", "b"]).and_then(Node::as_bool), Some(true));
        assert!(root.path(&["a", "c"]).is_none());
        assert_eq!(root.size(), 5);
    }
}
