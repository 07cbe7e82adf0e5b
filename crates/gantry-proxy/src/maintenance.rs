//! Maintenance mode: while it is on, the proxy answers every request 503 with the operator's
//! message — HTML for browsers, plain text otherwise — and `Retry-After` when the end is known.
//! It ends by itself at `until`.

use std::time::Instant;

/// An operator's maintenance window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maintenance {
    /// Shown to users as is (escaped in the HTML page).
    pub message: String,
    /// When maintenance ends by itself; `None` keeps it on until it is turned off.
    pub until: Option<Instant>,
}

impl Maintenance {
    /// Whether the window covers `now`.
    pub fn is_active(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// The 503 answer to one request during maintenance.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Notice {
    pub(crate) content_type: &'static str,
    /// Whole seconds until the end, rounded up; `None` when the end is unknown.
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: String,
}

impl Notice {
    pub(crate) fn new(maintenance: &Maintenance, now: Instant, accept: Option<&str>) -> Self {
        let retry_after = maintenance.until.map(|until| {
            let left = until.saturating_duration_since(now);
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        });
        let wants_html = accept.is_some_and(|accept| {
            accept
                .split(',')
                .any(|item| item.trim().starts_with("text/html"))
        });
        if wants_html {
            let message = escape_html(&maintenance.message);
            let body = format!(
                "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Down for maintenance</title></head>\n<body>\n<h1>Down for maintenance</h1>\n<p>{message}</p>\n</body>\n</html>\n"
            );
            Self {
                content_type: "text/html; charset=utf-8",
                retry_after,
                body,
            }
        } else {
            Self {
                content_type: "text/plain; charset=utf-8",
                retry_after,
                body: format!("{}\n", maintenance.message),
            }
        }
    }
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn browsers_get_an_escaped_html_page_and_other_clients_plain_text() {
        let now = Instant::now();
        let maintenance = Maintenance {
            message: "Upgrading <db> & cache".into(),
            until: None,
        };
        let cases = [
            (
                Some("text/html,application/xhtml+xml;q=0.9"),
                "text/html; charset=utf-8",
                "<p>Upgrading &lt;db&gt; &amp; cache</p>",
            ),
            (
                Some("application/json, text/html;q=0.1"),
                "text/html; charset=utf-8",
                "Upgrading &lt;db&gt;",
            ),
            (
                Some("application/json"),
                "text/plain; charset=utf-8",
                "Upgrading <db> & cache\n",
            ),
            (
                None,
                "text/plain; charset=utf-8",
                "Upgrading <db> & cache\n",
            ),
        ];
        for (accept, content_type, fragment) in cases {
            let notice = Notice::new(&maintenance, now, accept);
            assert_eq!(notice.content_type, content_type, "Accept: {accept:?}");
            assert!(
                notice.body.contains(fragment),
                "Accept: {accept:?} gave {}",
                notice.body
            );
            assert_eq!(notice.retry_after, None);
        }
    }

    #[test]
    fn retry_after_rounds_the_time_left_up_to_whole_seconds() {
        let now = Instant::now();
        let cases = [
            (Duration::from_millis(1), 1),
            (Duration::from_secs(60), 60),
            (Duration::from_millis(60_001), 61),
        ];
        for (left, seconds) in cases {
            let maintenance = Maintenance {
                message: "soon".into(),
                until: Some(now + left),
            };
            assert_eq!(
                Notice::new(&maintenance, now, None).retry_after,
                Some(seconds),
                "{left:?} left"
            );
        }
    }

    #[test]
    fn maintenance_is_over_at_its_end() {
        let now = Instant::now();
        let ending = Maintenance {
            message: String::new(),
            until: Some(now + Duration::from_secs(1)),
        };
        assert!(ending.is_active(now));
        assert!(!ending.is_active(now + Duration::from_secs(1)));
        assert!(
            Maintenance {
                message: String::new(),
                until: None
            }
            .is_active(now + Duration::from_secs(86_400))
        );
    }
}
