//! Environment protection: whether a deployment waiting for an environment may go ahead now,
//! must wait (and for what), or is refused (and why).
//!
//! [`evaluate`] decides on data alone: the environment's [`Protection`], the [`Request`] (the
//! ref, who triggered it, the reviews so far) and the time. The rules, in the order they are
//! checked:
//! 1. **Refs.** With neither `branches` nor `tags` configured any ref may deploy; otherwise the
//!    ref must match a pattern of its own kind (listing only branches allows no tags).
//!    Patterns use GitHub's deployment-rule globs: `*` matches any run of characters but `/`,
//!    `**` any run at all, `?` one character but `/`, `[a-z]` a class (`[!a-z]` its
//!    complement), `\` escapes.
//! 2. **Rejections.** One rejection by a reviewer denies the deployment for good.
//! 3. **Approvals.** `required` distinct reviewers must approve before the approval timeout.
//!    An approval counts only from a reviewer (a listed user or someone with a listed role;
//!    with neither listed, maintainers and admins), once per person, and not from the person
//!    who triggered the deployment or wrote its commit unless `allow-self-approval` is set.
//!    Approvals that do not count are listed in the reasons, so nobody wonders why theirs was
//!    ignored.
//! 4. **Wait timer.** The deployment waits this long after it was queued.
//! 5. **Windows.** With windows configured, at least one must be open.
//!
//! Reviews dated after `now` are ignored, so replaying a history at any moment gives the
//! decision made at that moment. Logins compare without regard to case, as forges do.

use std::fmt;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::window::Window;

/// What an environment demands before a deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Protection {
    pub reviewers: Reviewers,
    /// Branch patterns allowed to deploy; `None` when no rule is set.
    pub branches: Option<Vec<RefPattern>>,
    /// Tag patterns allowed to deploy; `None` when no rule is set.
    pub tags: Option<Vec<RefPattern>>,
    /// Deployments run only while one of these is open; empty means always.
    pub windows: Vec<Window>,
    /// How long a deployment waits after it was queued.
    pub wait_timer: Duration,
    /// How long approvals may take before the deployment is refused; `None` waits forever.
    pub approval_timeout: Option<Duration>,
}

/// Who must approve, and how many.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reviewers {
    /// Distinct approvals needed; 0 needs none.
    pub required: u32,
    /// Logins allowed to review.
    pub users: Vec<String>,
    /// Repository roles allowed to review.
    pub roles: Vec<Role>,
    /// Whether the person who triggered the deployment (or wrote its commit) may approve it.
    pub allow_self_approval: bool,
}

impl Reviewers {
    /// Whether `login` with `role` in the repository may review. With no users and no roles
    /// listed, maintainers and admins may.
    pub fn eligible(&self, login: &str, role: Role) -> bool {
        if self.users.is_empty() && self.roles.is_empty() {
            return role >= Role::Maintainer;
        }
        self.users.iter().any(|u| u.eq_ignore_ascii_case(login)) || self.roles.contains(&role)
    }

    /// "the users `alice`, `bob` and the roles `maintainer`, `admin`", for messages.
    pub fn describe(&self) -> String {
        let quoted = |names: Vec<&str>| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let users = quoted(self.users.iter().map(String::as_str).collect());
        let roles = quoted(self.roles.iter().map(|r| r.name()).collect());
        match (self.users.is_empty(), self.roles.is_empty()) {
            (true, true) => "maintainers and admins".to_string(),
            (false, true) => format!("the users {users}"),
            (true, false) => format!("the roles {roles}"),
            (false, false) => format!("the users {users} and the roles {roles}"),
        }
    }
}

/// A person's role in the repository, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Developer,
    Maintainer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Maintainer, Role::Admin];

    /// The name used in configuration and messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Maintainer => "maintainer",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A compiled branch or tag pattern (see the module documentation for the syntax).
#[derive(Clone, Debug, PartialEq)]
pub struct RefPattern {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Char(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
    /// `?`: one character but `/`.
    Question,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl RefPattern {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn new(text: &str) -> Result<RefPattern, String> {
        if text.is_empty() {
            return Err("a pattern must not be empty".to_string());
        }
        if let Some(rest) = ["refs/heads/", "refs/tags/"]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix))
        {
            return Err(format!(
                "write the name without its `refs/…/` prefix: `{rest}`"
            ));
        }
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut idx = 0;
        while idx < chars.len() {
            match chars[idx] {
                '*' if chars.get(idx + 1) == Some(&'*') => {
                    tokens.push(Token::DoubleStar);
                    idx += 2;
                    while chars.get(idx) == Some(&'*') {
                        idx += 1;
                    }
                }
                '*' => {
                    tokens.push(Token::Star);
                    idx += 1;
                }
                '?' => {
                    tokens.push(Token::Question);
                    idx += 1;
                }
                '\\' => {
                    let Some(next) = chars.get(idx + 1) else {
                        return Err("`\\` at the end escapes nothing".to_string());
                    };
                    tokens.push(Token::Char(*next));
                    idx += 2;
                }
                '[' => {
                    let (token, next) = class(&chars, idx)?;
                    tokens.push(token);
                    idx = next;
                }
                ch => {
                    tokens.push(Token::Char(ch));
                    idx += 1;
                }
            }
        }
        Ok(RefPattern {
            text: text.to_string(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches the whole of `name`.
    pub fn matches(&self, name: &str) -> bool {
        let text: Vec<char> = name.chars().collect();
        // can[j]: the tokens so far can end right before text[j].
        let mut can = vec![false; text.len() + 1];
        can[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            for start in 0..=text.len() {
                if !can[start] {
                    continue;
                }
                match token {
                    Token::Star | Token::DoubleStar => {
                        next[start] = true;
                        let mut pos = start;
                        while pos < text.len() && (*token == Token::DoubleStar || text[pos] != '/')
                        {
                            pos += 1;
                            next[pos] = true;
                        }
                    }
                    single => {
                        if start < text.len() && single.accepts(text[start]) {
                            next[start + 1] = true;
                        }
                    }
                }
            }
            can = next;
        }
        can[text.len()]
    }
}

/// The class starting at `chars[open]` (a `[`), and the index after its `]`.
fn class(chars: &[char], open: usize) -> Result<(Token, usize), String> {
    let mut idx = open + 1;
    let negated = matches!(chars.get(idx), Some('!' | '^'));
    if negated {
        idx += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&ch) = chars.get(idx) else {
            return Err("`[` is not closed by `]`".to_string());
        };
        if ch == ']' && !first {
            idx += 1;
            break;
        }
        first = false;
        if chars.get(idx + 1) == Some(&'-') && chars.get(idx + 2).is_some_and(|c| *c != ']') {
            let hi = chars[idx + 2];
            if hi < ch {
                return Err(format!("the range `{ch}-{hi}` is backwards"));
            }
            ranges.push((ch, hi));
            idx += 3;
        } else {
            ranges.push((ch, ch));
            idx += 1;
        }
    }
    Ok((Token::Class { negated, ranges }, idx))
}

impl Token {
    fn accepts(&self, ch: char) -> bool {
        match self {
            Token::Char(c) => *c == ch,
            Token::Question => ch != '/',
            Token::Star | Token::DoubleStar => true,
            Token::Class { negated, ranges } => {
                ch != '/' && ranges.iter().any(|(lo, hi)| *lo <= ch && ch <= *hi) != *negated
            }
        }
    }
}

/// Whether a ref is a branch or a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

/// The ref being deployed: its kind and short name (`main`, `v1.2.0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRef {
    pub kind: RefKind,
    pub name: String,
}

impl fmt::Display for GitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RefKind::Branch => write!(f, "branch `{}`", self.name),
            RefKind::Tag => write!(f, "tag `{}`", self.name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

/// One person's answer to a deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    pub login: String,
    /// Their role in the repository when they answered.
    pub role: Role,
    pub verdict: Verdict,
    pub at: Timestamp,
    pub comment: String,
}

/// A deployment waiting for an environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub git_ref: GitRef,
    /// Who started the deployment.
    pub triggered_by: String,
    /// The forge login of the deployed commit's author, when known.
    pub commit_author: Option<String>,
    pub queued_at: Timestamp,
    /// Every review so far, in any order.
    pub reviews: Vec<Review>,
}

impl Request {
    /// Why `login` counts as the deployment's own author, if they do.
    fn own(&self, login: &str) -> Option<Ignored> {
        if self.triggered_by.eq_ignore_ascii_case(login) {
            Some(Ignored::TriggeredIt)
        } else if self
            .commit_author
            .as_deref()
            .is_some_and(|author| author.eq_ignore_ascii_case(login))
        {
            Some(Ignored::WroteTheCommit)
        } else {
            None
        }
    }
}

/// What the protection says about a request now.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Allowed,
    /// Not yet: every reason, and the earliest time the decision may change without a new
    /// review (a timer ending, a window opening, the approval timeout).
    Waiting {
        reasons: Vec<Reason>,
        recheck_at: Option<Timestamp>,
    },
    /// Never: the deployment fails with this reason.
    Denied {
        reason: Denial,
    },
}

/// Why a deployment waits.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// More approvals are needed; `approved_by` are the approvals that count.
    Approvals {
        required: u32,
        approved_by: Vec<String>,
        reviewers: String,
        deadline: Option<Timestamp>,
    },
    /// A review that does not count, and why.
    Ignored {
        login: String,
        verdict: Verdict,
        why: Ignored,
    },
    /// The wait timer runs until then.
    WaitTimer { until: Timestamp },
    /// Every window is closed; the next opens then, on its own clock.
    WindowClosed { opens: Option<Zoned> },
}

/// Why a review does not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    TriggeredIt,
    WroteTheCommit,
    NotAReviewer(Role),
}

/// Why a deployment is refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Denial {
    /// The ref matches none of the patterns of its kind (`allowed` lists them; empty when that
    /// kind is not allowed at all).
    RefNotAllowed {
        git_ref: GitRef,
        allowed: Vec<String>,
    },
    Rejected {
        by: String,
        at: Timestamp,
        comment: String,
    },
    ApprovalTimedOut {
        at: Timestamp,
        approved_by: Vec<String>,
        required: u32,
    },
    /// A window names a time zone the database does not know.
    UnknownTimeZone { name: String },
}

/// Decides whether `request` may deploy at `now`. `zones` resolves the windows' time zone
/// names (at the edge: `|name| jiff::tz::TimeZone::get(name).ok()`).
pub fn evaluate(
    protection: &Protection,
    request: &Request,
    now: Timestamp,
    zones: &dyn Fn(&str) -> Option<TimeZone>,
) -> Decision {
    if let Some(denial) = check_ref(protection, &request.git_ref) {
        return Decision::Denied { reason: denial };
    }
    let reviewers = &protection.reviewers;
    let mut reviews: Vec<&Review> = request.reviews.iter().filter(|r| r.at <= now).collect();
    reviews.sort_by_key(|r| r.at);

    let mut reasons = Vec::new();
    for review in &reviews {
        if !reviewers.eligible(&review.login, review.role) {
            ignore(&mut reasons, review, Ignored::NotAReviewer(review.role));
        } else if review.verdict == Verdict::Reject {
            return Decision::Denied {
                reason: Denial::Rejected {
                    by: review.login.clone(),
                    at: review.at,
                    comment: review.comment.clone(),
                },
            };
        }
    }

    let mut recheck: Vec<Timestamp> = Vec::new();
    let deadline = protection
        .approval_timeout
        .map(|timeout| add(request.queued_at, timeout));
    let mut approved_by: Vec<String> = Vec::new();
    for review in &reviews {
        if review.verdict != Verdict::Approve
            || !reviewers.eligible(&review.login, review.role)
            || deadline.is_some_and(|deadline| review.at >= deadline)
            || approved_by
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&review.login))
        {
            continue;
        }
        match request.own(&review.login) {
            Some(why) if !reviewers.allow_self_approval => ignore(&mut reasons, review, why),
            _ => approved_by.push(review.login.clone()),
        }
    }
    let approvals_missing = approved_by.len() < usize::try_from(reviewers.required).unwrap_or(0);
    if approvals_missing {
        if let Some(deadline) = deadline {
            if now >= deadline {
                return Decision::Denied {
                    reason: Denial::ApprovalTimedOut {
                        at: deadline,
                        approved_by,
                        required: reviewers.required,
                    },
                };
            }
            recheck.push(deadline);
        }
        reasons.insert(
            0,
            Reason::Approvals {
                required: reviewers.required,
                approved_by,
                reviewers: reviewers.describe(),
                deadline,
            },
        );
    } else {
        // Once approved, ignored approvals are no longer worth mentioning.
        reasons.clear();
    }

    let timer_end = add(request.queued_at, protection.wait_timer);
    if now < timer_end {
        reasons.push(Reason::WaitTimer { until: timer_end });
        recheck.push(timer_end);
    }

    if !protection.windows.is_empty() {
        let mut opens: Option<Zoned> = None;
        let mut open = false;
        for window in &protection.windows {
            let Some(tz) = zones(&window.time_zone.value) else {
                return Decision::Denied {
                    reason: Denial::UnknownTimeZone {
                        name: window.time_zone.value.clone(),
                    },
                };
            };
            if window.open_at(now, &tz) {
                open = true;
                break;
            }
            if let Some(at) = window.next_open(now, &tz)
                && opens.as_ref().is_none_or(|o| at < o.timestamp())
            {
                opens = Some(at.to_zoned(tz));
            }
        }
        if !open {
            if let Some(opens) = &opens {
                recheck.push(opens.timestamp());
            }
            reasons.push(Reason::WindowClosed { opens });
        }
    }

    if approvals_missing || reasons.iter().any(|r| !matches!(r, Reason::Ignored { .. })) {
        Decision::Waiting {
            reasons,
            recheck_at: recheck.into_iter().min(),
        }
    } else {
        Decision::Allowed
    }
}

/// Notes that `review` does not count, once per person and verdict.
fn ignore(reasons: &mut Vec<Reason>, review: &Review, why: Ignored) {
    let seen = reasons.iter().any(|r| {
        matches!(r, Reason::Ignored { login, verdict, .. }
            if *verdict == review.verdict && login.eq_ignore_ascii_case(&review.login))
    });
    if !seen {
        reasons.push(Reason::Ignored {
            login: review.login.clone(),
            verdict: review.verdict,
            why,
        });
    }
}

/// The refusal for a ref no rule allows, if it is one.
fn check_ref(protection: &Protection, git_ref: &GitRef) -> Option<Denial> {
    if protection.branches.is_none() && protection.tags.is_none() {
        return None;
    }
    let patterns = match git_ref.kind {
        RefKind::Branch => &protection.branches,
        RefKind::Tag => &protection.tags,
    };
    let patterns = patterns.as_deref().unwrap_or_default();
    if patterns.iter().any(|p| p.matches(&git_ref.name)) {
        return None;
    }
    Some(Denial::RefNotAllowed {
        git_ref: git_ref.clone(),
        allowed: patterns.iter().map(|p| p.as_str().to_string()).collect(),
    })
}

/// Whether `login` (with `role`) may give `verdict` on `request` now: the UI and the API ask
/// before recording a review, to refuse early with a message that says why.
pub fn can_review(
    protection: &Protection,
    request: &Request,
    login: &str,
    role: Role,
    verdict: Verdict,
) -> Result<(), String> {
    let reviewers = &protection.reviewers;
    if !reviewers.eligible(login, role) {
        return Err(format!(
            "{login} ({}) may not review deployments to this environment: its reviewers are {}",
            role.name(),
            reviewers.describe()
        ));
    }
    if let Some(rejection) = request
        .reviews
        .iter()
        .find(|r| r.verdict == Verdict::Reject && reviewers.eligible(&r.login, r.role))
    {
        return Err(format!(
            "this deployment was already rejected by {}",
            rejection.login
        ));
    }
    if verdict == Verdict::Reject {
        return Ok(());
    }
    if reviewers.required == 0 {
        return Err("this environment needs no approval".to_string());
    }
    if !reviewers.allow_self_approval
        && let Some(why) = request.own(login)
    {
        let what = match why {
            Ignored::WroteTheCommit => "wrote the deployed commit",
            _ => "triggered this deployment",
        };
        return Err(format!(
            "{login} {what} and may not approve it; another reviewer must (or set `allow-self-approval: true` in the environment's protection)"
        ));
    }
    if request
        .reviews
        .iter()
        .any(|r| r.verdict == Verdict::Approve && r.login.eq_ignore_ascii_case(login))
    {
        return Err(format!("{login} already approved this deployment"));
    }
    Ok(())
}

fn add(at: Timestamp, duration: Duration) -> Timestamp {
    at.saturating_add(duration).unwrap_or(Timestamp::MAX)
}

/// `2026-01-05 09:00 UTC` for instants in messages.
fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Approvals {
                required,
                approved_by,
                reviewers,
                deadline,
            } => {
                let have = approved_by.len();
                write!(f, "needs {required} approval")?;
                if *required != 1 {
                    f.write_str("s")?;
                }
                write!(f, " from {reviewers}")?;
                if have > 0 {
                    write!(f, "; approved by {}", approved_by.join(", "))?;
                }
                if let Some(deadline) = deadline {
                    write!(f, "; expires {}", utc(*deadline))?;
                }
                Ok(())
            }
            Reason::Ignored {
                login,
                verdict,
                why,
            } => {
                let what = match verdict {
                    Verdict::Approve => "approval",
                    Verdict::Reject => "rejection",
                };
                match why {
                    Ignored::TriggeredIt => write!(
                        f,
                        "the {what} by {login} does not count: they triggered this deployment"
                    ),
                    Ignored::WroteTheCommit => write!(
                        f,
                        "the {what} by {login} does not count: they wrote the deployed commit"
                    ),
                    Ignored::NotAReviewer(role) => write!(
                        f,
                        "the {what} by {login} ({}) does not count: they are not a reviewer of this environment",
                        role.name()
                    ),
                }
            }
            Reason::WaitTimer { until } => write!(f, "wait timer until {}", utc(*until)),
            Reason::WindowClosed { opens: Some(opens) } => write!(
                f,
                "outside the deployment windows; waiting for the window opening {} {}",
                opens.strftime("%a %H:%M"),
                opens.time_zone().iana_name().unwrap_or("UTC")
            ),
            Reason::WindowClosed { opens: None } => {
                f.write_str("outside the deployment windows, and none opens in the next week")
            }
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::RefNotAllowed { git_ref, allowed } => {
                let kind = match git_ref.kind {
                    RefKind::Branch => "branches",
                    RefKind::Tag => "tags",
                };
                if allowed.is_empty() {
                    write!(f, "{git_ref} may not deploy here: no {kind} are allowed")
                } else {
                    let list: Vec<String> = allowed.iter().map(|p| format!("`{p}`")).collect();
                    write!(
                        f,
                        "{git_ref} may not deploy here: allowed {kind} are {}",
                        list.join(", ")
                    )
                }
            }
            Denial::Rejected { by, at, comment } => {
                write!(f, "rejected by {by} at {}", utc(*at))?;
                if !comment.trim().is_empty() {
                    write!(f, ": {}", comment.trim())?;
                }
                Ok(())
            }
            Denial::ApprovalTimedOut {
                at,
                approved_by,
                required,
            } => write!(
                f,
                "approval timed out at {} with {} of {required} approvals",
                utc(*at),
                approved_by.len()
            ),
            Denial::UnknownTimeZone { name } => write!(
                f,
                "a deployment window uses the unknown time zone `{name}`; fix `.gantry/environments.yml`"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use gantry_syntax::Spanned;

    use super::*;
    use crate::window::{Days, Hours};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn zones(name: &str) -> Option<TimeZone> {
        TimeZone::get(name).ok()
    }

    fn patterns(texts: &[&str]) -> Option<Vec<RefPattern>> {
        Some(texts.iter().map(|t| RefPattern::new(t).unwrap()).collect())
    }

    /// Production as the issue describes it: two approvals from maintainers or admins, `main`
    /// and release tags only.
    fn production() -> Protection {
        Protection {
            reviewers: Reviewers {
                required: 2,
                ..Reviewers::default()
            },
            branches: patterns(&["main", "release/*"]),
            tags: patterns(&["v*"]),
            ..Protection::default()
        }
    }

    fn branch(name: &str) -> GitRef {
        GitRef {
            kind: RefKind::Branch,
            name: name.to_string(),
        }
    }

    fn tag(name: &str) -> GitRef {
        GitRef {
            kind: RefKind::Tag,
            name: name.to_string(),
        }
    }

    /// Queued by carol at 10:00 UTC on Monday 2026-01-05, commit by dave.
    fn request(git_ref: GitRef, reviews: Vec<Review>) -> Request {
        Request {
            git_ref,
            triggered_by: "carol".to_string(),
            commit_author: Some("dave".to_string()),
            queued_at: ts("2026-01-05T10:00:00Z"),
            reviews,
        }
    }

    /// `"alice maintainer approve 10:05 looks good"`: a review on the request's day.
    fn review(text: &str) -> Review {
        let mut parts = text.splitn(5, ' ');
        let mut next = || parts.next().unwrap_or("").to_string();
        let login = next();
        let role = Role::from_name(&next()).unwrap();
        let verdict = match next().as_str() {
            "approve" => Verdict::Approve,
            _ => Verdict::Reject,
        };
        let at = ts(&format!("2026-01-05T{}:00Z", next()));
        Review {
            login,
            role,
            verdict,
            at,
            comment: next(),
        }
    }

    /// The decision as one line: `allowed`, `waiting (recheck T): a | b`, `denied: …`.
    fn show(decision: &Decision) -> String {
        match decision {
            Decision::Allowed => "allowed".to_string(),
            Decision::Waiting {
                reasons,
                recheck_at,
            } => {
                let reasons: Vec<String> = reasons.iter().map(Reason::to_string).collect();
                match recheck_at {
                    Some(at) => format!("waiting (recheck {}): {}", utc(*at), reasons.join(" | ")),
                    None => format!("waiting: {}", reasons.join(" | ")),
                }
            }
            Decision::Denied { reason } => format!("denied: {reason}"),
        }
    }

    #[test]
    fn production_needs_two_approvals_from_reviewers_on_allowed_refs() {
        let now = ts("2026-01-05T12:00:00Z");
        let cases: &[(GitRef, &[&str], &str)] = &[
            (
                branch("main"),
                &[],
                "waiting: needs 2 approvals from maintainers and admins",
            ),
            (
                branch("main"),
                &["alice maintainer approve 10:05"],
                "waiting: needs 2 approvals from maintainers and admins; approved by alice",
            ),
            (
                branch("main"),
                &["alice maintainer approve 10:05", "bob admin approve 10:06"],
                "allowed",
            ),
            (
                branch("release/2.0"),
                &["alice maintainer approve 10:05", "bob admin approve 10:06"],
                "allowed",
            ),
            (
                tag("v1.2.0"),
                &["alice maintainer approve 10:05", "bob admin approve 10:06"],
                "allowed",
            ),
            // The same person twice counts once; logins ignore case.
            (
                branch("main"),
                &[
                    "alice maintainer approve 10:05",
                    "Alice maintainer approve 10:07",
                ],
                "waiting: needs 2 approvals from maintainers and admins; approved by alice",
            ),
            // Reviews after `now` have not happened yet.
            (
                branch("main"),
                &["alice maintainer approve 10:05", "bob admin approve 13:00"],
                "waiting: needs 2 approvals from maintainers and admins; approved by alice",
            ),
            // The person who triggered it, or wrote the commit, cannot approve it.
            (
                branch("main"),
                &[
                    "carol maintainer approve 10:01",
                    "dave admin approve 10:02",
                    "alice maintainer approve 10:05",
                ],
                "waiting: needs 2 approvals from maintainers and admins; approved by alice \
                 | the approval by carol does not count: they triggered this deployment \
                 | the approval by dave does not count: they wrote the deployed commit",
            ),
            // Someone who is not a reviewer neither approves nor rejects.
            (
                branch("main"),
                &[
                    "erin developer approve 10:01",
                    "erin developer reject 10:02 no",
                    "erin developer approve 10:03",
                ],
                "waiting: needs 2 approvals from maintainers and admins \
                 | the approval by erin (developer) does not count: they are not a reviewer of this environment \
                 | the rejection by erin (developer) does not count: they are not a reviewer of this environment",
            ),
            // One rejection denies, whatever the approvals.
            (
                branch("main"),
                &[
                    "alice maintainer approve 10:05",
                    "bob admin approve 10:06",
                    "frank admin reject 10:30 breaks the API for mobile",
                ],
                "denied: rejected by frank at 2026-01-05 10:30 UTC: breaks the API for mobile",
            ),
            // The person who triggered it may withdraw it.
            (
                branch("main"),
                &["carol maintainer reject 10:30"],
                "denied: rejected by carol at 2026-01-05 10:30 UTC",
            ),
            (
                branch("feature/x"),
                &["alice maintainer approve 10:05", "bob admin approve 10:06"],
                "denied: branch `feature/x` may not deploy here: allowed branches are `main`, `release/*`",
            ),
            (
                branch("release/2.0/hotfix"),
                &[],
                "denied: branch `release/2.0/hotfix` may not deploy here: allowed branches are `main`, `release/*`",
            ),
            (
                tag("nightly"),
                &[],
                "denied: tag `nightly` may not deploy here: allowed tags are `v*`",
            ),
        ];
        for (git_ref, reviews, expected) in cases {
            let request = request(git_ref.clone(), reviews.iter().map(|r| review(r)).collect());
            assert_eq!(
                show(&evaluate(&production(), &request, now, &zones)),
                *expected,
                "{git_ref} {reviews:?}"
            );
        }
    }

    #[test]
    fn listed_users_and_roles_decide_who_reviews() {
        let now = ts("2026-01-05T12:00:00Z");
        let protection = |users: &[&str], roles: &[Role], allow_self_approval: bool| Protection {
            reviewers: Reviewers {
                required: 1,
                users: users.iter().map(|u| u.to_string()).collect(),
                roles: roles.to_vec(),
                allow_self_approval,
            },
            ..Protection::default()
        };
        let cases: &[(Protection, &str, &str)] = &[
            (
                protection(&["erin"], &[], false),
                "erin developer approve 10:05",
                "allowed",
            ),
            (
                protection(&["ERIN"], &[], false),
                "erin viewer approve 10:05",
                "allowed",
            ),
            (
                protection(&["erin"], &[], false),
                "alice admin approve 10:05",
                "waiting: needs 1 approval from the users `erin` \
                 | the approval by alice (admin) does not count: they are not a reviewer of this environment",
            ),
            (
                protection(&[], &[Role::Developer], false),
                "erin developer approve 10:05",
                "allowed",
            ),
            (
                protection(&["bob"], &[Role::Admin], false),
                "alice maintainer approve 10:05",
                "waiting: needs 1 approval from the users `bob` and the roles `admin` \
                 | the approval by alice (maintainer) does not count: they are not a reviewer of this environment",
            ),
            (
                protection(&[], &[], true),
                "carol maintainer approve 10:05",
                "allowed",
            ),
            (
                protection(&[], &[], true),
                "dave maintainer approve 10:05",
                "allowed",
            ),
            (
                protection(&[], &[], false),
                "carol maintainer approve 10:05",
                "waiting: needs 1 approval from maintainers and admins \
                 | the approval by carol does not count: they triggered this deployment",
            ),
        ];
        for (protection, review_text, expected) in cases {
            let request = request(branch("main"), vec![review(review_text)]);
            assert_eq!(
                show(&evaluate(protection, &request, now, &zones)),
                *expected,
                "{review_text}"
            );
        }
    }

    #[test]
    fn approvals_time_out_and_the_timeout_is_a_recheck_time() {
        let protection = Protection {
            approval_timeout: Some(Duration::from_secs(3600)),
            ..production()
        };
        let one = vec![review("alice maintainer approve 10:05")];
        let two = vec![
            review("alice maintainer approve 10:05"),
            review("bob admin approve 10:59"),
        ];
        let late = vec![
            review("alice maintainer approve 10:05"),
            review("bob admin approve 11:00"),
        ];
        let cases: &[(&[Review], &str, &str)] = &[
            (
                &one,
                "2026-01-05T10:30:00Z",
                "waiting (recheck 2026-01-05 11:00 UTC): needs 2 approvals from maintainers and admins; \
                 approved by alice; expires 2026-01-05 11:00 UTC",
            ),
            (
                &one,
                "2026-01-05T11:00:00Z",
                "denied: approval timed out at 2026-01-05 11:00 UTC with 1 of 2 approvals",
            ),
            // Approved in time: the timeout no longer matters.
            (&two, "2026-01-05T15:00:00Z", "allowed"),
            // An approval at the deadline is too late.
            (
                &late,
                "2026-01-05T11:30:00Z",
                "denied: approval timed out at 2026-01-05 11:00 UTC with 1 of 2 approvals",
            ),
        ];
        for (reviews, now, expected) in cases {
            let request = request(branch("main"), reviews.to_vec());
            assert_eq!(
                show(&evaluate(&protection, &request, ts(now), &zones)),
                *expected,
                "{now}"
            );
        }
    }

    #[test]
    fn the_wait_timer_and_the_windows_hold_an_approved_deployment() {
        let office = Window {
            days: Days::parse("mon-fri").unwrap(),
            hours: Hours::parse("09:00-17:00").unwrap(),
            time_zone: Spanned::new("Europe/Amsterdam".to_string(), Default::default()),
        };
        let weekend = Window {
            days: Days::parse("sat").unwrap(),
            hours: Hours::parse("10:00-12:00").unwrap(),
            time_zone: Spanned::new("UTC".to_string(), Default::default()),
        };
        let protection = Protection {
            reviewers: Reviewers {
                required: 1,
                ..Reviewers::default()
            },
            windows: vec![office, weekend],
            wait_timer: Duration::from_secs(30 * 60),
            ..Protection::default()
        };
        let approved = vec![review("alice maintainer approve 10:05")];
        let cases: &[(&[Review], &str, &str)] = &[
            // Everything at once: approvals, the timer, and (Monday 10:10 in Amsterdam) an
            // open window.
            (
                &[],
                "2026-01-05T10:10:00Z",
                "waiting (recheck 2026-01-05 10:30 UTC): needs 1 approval from maintainers and admins \
                 | wait timer until 2026-01-05 10:30 UTC",
            ),
            (
                &approved,
                "2026-01-05T10:10:00Z",
                "waiting (recheck 2026-01-05 10:30 UTC): wait timer until 2026-01-05 10:30 UTC",
            ),
            (&approved, "2026-01-05T10:30:00Z", "allowed"),
            // 16:00 UTC is 17:00 in Amsterdam: closed until Tuesday 09:00 there.
            (
                &approved,
                "2026-01-05T16:00:00Z",
                "waiting (recheck 2026-01-06 08:00 UTC): outside the deployment windows; \
                 waiting for the window opening Tue 09:00 Europe/Amsterdam",
            ),
            // Friday night: the Saturday window in UTC opens before Monday's.
            (
                &approved,
                "2026-01-09T20:00:00Z",
                "waiting (recheck 2026-01-10 10:00 UTC): outside the deployment windows; \
                 waiting for the window opening Sat 10:00 UTC",
            ),
            (&approved, "2026-01-10T11:00:00Z", "allowed"),
        ];
        for (reviews, now, expected) in cases {
            let request = request(branch("main"), reviews.to_vec());
            assert_eq!(
                show(&evaluate(&protection, &request, ts(now), &zones)),
                *expected,
                "{now}"
            );
        }
    }

    #[test]
    fn a_window_in_an_unknown_time_zone_denies_with_the_name() {
        let protection = Protection {
            windows: vec![Window {
                days: Days::DAILY,
                hours: Hours::ALL_DAY,
                time_zone: Spanned::new("Mars/Olympus".to_string(), Default::default()),
            }],
            ..Protection::default()
        };
        let request = request(branch("main"), Vec::new());
        assert_eq!(
            show(&evaluate(
                &protection,
                &request,
                ts("2026-01-05T10:00:00Z"),
                &zones
            )),
            "denied: a deployment window uses the unknown time zone `Mars/Olympus`; fix `.gantry/environments.yml`"
        );
    }

    #[test]
    fn no_protection_allows_any_ref_at_once() {
        let request = request(tag("anything/at/all"), Vec::new());
        assert_eq!(
            evaluate(
                &Protection::default(),
                &request,
                ts("2026-01-05T10:00:00Z"),
                &zones
            ),
            Decision::Allowed
        );
        // Rules for branches only allow no tags.
        let branches_only = Protection {
            branches: patterns(&["main"]),
            ..Protection::default()
        };
        assert_eq!(
            show(&evaluate(
                &branches_only,
                &request,
                ts("2026-01-05T10:00:00Z"),
                &zones
            )),
            "denied: tag `anything/at/all` may not deploy here: no tags are allowed"
        );
    }

    #[test]
    fn reviews_are_refused_early_with_a_reason() {
        let protection = Protection {
            reviewers: Reviewers {
                required: 1,
                users: vec!["erin".to_string()],
                roles: vec![Role::Maintainer, Role::Admin],
                allow_self_approval: false,
            },
            ..Protection::default()
        };
        let approved = request(
            branch("main"),
            vec![review("alice maintainer approve 10:05")],
        );
        let rejected = request(branch("main"), vec![review("bob admin reject 10:05")]);
        let fresh = request(branch("main"), Vec::new());
        // The request, who reviews with which role and verdict, and the answer.
        type Case<'r> = (&'r Request, &'r str, Role, Verdict, Result<(), &'r str>);
        let cases: &[Case] = &[
            (&fresh, "alice", Role::Maintainer, Verdict::Approve, Ok(())),
            (&fresh, "erin", Role::Developer, Verdict::Approve, Ok(())),
            (&fresh, "alice", Role::Maintainer, Verdict::Reject, Ok(())),
            (
                &fresh,
                "frank",
                Role::Developer,
                Verdict::Approve,
                Err(
                    "frank (developer) may not review deployments to this environment: \
                     its reviewers are the users `erin` and the roles `maintainer`, `admin`",
                ),
            ),
            (
                &fresh,
                "carol",
                Role::Admin,
                Verdict::Approve,
                Err(
                    "carol triggered this deployment and may not approve it; another reviewer \
                     must (or set `allow-self-approval: true` in the environment's protection)",
                ),
            ),
            (
                &fresh,
                "DAVE",
                Role::Admin,
                Verdict::Approve,
                Err(
                    "DAVE wrote the deployed commit and may not approve it; another reviewer \
                     must (or set `allow-self-approval: true` in the environment's protection)",
                ),
            ),
            (&fresh, "carol", Role::Admin, Verdict::Reject, Ok(())),
            (
                &approved,
                "alice",
                Role::Maintainer,
                Verdict::Approve,
                Err("alice already approved this deployment"),
            ),
            (&approved, "bob", Role::Admin, Verdict::Approve, Ok(())),
            (
                &rejected,
                "alice",
                Role::Maintainer,
                Verdict::Approve,
                Err("this deployment was already rejected by bob"),
            ),
        ];
        for (request, login, role, verdict, expected) in cases {
            assert_eq!(
                can_review(&protection, request, login, *role, *verdict),
                expected.map_err(str::to_string),
                "{login} {verdict:?}"
            );
        }
        assert_eq!(
            can_review(
                &Protection::default(),
                &fresh,
                "alice",
                Role::Admin,
                Verdict::Approve
            ),
            Err("this environment needs no approval".to_string())
        );
    }

    #[test]
    fn ref_patterns_follow_github_deployment_globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("main", "main", true),
            ("main", "mainline", false),
            ("release/*", "release/1.0", true),
            ("release/*", "release/", true),
            ("release/*", "release/1.0/hotfix", false),
            ("release/**", "release/1.0/hotfix", true),
            ("release/*/*", "release/1.0/hotfix", true),
            ("**", "any/thing", true),
            ("*", "feature/x", false),
            ("v*", "v1.2.3", true),
            ("v*", "1.2.3", false),
            ("v?.*", "v1.2", true),
            ("v?.*", "v10.2", false),
            ("v?", "v/", false),
            ("v[0-9]*", "v3", true),
            ("v[0-9]*", "vx", false),
            ("v[!0-9]*", "vx", true),
            ("v[!0-9]*", "v3", false),
            ("[]]", "]", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*-rc*", "v1-rc2", true),
            ("**/hotfix", "a/b/hotfix", true),
            ("**/hotfix", "hotfix", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                RefPattern::new(pattern).unwrap().matches(name),
                *expected,
                "{pattern} on {name}"
            );
        }
    }

    #[test]
    fn bad_ref_patterns_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "a pattern must not be empty"),
            ("v[0-9", "`[` is not closed by `]`"),
            ("v[9-0]", "the range `9-0` is backwards"),
            ("a\\", "`\\` at the end escapes nothing"),
            (
                "refs/heads/main",
                "write the name without its `refs/…/` prefix: `main`",
            ),
        ];
        for (pattern, message) in cases {
            assert_eq!(RefPattern::new(pattern).unwrap_err(), *message, "{pattern}");
        }
    }
}
