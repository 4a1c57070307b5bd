//! Rule scopes: namespace globs, label selectors, image exceptions; and the glob matcher.

use std::collections::BTreeMap;

use mamori_core::ImageRef;
use serde::{Deserialize, Serialize};

/// Where a rule applies. An empty scope applies everywhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scope {
    /// Namespace name globs.
    #[serde(default, skip_serializing_if = "NamespaceGlobs::is_empty")]
    pub namespaces: NamespaceGlobs,
    /// Selector on the namespace's labels.
    #[serde(default, skip_serializing_if = "LabelSelector::is_empty")]
    pub namespace_selector: LabelSelector,
    /// Selector on the object's labels.
    #[serde(default, skip_serializing_if = "LabelSelector::is_empty")]
    pub object_selector: LabelSelector,
    /// Images for which the rule does not apply (any condition that holds exempts the image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_exceptions: Vec<ImageMatch>,
}

impl Scope {
    /// Whether the scope is empty (applies everywhere).
    pub fn is_everything(&self) -> bool {
        *self == Scope::default()
    }

    /// Whether a request in `namespace` (with its labels, when known) on an object with
    /// `object_labels` is in scope. Unknown namespace labels count as no labels.
    pub fn applies(
        &self,
        namespace: &str,
        namespace_labels: Option<&BTreeMap<String, String>>,
        object_labels: &BTreeMap<String, String>,
    ) -> bool {
        let empty = BTreeMap::new();
        self.namespaces.matches(namespace)
            && self
                .namespace_selector
                .matches(namespace_labels.unwrap_or(&empty))
            && self.object_selector.matches(object_labels)
    }

    /// Whether an image is exempted by `imageExceptions`.
    pub fn image_exempt(&self, image: &str) -> bool {
        self.image_exceptions.iter().any(|m| m.matches(image))
    }
}

/// Namespace include/exclude globs. No include = every namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceGlobs {
    /// Globs a namespace must match (any).
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs a namespace must not match (any).
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl NamespaceGlobs {
    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether `namespace` is included and not excluded.
    pub fn matches(&self, namespace: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| glob_match(g, namespace)))
            && !self.exclude.iter().any(|g| glob_match(g, namespace))
    }
}

/// A Kubernetes-style label selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must have exactly these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must all hold.
    #[serde(default)]
    pub match_expressions: Vec<SelectorExpression>,
}

impl LabelSelector {
    fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy the selector (an empty selector matches everything).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| e.matches(labels))
    }
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorExpression {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values for `In` / `NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// Label selector operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is missing or its value is not one of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is missing.
    DoesNotExist,
}

impl SelectorExpression {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => v.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => !v.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::Exists => v.is_some(),
            SelectorOperator::DoesNotExist => v.is_none(),
        }
    }
}

/// Which part of an image reference a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageField {
    /// Registry host (`docker.io`, `ghcr.io`).
    Registry,
    /// Repository (`library/nginx`, `team/app`).
    Name,
    /// Tag (the effective tag: `latest` when none is given).
    Tag,
    /// The whole reference as written in the manifest.
    Path,
}

/// Comparison operators, as in Cloud One plus `glob`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operator {
    /// Equal to a value.
    Equals,
    /// Equal to no value.
    NotEquals,
    /// Contains a value.
    Contains,
    /// Contains no value.
    NotContains,
    /// Starts with a value.
    StartsWith,
    /// Matches a glob (`*`, `?`).
    Glob,
}

/// A condition on an image reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageMatch {
    /// The part looked at.
    pub field: ImageField,
    /// The comparison.
    pub operator: Operator,
    /// The values compared with.
    pub values: Vec<String>,
}

impl ImageMatch {
    /// Whether the condition holds for `image` (as written in the manifest). An unparsable
    /// reference is compared by its whole text for `path` and as empty otherwise.
    pub fn matches(&self, image: &str) -> bool {
        let parsed = image.parse::<ImageRef>().ok();
        let subject: String = match (self.field, &parsed) {
            (ImageField::Path, _) => image.to_string(),
            (ImageField::Registry, Some(r)) => r.registry.clone(),
            (ImageField::Name, Some(r)) => r.repository.clone(),
            (ImageField::Tag, Some(r)) => r.effective_tag().unwrap_or("").to_string(),
            (_, None) => String::new(),
        };
        let s = subject.as_str();
        match self.operator {
            Operator::Equals => self.values.iter().any(|v| v == s),
            Operator::NotEquals => !self.values.iter().any(|v| v == s),
            Operator::Contains => self.values.iter().any(|v| s.contains(v.as_str())),
            Operator::NotContains => !self.values.iter().any(|v| s.contains(v.as_str())),
            Operator::StartsWith => self.values.iter().any(|v| s.starts_with(v.as_str())),
            Operator::Glob => self.values.iter().any(|v| glob_match(v, s)),
        }
    }
}

/// Glob match with `*` (any run, including empty) and `?` (one character). No escaping.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("kube-*", "kube-system"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*.example.com", "r.example.com"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("team-a", "team-ab"));
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())]
            .into_iter()
            .collect();
        let sel = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![SelectorExpression {
                key: "env".into(),
                operator: SelectorOperator::NotIn,
                values: vec!["dev".into()],
            }],
        };
        assert!(sel.matches(&labels));
        assert!(sel.matches(&BTreeMap::new()));
        let sel = LabelSelector {
            match_labels: [("env".to_string(), "dev".to_string())]
                .into_iter()
                .collect(),
            match_expressions: vec![],
        };
        assert!(!sel.matches(&labels));
    }

    #[test]
    fn image_conditions() {
        let m = |field, operator, v: &str| ImageMatch {
            field,
            operator,
            values: vec![v.to_string()],
        };
        assert!(m(ImageField::Registry, Operator::Equals, "docker.io").matches("nginx"));
        assert!(m(ImageField::Name, Operator::Equals, "library/nginx").matches("nginx:1.25"));
        assert!(m(ImageField::Tag, Operator::Equals, "latest").matches("nginx"));
        assert!(m(ImageField::Tag, Operator::NotEquals, "latest").matches("nginx:1"));
        assert!(m(ImageField::Path, Operator::StartsWith, "ghcr.io/").matches("ghcr.io/a/b:1"));
        assert!(m(ImageField::Registry, Operator::Glob, "*.corp").matches("reg.corp/a:1"));
        assert!(m(ImageField::Name, Operator::NotContains, "evil").matches("good/app"));
        assert!(!m(ImageField::Name, Operator::Contains, "evil").matches("good/app"));
    }
}
