//! The built-in function table: canonical names, case-insensitive lookup,
//! arity, and "did you mean" suggestions for unknown names.

use std::fmt;

/// A built-in expression function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `contains(search, item)`
    Contains,
    /// `startsWith(searchString, searchValue)`
    StartsWith,
    /// `endsWith(searchString, searchValue)`
    EndsWith,
    /// `format(string, replaceValue0, replaceValue1, …)`
    Format,
    /// `join(array, optionalSeparator)`
    Join,
    /// `toJSON(value)`
    ToJson,
    /// `fromJSON(value)`
    FromJson,
    /// `hashFiles(path, …)`
    HashFiles,
    /// `case(pred1, val1, pred2, val2, …, default)`
    Case,
    /// `success()`
    Success,
    /// `always()`
    Always,
    /// `cancelled()`
    Cancelled,
    /// `failure()`
    Failure,
}

impl Function {
    /// Every built-in function.
    pub const ALL: [Function; 13] = [
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::Format,
        Function::Join,
        Function::ToJson,
        Function::FromJson,
        Function::HashFiles,
        Function::Case,
        Function::Success,
        Function::Always,
        Function::Cancelled,
        Function::Failure,
    ];

    /// The name as GitHub documents it, e.g. `toJSON`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startsWith",
            Function::EndsWith => "endsWith",
            Function::Format => "format",
            Function::Join => "join",
            Function::ToJson => "toJSON",
            Function::FromJson => "fromJSON",
            Function::HashFiles => "hashFiles",
            Function::Case => "case",
            Function::Success => "success",
            Function::Always => "always",
            Function::Cancelled => "cancelled",
            Function::Failure => "failure",
        }
    }

    /// Looks a function up by name, ignoring case.
    pub fn lookup(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Fewest arguments accepted.
    pub fn min_args(self) -> usize {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => 2,
            Function::Format
            | Function::Join
            | Function::ToJson
            | Function::FromJson
            | Function::HashFiles => 1,
            Function::Case => 3,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure => 0,
        }
    }

    /// Most arguments accepted (`None`: no limit).
    pub fn max_args(self) -> Option<usize> {
        match self {
            Function::Format | Function::HashFiles | Function::Case => None,
            Function::Join => Some(2),
            other => Some(other.min_args()),
        }
    }

    /// `success()`, `failure()`, `always()` or `cancelled()`.
    pub fn is_status(self) -> bool {
        matches!(
            self,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure
        )
    }

    /// The closest known function name to an unknown one, if any is close.
    pub(crate) fn suggest(name: &str) -> Option<Function> {
        let lower = name.to_ascii_lowercase();
        let limit = (lower.chars().count() / 3).max(2);
        Function::ALL
            .into_iter()
            .map(|f| (edit_distance(&lower, &f.name().to_ascii_lowercase()), f))
            .filter(|&(d, _)| d <= limit)
            .min_by_key(|&(d, _)| d)
            .map(|(_, f)| f)
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Levenshtein distance (names are short, so the quadratic table is fine).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let best = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(best);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(Function::lookup("TOJSON"), Some(Function::ToJson));
        assert_eq!(Function::lookup("fromJson"), Some(Function::FromJson));
        assert_eq!(Function::lookup("nope"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(Function::suggest("startWith"), Some(Function::StartsWith));
        assert_eq!(Function::suggest("sucess"), Some(Function::Success));
        assert_eq!(Function::suggest("hashfile"), Some(Function::HashFiles));
        assert_eq!(Function::suggest("toJSONString"), None);
        assert_eq!(Function::suggest("xyz"), None);
    }
}
