//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `name`: same text ignoring case, then an edit
/// distance of at most 2 (a swap of two neighbours counts as one edit),
/// then a prefix match either way (`runs` → `runs-on`). Ties go to the
/// earlier candidate.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.len() > MAX_NAME_LEN {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    let mut prefix: Option<&'a str> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let cand_lower = candidate.to_ascii_lowercase();
        let distance = if cand_lower == lower {
            0
        } else {
            edit_distance(&lower, &cand_lower)
        };
        let limit = if name.chars().count() <= 3 { 1 } else { 2 };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
        if prefix.is_none()
            && lower.len() >= 3
            && (cand_lower.starts_with(&lower) || lower.starts_with(&cand_lower))
        {
            prefix = Some(candidate);
        }
    }
    best.map(|(_, c)| c).or(prefix)
}

/// Longer names get no suggestion (the distance is quadratic).
const MAX_NAME_LEN: usize = 64;

/// `a`, `b` or `c` — for hints listing what is allowed.
pub fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Optimal string alignment distance over chars: insertions, deletions,
/// substitutions and swaps of adjacent characters each cost 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = value;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["name", "runs-on", "steps", "timeout-minutes", "needs"];
        assert_eq!(closest("runs-of", keys), Some("runs-on"));
        assert_eq!(closest("nmae", keys), Some("name"));
        assert_eq!(closest("Steps", keys), Some("steps"));
        assert_eq!(closest("timeout", keys), Some("timeout-minutes"));
        assert_eq!(closest("runs", keys), Some("runs-on"));
        assert_eq!(closest("banana", keys), None);
        assert_eq!(closest("xy", keys), None);
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(list(&["a"]), "`a`");
    }
}
