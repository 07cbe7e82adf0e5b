//! Forge webhooks, without I/O: [`verify`] checks that a delivery comes from the forge (an
//! HMAC-SHA256 signature for GitHub and Gitea/Forgejo, a shared token for GitLab) and [`parse`]
//! turns the deliveries Gantry acts on — pushes (branches and tags) and pull/merge requests —
//! into a [`ForgeEvent`].
//!
//! Every event carries a `payload` shaped like GitHub's, because that is what workflows read as
//! `github.event`: GitHub's and Gitea's payloads are passed through, GitLab's are rebuilt.

use axum::http::HeaderMap;
use gantry_store::Forge;
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// A delivery Gantry acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct ForgeEvent {
    /// The repository's full name, `owner/name` (GitLab: `path_with_namespace`, possibly with
    /// subgroups).
    pub repository: String,
    /// The repository's clone URL as the forge gives it.
    pub clone_url: String,
    /// The login of whoever pushed or acted on the pull request.
    pub sender: String,
    pub kind: ForgeEventKind,
    /// The payload as GitHub would give it to `github.event`.
    pub payload: Value,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum ForgeEventKind {
    /// A branch or tag was pushed, created or deleted.
    Push {
        /// The full ref: `refs/heads/main`, `refs/tags/v1.0`.
        git_ref: String,
        before: String,
        after: String,
        /// The ref was deleted (`after` is all zeros).
        deleted: bool,
        /// The union of the files the pushed commits added, modified or removed, when the
        /// payload lists every pushed commit with its files; `None` when it does not (no commits
        /// listed, a truncated list, a deletion).
        changed_files: Option<Vec<String>>,
        /// The first line of the head commit's message (empty when there is none).
        title: String,
    },
    PullRequest {
        action: PullRequestAction,
        number: u64,
        title: String,
        /// The full target ref, `refs/heads/main`.
        base_ref: String,
        /// The target branch's commit; empty when the forge does not say (GitLab).
        base_sha: String,
        /// The full source ref, `refs/heads/feature`.
        head_ref: String,
        head_sha: String,
        /// Where the head commit can be fetched from (the fork's URL for a fork); empty when
        /// the head repository is gone.
        head_clone_url: String,
        /// The head lives in another repository than the base.
        fork: bool,
    },
}

/// What happened to a pull (merge) request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullRequestAction {
    Opened,
    /// New commits were pushed to the head.
    Synchronize,
    Reopened,
    /// Closed or merged.
    Closed,
    /// Anything else (edited, labeled, approved…), as the forge names it.
    Other(String),
}

impl PullRequestAction {
    /// The name GitHub gives the action (`github.event.action`).
    pub fn as_github(&self) -> &str {
        match self {
            PullRequestAction::Opened => "opened",
            PullRequestAction::Synchronize => "synchronize",
            PullRequestAction::Reopened => "reopened",
            PullRequestAction::Closed => "closed",
            PullRequestAction::Other(other) => other,
        }
    }
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error(
        "this repository has no forge configured: set its forge (GitHub, Gitea/Forgejo or GitLab) before pointing webhooks at it"
    )]
    NoForge,
    #[error(
        "this repository has no webhook secret: set one in Gantry and enter the same secret in the forge's webhook settings"
    )]
    NoSecret,
    #[error(
        "the delivery has no {expected} header: set the webhook secret in the forge's webhook settings to the one Gantry shows for this repository"
    )]
    MissingSignature { expected: &'static str },
    #[error("the {header} header is malformed ({problem}): check that the sender is {forge}")]
    MalformedSignature {
        header: &'static str,
        problem: &'static str,
        forge: &'static str,
    },
    #[error(
        "signature does not match: check that the webhook secret configured on the forge is the one Gantry shows for this repository"
    )]
    SignatureMismatch,
    #[error(
        "the X-Gitlab-Token header does not match: check that the secret token configured on GitLab is the one Gantry shows for this repository"
    )]
    TokenMismatch,
    #[error("the delivery has no {expected} header: check that the sender is {forge}")]
    MissingEvent {
        expected: &'static str,
        forge: &'static str,
    },
    #[error(
        "the webhook body is not valid JSON at {line}:{column} ({message}): set the webhook's content type to application/json on the forge"
    )]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "the webhook body is form-encoded but has no valid `payload` field: set the webhook's content type to application/json on the forge"
    )]
    InvalidForm,
    #[error(
        "the {forge} {event} payload has no `{field}`: check that the webhook is a {forge} webhook sending JSON"
    )]
    MissingField {
        forge: &'static str,
        event: String,
        field: String,
    },
}

fn forge_name(forge: Forge) -> &'static str {
    match forge {
        Forge::None => "no forge",
        Forge::Github => "GitHub",
        Forge::Gitea => "Gitea/Forgejo",
        Forge::Gitlab => "GitLab",
    }
}

const HUB_SIGNATURE: &str = "X-Hub-Signature-256";

/// Checks that `body` was sent by the forge that knows `secret`.
///
/// GitHub signs with `X-Hub-Signature-256: sha256=<hex>`; Gitea and Forgejo with
/// `X-Gitea-Signature` / `X-Forgejo-Signature` (bare hex) and also the GitHub header; GitLab sends
/// the secret itself in `X-Gitlab-Token`. Every comparison is constant-time.
pub fn verify(
    forge: Forge,
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    if forge == Forge::None {
        return Err(WebhookError::NoForge);
    }
    // With an empty secret anyone could compute the signature.
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let name = forge_name(forge);
    match forge {
        Forge::None => Err(WebhookError::NoForge),
        Forge::Github => {
            let value =
                header(headers, HUB_SIGNATURE, name)?.ok_or(WebhookError::MissingSignature {
                    expected: HUB_SIGNATURE,
                })?;
            check_hmac(
                secret,
                body,
                HUB_SIGNATURE,
                prefixed_hex(value, name)?,
                name,
            )
        }
        Forge::Gitea => {
            for bare in ["X-Gitea-Signature", "X-Forgejo-Signature"] {
                if let Some(value) = header(headers, bare, name)? {
                    return check_hmac(secret, body, bare, value, name);
                }
            }
            let value =
                header(headers, HUB_SIGNATURE, name)?.ok_or(WebhookError::MissingSignature {
                    expected: "X-Gitea-Signature (or X-Forgejo-Signature)",
                })?;
            check_hmac(
                secret,
                body,
                HUB_SIGNATURE,
                prefixed_hex(value, name)?,
                name,
            )
        }
        Forge::Gitlab => {
            let token =
                header(headers, "X-Gitlab-Token", name)?.ok_or(WebhookError::MissingSignature {
                    expected: "X-Gitlab-Token",
                })?;
            if same_bytes(token.as_bytes(), secret) {
                Ok(())
            } else {
                Err(WebhookError::TokenMismatch)
            }
        }
    }
}

/// A header's value as text; `None` when absent.
fn header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
    forge: &'static str,
) -> Result<Option<&'h str>, WebhookError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(|text| Some(text.trim())).map_err(|_| {
            WebhookError::MalformedSignature {
                header: name,
                problem: "not ASCII text",
                forge,
            }
        }),
    }
}

fn prefixed_hex<'v>(value: &'v str, forge: &'static str) -> Result<&'v str, WebhookError> {
    value
        .strip_prefix("sha256=")
        .ok_or(WebhookError::MalformedSignature {
            header: HUB_SIGNATURE,
            problem: "it does not start with `sha256=`",
            forge,
        })
}

fn check_hmac(
    secret: &[u8],
    body: &[u8],
    header: &'static str,
    hex: &str,
    forge: &'static str,
) -> Result<(), WebhookError> {
    let expected = decode_hex(hex).ok_or(WebhookError::MalformedSignature {
        header,
        problem: "not a hexadecimal SHA-256 digest",
        forge,
    })?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::SignatureMismatch)
}

/// 64 hex digits (either case) → 32 bytes.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high * 16 + low) as u8)
        })
        .collect()
}

/// Constant-time equality that does not reveal the secret's length either: both sides are
/// hashed first.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Reads a delivery: `Ok(None)` for the events Gantry does not act on (ping, issues, comments…).
///
/// Call [`verify`] first. Both JSON bodies and GitHub/Gitea's form-encoded bodies
/// (`payload=<json>`) are understood.
pub fn parse(
    forge: Forge,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<ForgeEvent>, WebhookError> {
    let name = forge_name(forge);
    let event = match forge {
        Forge::None => return Err(WebhookError::NoForge),
        Forge::Github => event_header(headers, &["X-GitHub-Event"], "X-GitHub-Event", name)?,
        Forge::Gitea => event_header(
            headers,
            &["X-Gitea-Event", "X-Forgejo-Event", "X-GitHub-Event"],
            "X-Gitea-Event (or X-Forgejo-Event)",
            name,
        )?,
        Forge::Gitlab => event_header(headers, &["X-Gitlab-Event"], "X-Gitlab-Event", name)?,
    };
    let wanted = match forge {
        Forge::Gitlab => matches!(
            event.as_str(),
            "Push Hook" | "Tag Push Hook" | "Merge Request Hook"
        ),
        _ => matches!(
            event.as_str(),
            "push" | "pull_request" | "pull_request_sync"
        ),
    };
    if !wanted {
        return Ok(None);
    }
    let payload = read_body(headers, body)?;
    let reader = Reader {
        forge: name,
        event: &event,
        payload: &payload,
    };
    match (forge, event.as_str()) {
        (Forge::Gitlab, "Merge Request Hook") => reader.gitlab_merge_request().map(Some),
        (Forge::Gitlab, _) => reader.gitlab_push().map(Some),
        (_, "push") => reader.github_push().map(Some),
        _ => reader.github_pull_request().map(Some),
    }
}

fn event_header(
    headers: &HeaderMap,
    names: &[&'static str],
    expected: &'static str,
    forge: &'static str,
) -> Result<String, WebhookError> {
    names
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(|value| value.trim().to_owned())
        .ok_or(WebhookError::MissingEvent { expected, forge })
}

fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, WebhookError> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let json = if form {
        form_payload(body).ok_or(WebhookError::InvalidForm)?
    } else {
        body.to_vec()
    };
    serde_json::from_slice(&json).map_err(|err| WebhookError::InvalidJson {
        line: err.line(),
        column: err.column(),
        message: without_position(&err),
    })
}

/// serde's message without its trailing " at line L column C".
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The decoded `payload` field of an `application/x-www-form-urlencoded` body.
fn form_payload(body: &[u8]) -> Option<Vec<u8>> {
    let field = body
        .split(|&b| b == b'&')
        .find_map(|pair| pair.strip_prefix(b"payload="))?;
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = (*bytes.next()? as char).to_digit(16)?;
                let low = (*bytes.next()? as char).to_digit(16)?;
                out.push((high * 16 + low) as u8);
            }
            _ => out.push(b),
        }
    }
    Some(out)
}

fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_owned()
}

fn full_branch_ref(branch: &str) -> String {
    if branch.starts_with("refs/") {
        branch.to_owned()
    } else {
        format!("refs/heads/{branch}")
    }
}

/// Reads fields out of one payload, naming the missing one in its error.
struct Reader<'p> {
    forge: &'static str,
    event: &'p str,
    payload: &'p Value,
}

impl<'p> Reader<'p> {
    fn missing(&self, path: &str) -> WebhookError {
        WebhookError::MissingField {
            forge: self.forge,
            event: self.event.to_owned(),
            field: path.to_owned(),
        }
    }

    fn get(&self, path: &str) -> Option<&'p Value> {
        path.split('.')
            .try_fold(self.payload, |value, key| value.get(key))
            .filter(|value| !value.is_null())
    }

    fn text(&self, path: &str) -> Result<String, WebhookError> {
        self.get(path)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.missing(path))
    }

    fn text_or_empty(&self, path: &str) -> String {
        self.get(path)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    }

    fn number(&self, path: &str) -> Result<u64, WebhookError> {
        self.get(path)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.missing(path))
    }

    /// The first of `paths` holding text.
    fn first_text(&self, paths: &[&str]) -> Result<String, WebhookError> {
        paths
            .iter()
            .find_map(|path| self.get(path).and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| self.missing(paths[0]))
    }

    /// GitHub's and Gitea's push.
    fn github_push(&self) -> Result<ForgeEvent, WebhookError> {
        let after = self.text("after")?;
        let deleted =
            is_zero_sha(&after) || self.get("deleted").and_then(Value::as_bool) == Some(true);
        let changed_files = if deleted {
            None
        } else {
            changed_files(self.get("commits"), self.get("total_commits"))
        };
        Ok(ForgeEvent {
            repository: self.text("repository.full_name")?,
            clone_url: self.text("repository.clone_url")?,
            sender: self.first_text(&["sender.login", "sender.username", "pusher.name"])?,
            kind: ForgeEventKind::Push {
                git_ref: self.text("ref")?,
                before: self.text_or_empty("before"),
                after,
                deleted,
                changed_files,
                title: first_line(&self.text_or_empty("head_commit.message")),
            },
            payload: self.payload.clone(),
        })
    }

    /// GitHub's and Gitea's pull request.
    fn github_pull_request(&self) -> Result<ForgeEvent, WebhookError> {
        let action = match self.text("action")?.as_str() {
            "opened" => PullRequestAction::Opened,
            // Gitea says "synchronized".
            "synchronize" | "synchronized" => PullRequestAction::Synchronize,
            "reopened" => PullRequestAction::Reopened,
            "closed" => PullRequestAction::Closed,
            other => PullRequestAction::Other(other.to_owned()),
        };
        let base_repo = self.text("pull_request.base.repo.full_name")?;
        // A deleted fork leaves `head.repo` null.
        let head_repo = self
            .get("pull_request.head.repo.full_name")
            .and_then(Value::as_str);
        let fork = head_repo.is_none_or(|head| !head.eq_ignore_ascii_case(&base_repo));
        Ok(ForgeEvent {
            repository: self.text("repository.full_name")?,
            clone_url: self.text("repository.clone_url")?,
            sender: self.first_text(&["sender.login", "sender.username"])?,
            kind: ForgeEventKind::PullRequest {
                action,
                number: self.number("pull_request.number")?,
                title: self.text("pull_request.title")?,
                base_ref: full_branch_ref(&self.text("pull_request.base.ref")?),
                base_sha: self.text("pull_request.base.sha")?,
                head_ref: full_branch_ref(&self.text("pull_request.head.ref")?),
                head_sha: self.text("pull_request.head.sha")?,
                head_clone_url: self.text_or_empty("pull_request.head.repo.clone_url"),
                fork,
            },
            payload: self.payload.clone(),
        })
    }

    /// GitLab's "Push Hook" and "Tag Push Hook".
    fn gitlab_push(&self) -> Result<ForgeEvent, WebhookError> {
        let git_ref = self.text("ref")?;
        let before = self.text_or_empty("before");
        let after = self.text("after")?;
        let deleted = is_zero_sha(&after);
        let repository = self.text("project.path_with_namespace")?;
        let clone_url = self.first_text(&["project.git_http_url", "repository.git_http_url"])?;
        let sender = self.text("user_username")?;
        let commits = self.get("commits").and_then(Value::as_array);
        let head = commits.and_then(|commits| {
            commits
                .iter()
                .find(|commit| commit.get("id").and_then(Value::as_str) == Some(after.as_str()))
        });
        let title = first_line(
            head.and_then(|commit| commit.get("message"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
        let changed_files = if deleted {
            None
        } else {
            changed_files(self.get("commits"), self.get("total_commits_count"))
        };
        let owner = repository.rsplit_once('/').map_or("", |(owner, _)| owner);
        let github_commits: Vec<Value> = commits
            .into_iter()
            .flatten()
            .map(|commit| gitlab_commit(commit, &sender))
            .collect();
        let payload = json!({
            "ref": git_ref,
            "before": before,
            "after": after,
            "created": is_zero_sha(&before),
            "deleted": deleted,
            "forced": false,
            "compare": "",
            "commits": github_commits,
            "head_commit": head.map(|commit| gitlab_commit(commit, &sender)),
            "pusher": {
                "name": self.text_or_empty("user_name"),
                "email": self.text_or_empty("user_email"),
            },
            "repository": self.gitlab_repository("project", &repository, owner),
            "sender": { "login": sender, "avatar_url": self.text_or_empty("user_avatar") },
        });
        Ok(ForgeEvent {
            repository,
            clone_url,
            sender,
            kind: ForgeEventKind::Push {
                git_ref,
                before,
                after,
                deleted,
                changed_files,
                title,
            },
            payload,
        })
    }

    /// A GitHub-shaped `repository` object from GitLab's project at `at`.
    fn gitlab_repository(&self, at: &str, full_name: &str, owner: &str) -> Value {
        let field = |name: &str| self.text_or_empty(&format!("{at}.{name}"));
        json!({
            "full_name": full_name,
            "name": field("name"),
            "owner": { "login": owner },
            "clone_url": field("git_http_url"),
            "ssh_url": field("git_ssh_url"),
            "html_url": field("web_url"),
            "default_branch": field("default_branch"),
            "private": self.get(&format!("{at}.visibility_level")).and_then(Value::as_u64) == Some(0),
        })
    }

    /// GitLab's "Merge Request Hook".
    fn gitlab_merge_request(&self) -> Result<ForgeEvent, WebhookError> {
        let gitlab_action = self.text_or_empty("object_attributes.action");
        let action = match gitlab_action.as_str() {
            "open" => PullRequestAction::Opened,
            "update" if self.get("object_attributes.oldrev").is_some() => {
                PullRequestAction::Synchronize
            }
            "update" => PullRequestAction::Other("edited".to_owned()),
            "reopen" => PullRequestAction::Reopened,
            "close" | "merge" => PullRequestAction::Closed,
            other => PullRequestAction::Other(other.to_owned()),
        };
        let number = self.number("object_attributes.iid")?;
        let title = self.text("object_attributes.title")?;
        let base_branch = self.text("object_attributes.target_branch")?;
        let head_branch = self.text("object_attributes.source_branch")?;
        let head_sha = self.text("object_attributes.last_commit.id")?;
        let base_sha = self.text_or_empty("object_attributes.diff_refs.base_sha");
        let repository = self.first_text(&[
            "object_attributes.target.path_with_namespace",
            "project.path_with_namespace",
        ])?;
        let clone_url = self.first_text(&[
            "object_attributes.target.git_http_url",
            "project.git_http_url",
        ])?;
        let head_repository = self.first_text(&[
            "object_attributes.source.path_with_namespace",
            "project.path_with_namespace",
        ])?;
        let head_clone_url = self.first_text(&[
            "object_attributes.source.git_http_url",
            "project.git_http_url",
        ])?;
        let fork = match (
            self.get("object_attributes.source_project_id")
                .and_then(Value::as_u64),
            self.get("object_attributes.target_project_id")
                .and_then(Value::as_u64),
        ) {
            (Some(source), Some(target)) => source != target,
            _ => !head_repository.eq_ignore_ascii_case(&repository),
        };
        let sender = self.text("user.username")?;
        let owner = repository.rsplit_once('/').map_or("", |(owner, _)| owner);
        let head_owner = head_repository
            .rsplit_once('/')
            .map_or("", |(owner, _)| owner);
        let target_repo = self.gitlab_repository("object_attributes.target", &repository, owner);
        let source_repo =
            self.gitlab_repository("object_attributes.source", &head_repository, head_owner);
        let state = self.text_or_empty("object_attributes.state");
        let author = self.text_or_empty("user.username");
        let pull_request = json!({
            "number": number,
            "title": title,
            "body": self.text_or_empty("object_attributes.description"),
            "state": if state == "opened" { "open" } else { "closed" },
            "merged": state == "merged",
            "draft": self.get("object_attributes.draft").and_then(Value::as_bool).unwrap_or(false),
            "html_url": self.text_or_empty("object_attributes.url"),
            "user": { "login": author },
            "head": {
                "ref": head_branch,
                "sha": head_sha,
                "label": format!("{head_owner}:{head_branch}"),
                "repo": source_repo,
            },
            "base": {
                "ref": base_branch,
                "sha": base_sha,
                "label": format!("{owner}:{base_branch}"),
                "repo": target_repo,
            },
        });
        let mut payload = Map::new();
        payload.insert("action".into(), action.as_github().into());
        payload.insert("number".into(), number.into());
        payload.insert("pull_request".into(), pull_request);
        payload.insert("repository".into(), target_repo);
        payload.insert("sender".into(), json!({ "login": sender }));
        if let Some(before) = self.get("object_attributes.oldrev") {
            payload.insert("before".into(), before.clone());
            payload.insert("after".into(), head_sha.clone().into());
        }
        Ok(ForgeEvent {
            repository,
            clone_url,
            sender,
            kind: ForgeEventKind::PullRequest {
                action,
                number,
                title,
                base_ref: full_branch_ref(&base_branch),
                base_sha,
                head_ref: full_branch_ref(&head_branch),
                head_sha,
                head_clone_url,
                fork,
            },
            payload: Value::Object(payload),
        })
    }
}

/// A GitHub-shaped commit from a GitLab one.
fn gitlab_commit(commit: &Value, committer: &str) -> Value {
    let text = |key: &str| commit.get(key).and_then(Value::as_str).unwrap_or("");
    let author = |key: &str| {
        commit
            .get("author")
            .and_then(|author| author.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let files = |key: &str| commit.get(key).cloned().unwrap_or_else(|| json!([]));
    json!({
        "id": text("id"),
        "tree_id": "",
        "message": text("message"),
        "timestamp": text("timestamp"),
        "url": text("url"),
        "author": { "name": author("name"), "email": author("email") },
        "committer": { "name": author("name"), "email": author("email"), "username": committer },
        "added": files("added"),
        "modified": files("modified"),
        "removed": files("removed"),
    })
}

const GITHUB_MAX_LISTED_COMMITS: usize = 2048;

/// The union (sorted, without duplicates) of the commits' added, modified and removed files;
/// `None` when there are no commits, when the forge says it listed only some of them
/// (`total` above the list's length), or when a commit lacks the file lists.
fn changed_files(commits: Option<&Value>, total: Option<&Value>) -> Option<Vec<String>> {
    let commits = commits?.as_array()?;
    // GitHub lists at most this many commits and gives no total.
    if commits.is_empty() || commits.len() >= GITHUB_MAX_LISTED_COMMITS {
        return None;
    }
    if let Some(total) = total.and_then(Value::as_u64)
        && total > commits.len() as u64
    {
        return None;
    }
    let mut files = std::collections::BTreeSet::new();
    for commit in commits {
        for key in ["added", "modified", "removed"] {
            for file in commit.get(key)?.as_array()? {
                files.insert(file.as_str()?.to_owned());
            }
        }
    }
    Some(files.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    const SECRET: &[u8] = b"It's a Secret to Everybody";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/test_data/webhooks/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    #[test]
    fn github_documented_signature_verifies() {
        let body = b"Hello, World!";
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(format!("sha256={}", sign(SECRET, body)), signature);
        let h = headers(&[("X-Hub-Signature-256", signature)]);
        assert_eq!(verify(Forge::Github, SECRET, &h, body), Ok(()));
    }

    #[test]
    fn github_signatures() {
        let body = fixture("github-push");
        let good = format!("sha256={}", sign(SECRET, &body));
        let upper = format!("sha256={}", sign(SECRET, &body).to_uppercase());
        let ok = |value: &str| {
            verify(
                Forge::Github,
                SECRET,
                &headers(&[(HUB_SIGNATURE, value)]),
                &body,
            )
        };
        assert_eq!(ok(&good), Ok(()));
        assert_eq!(ok(&upper), Ok(()));
        let wrong = format!("sha256={}", sign(b"another secret", &body));
        assert_eq!(ok(&wrong), Err(WebhookError::SignatureMismatch));
        // The body was changed on the way.
        let mut tampered = body.clone();
        tampered.push(b'\n');
        assert_eq!(
            verify(
                Forge::Github,
                SECRET,
                &headers(&[(HUB_SIGNATURE, &good)]),
                &tampered
            ),
            Err(WebhookError::SignatureMismatch)
        );
        assert!(matches!(
            ok(&sign(SECRET, &body)),
            Err(WebhookError::MalformedSignature { problem, .. }) if problem.contains("sha256=")
        ));
        assert!(matches!(
            ok("sha256=zz"),
            Err(WebhookError::MalformedSignature { problem, .. }) if problem.contains("hexadecimal")
        ));
        assert!(matches!(
            ok(&format!("sha256={}", &sign(SECRET, &body)[..62])),
            Err(WebhookError::MalformedSignature { .. })
        ));
        assert_eq!(
            verify(Forge::Github, SECRET, &HeaderMap::new(), &body),
            Err(WebhookError::MissingSignature {
                expected: "X-Hub-Signature-256"
            })
        );
        // GitHub's header is not GitLab's token.
        assert_eq!(
            verify(
                Forge::Github,
                SECRET,
                &headers(&[("X-Gitlab-Token", "It's a Secret to Everybody")]),
                &body
            ),
            Err(WebhookError::MissingSignature {
                expected: "X-Hub-Signature-256"
            })
        );
    }

    #[test]
    fn gitea_and_forgejo_signatures() {
        let body = fixture("gitea-push");
        let hex = sign(SECRET, &body);
        for header in ["X-Gitea-Signature", "X-Forgejo-Signature"] {
            assert_eq!(
                verify(Forge::Gitea, SECRET, &headers(&[(header, &hex)]), &body),
                Ok(())
            );
            assert_eq!(
                verify(Forge::Gitea, b"wrong", &headers(&[(header, &hex)]), &body),
                Err(WebhookError::SignatureMismatch)
            );
            assert!(matches!(
                verify(Forge::Gitea, SECRET, &headers(&[(header, "not hex")]), &body),
                Err(WebhookError::MalformedSignature { header: h, .. }) if h == header
            ));
        }
        let hub = format!("sha256={hex}");
        assert_eq!(
            verify(
                Forge::Gitea,
                SECRET,
                &headers(&[(HUB_SIGNATURE, &hub)]),
                &body
            ),
            Ok(())
        );
        // The Gitea header decides when both are there.
        let wrong = sign(b"wrong", &body);
        assert_eq!(
            verify(
                Forge::Gitea,
                SECRET,
                &headers(&[("X-Gitea-Signature", &wrong), (HUB_SIGNATURE, &hub)]),
                &body
            ),
            Err(WebhookError::SignatureMismatch)
        );
        let missing = verify(Forge::Gitea, SECRET, &HeaderMap::new(), &body).unwrap_err();
        assert!(
            missing.to_string().contains("X-Gitea-Signature"),
            "{missing}"
        );
    }

    #[test]
    fn gitlab_token() {
        let body = fixture("gitlab-push");
        let token = std::str::from_utf8(SECRET).unwrap();
        assert_eq!(
            verify(
                Forge::Gitlab,
                SECRET,
                &headers(&[("X-Gitlab-Token", token)]),
                &body
            ),
            Ok(())
        );
        for wrong in [
            "It's a Secret to Everybod",
            "It's a Secret to Everybodyy",
            "x",
        ] {
            assert_eq!(
                verify(
                    Forge::Gitlab,
                    SECRET,
                    &headers(&[("X-Gitlab-Token", wrong)]),
                    &body
                ),
                Err(WebhookError::TokenMismatch)
            );
        }
        // A GitHub-style signature is no GitLab token.
        let hub = format!("sha256={}", sign(SECRET, &body));
        assert_eq!(
            verify(
                Forge::Gitlab,
                SECRET,
                &headers(&[(HUB_SIGNATURE, &hub)]),
                &body
            ),
            Err(WebhookError::MissingSignature {
                expected: "X-Gitlab-Token"
            })
        );
    }

    #[test]
    fn no_forge_or_no_secret_accepts_nothing() {
        let body = b"{}";
        let empty_signed = format!("sha256={}", sign(b"", body));
        let h = headers(&[(HUB_SIGNATURE, &empty_signed), ("X-Gitlab-Token", "")]);
        assert_eq!(
            verify(Forge::Github, b"", &h, body),
            Err(WebhookError::NoSecret)
        );
        assert_eq!(
            verify(Forge::Gitlab, b"", &h, body),
            Err(WebhookError::NoSecret)
        );
        assert_eq!(
            verify(Forge::None, SECRET, &h, body),
            Err(WebhookError::NoForge)
        );
        assert_eq!(parse(Forge::None, &h, body), Err(WebhookError::NoForge));
    }

    #[test]
    fn error_messages_say_what_to_do() {
        assert_eq!(
            WebhookError::SignatureMismatch.to_string(),
            "signature does not match: check that the webhook secret configured on the forge is the one Gantry shows for this repository"
        );
        for err in [
            WebhookError::NoForge,
            WebhookError::NoSecret,
            WebhookError::MissingSignature {
                expected: HUB_SIGNATURE,
            },
            WebhookError::TokenMismatch,
            WebhookError::InvalidForm,
        ] {
            let text = err.to_string();
            assert!(text.contains(": ") && !text.ends_with('.'), "{text}");
        }
    }

    fn parsed(forge: Forge, event: (&str, &str), name: &str) -> ForgeEvent {
        parse(forge, &headers(&[event]), &fixture(name))
            .unwrap()
            .unwrap_or_else(|| panic!("{name} was ignored"))
    }

    #[test]
    fn github_push() {
        let event = parsed(Forge::Github, ("X-GitHub-Event", "push"), "github-push");
        assert_eq!(event.repository, "acme/web");
        assert_eq!(event.clone_url, "https://github.com/acme/web.git");
        assert_eq!(event.sender, "octocat");
        assert_eq!(
            event.kind,
            ForgeEventKind::Push {
                git_ref: "refs/heads/main".into(),
                before: "9049f1265b7d61be4a8904a9a27120d2064dab3b".into(),
                after: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c".into(),
                deleted: false,
                changed_files: Some(vec![
                    "src/footer.html".into(),
                    "src/index.html".into(),
                    "src/old-footer.html".into(),
                    "src/pricing.html".into(),
                ]),
                title: "Fix the footer links".into(),
            }
        );
        let original: Value = serde_json::from_slice(&fixture("github-push")).unwrap();
        assert_eq!(event.payload, original);
    }

    #[test]
    fn github_pull_request_from_a_fork() {
        let event = parsed(
            Forge::Github,
            ("X-GitHub-Event", "pull_request"),
            "github-pull_request",
        );
        assert_eq!(event.repository, "acme/web");
        assert_eq!(event.clone_url, "https://github.com/acme/web.git");
        assert_eq!(event.sender, "contributor");
        assert_eq!(
            event.kind,
            ForgeEventKind::PullRequest {
                action: PullRequestAction::Opened,
                number: 42,
                title: "Translate the home page to French".into(),
                base_ref: "refs/heads/main".into(),
                base_sha: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c".into(),
                head_ref: "refs/heads/french".into(),
                head_sha: "a3c0e1f6b7d8e9f0a1b2c3d4e5f60718293a4b5c".into(),
                head_clone_url: "https://github.com/contributor/web.git".into(),
                fork: true,
            }
        );
        assert_eq!(
            event.payload["pull_request"]["user"]["login"],
            "contributor"
        );
    }

    /// The fixture edited with `edit` and parsed as a GitHub pull request.
    fn github_pull_request_edited(edit: impl FnOnce(&mut Value)) -> ForgeEvent {
        let mut payload: Value = serde_json::from_slice(&fixture("github-pull_request")).unwrap();
        edit(&mut payload);
        let body = serde_json::to_vec(&payload).unwrap();
        parse(
            Forge::Github,
            &headers(&[("X-GitHub-Event", "pull_request")]),
            &body,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn fork_detection() {
        let fork = |event: &ForgeEvent| match &event.kind {
            ForgeEventKind::PullRequest {
                fork,
                head_clone_url,
                ..
            } => (*fork, head_clone_url.clone()),
            other => panic!("{other:?}"),
        };
        let same = github_pull_request_edited(|p| {
            p["pull_request"]["head"]["repo"] = p["pull_request"]["base"]["repo"].clone();
        });
        assert_eq!(
            fork(&same),
            (false, "https://github.com/acme/web.git".into())
        );
        // The fork was deleted after the pull request was opened.
        let gone = github_pull_request_edited(|p| p["pull_request"]["head"]["repo"] = Value::Null);
        assert_eq!(fork(&gone), (true, String::new()));
    }

    #[test]
    fn pull_request_actions() {
        for (github, expected) in [
            ("synchronize", PullRequestAction::Synchronize),
            ("synchronized", PullRequestAction::Synchronize),
            ("reopened", PullRequestAction::Reopened),
            ("closed", PullRequestAction::Closed),
            ("labeled", PullRequestAction::Other("labeled".into())),
        ] {
            let event = github_pull_request_edited(|p| p["action"] = github.into());
            match event.kind {
                ForgeEventKind::PullRequest { action, .. } => {
                    assert_eq!(action, expected, "{github}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn gitea_push() {
        for header in ["X-Gitea-Event", "X-Forgejo-Event"] {
            let event = parsed(Forge::Gitea, (header, "push"), "gitea-push");
            assert_eq!(event.repository, "team/api");
            assert_eq!(event.clone_url, "https://git.example.org/team/api.git");
            assert_eq!(event.sender, "jo");
            assert_eq!(
                event.kind,
                ForgeEventKind::Push {
                    git_ref: "refs/heads/develop".into(),
                    before: "e5ae1a6d0bca5b2f0b5f9bda2de2ef1e4c8f1a3e".into(),
                    after: "7c2b7a1f95c7a1c3a1db9a51d29e7b1b3a4c5d6e".into(),
                    deleted: false,
                    changed_files: Some(vec!["Cargo.toml".into(), "src/version.rs".into()]),
                    title: "Bump the API version".into(),
                }
            );
            assert_eq!(event.payload["repository"]["full_name"], "team/api");
        }
    }

    #[test]
    fn gitea_truncated_commit_list_gives_no_changed_files() {
        let mut payload: Value = serde_json::from_slice(&fixture("gitea-push")).unwrap();
        payload["total_commits"] = 9.into();
        let body = serde_json::to_vec(&payload).unwrap();
        let event = parse(Forge::Gitea, &headers(&[("X-Gitea-Event", "push")]), &body)
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                event.kind,
                ForgeEventKind::Push {
                    changed_files: None,
                    ..
                }
            ),
            "{:?}",
            event.kind
        );
    }

    #[test]
    fn gitlab_push() {
        let event = parsed(
            Forge::Gitlab,
            ("X-Gitlab-Event", "Push Hook"),
            "gitlab-push",
        );
        assert_eq!(event.repository, "platform/tools/deployer");
        assert_eq!(
            event.clone_url,
            "https://gitlab.example.com/platform/tools/deployer.git"
        );
        assert_eq!(event.sender, "sam");
        assert_eq!(
            event.kind,
            ForgeEventKind::Push {
                git_ref: "refs/heads/main".into(),
                before: "95790bf891e76fee5e1747ab589903a6a1f80f22".into(),
                after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7".into(),
                deleted: false,
                changed_files: Some(vec![
                    "chart/Chart.yaml".into(),
                    "chart/values-prod.yaml".into(),
                    "src/legacy.py".into(),
                    "src/rollout.py".into(),
                ]),
                title: "Retry failed rollouts".into(),
            }
        );
        let p = &event.payload;
        assert_eq!(p["ref"], "refs/heads/main");
        assert_eq!(p["before"], "95790bf891e76fee5e1747ab589903a6a1f80f22");
        assert_eq!(p["after"], "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
        assert_eq!(p["created"], false);
        assert_eq!(p["deleted"], false);
        assert_eq!(p["repository"]["full_name"], "platform/tools/deployer");
        assert_eq!(p["repository"]["owner"]["login"], "platform/tools");
        assert_eq!(p["repository"]["default_branch"], "main");
        assert_eq!(
            p["head_commit"]["id"],
            "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
        );
        assert_eq!(
            p["head_commit"]["message"],
            "Retry failed rollouts\n\nThree attempts, then give up.\n"
        );
        assert_eq!(p["head_commit"]["removed"], json!(["src/legacy.py"]));
        assert_eq!(p["commits"].as_array().unwrap().len(), 2);
        assert_eq!(p["sender"]["login"], "sam");
        assert_eq!(p["pusher"]["name"], "Sam Ops");
    }

    #[test]
    fn gitlab_tag_push() {
        let event = parsed(
            Forge::Gitlab,
            ("X-Gitlab-Event", "Tag Push Hook"),
            "gitlab-tag",
        );
        assert_eq!(event.repository, "platform/tools/deployer");
        assert_eq!(
            event.kind,
            ForgeEventKind::Push {
                git_ref: "refs/tags/v1.4.0".into(),
                before: "0000000000000000000000000000000000000000".into(),
                after: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7".into(),
                deleted: false,
                changed_files: None,
                title: String::new(),
            }
        );
        assert_eq!(event.payload["created"], true);
        assert_eq!(event.payload["head_commit"], Value::Null);
    }

    #[test]
    fn gitlab_merge_request_from_a_fork() {
        let event = parsed(
            Forge::Gitlab,
            ("X-Gitlab-Event", "Merge Request Hook"),
            "gitlab-merge_request",
        );
        assert_eq!(event.repository, "platform/tools/deployer");
        assert_eq!(
            event.clone_url,
            "https://gitlab.example.com/platform/tools/deployer.git"
        );
        assert_eq!(event.sender, "ana");
        assert_eq!(
            event.kind,
            ForgeEventKind::PullRequest {
                action: PullRequestAction::Synchronize,
                number: 7,
                title: "Support canary rollouts".into(),
                base_ref: "refs/heads/main".into(),
                base_sha: String::new(),
                head_ref: "refs/heads/canary".into(),
                head_sha: "f00dfeed1234567890abcdef1234567890abcdef".into(),
                head_clone_url: "https://gitlab.example.com/ana/deployer.git".into(),
                fork: true,
            }
        );
        let p = &event.payload;
        assert_eq!(p["action"], "synchronize");
        assert_eq!(p["number"], 7);
        assert_eq!(p["before"], "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0");
        assert_eq!(p["repository"]["full_name"], "platform/tools/deployer");
        let pr = &p["pull_request"];
        assert_eq!(pr["number"], 7);
        assert_eq!(pr["title"], "Support canary rollouts");
        assert_eq!(pr["state"], "open");
        assert_eq!(pr["head"]["ref"], "canary");
        assert_eq!(
            pr["head"]["sha"],
            "f00dfeed1234567890abcdef1234567890abcdef"
        );
        assert_eq!(pr["head"]["repo"]["full_name"], "ana/deployer");
        assert_eq!(pr["base"]["ref"], "main");
        assert_eq!(pr["base"]["sha"], "");
        assert_eq!(
            pr["base"]["repo"]["clone_url"],
            "https://gitlab.example.com/platform/tools/deployer.git"
        );
    }

    #[test]
    fn gitlab_merge_request_actions() {
        let mut base: Value = serde_json::from_slice(&fixture("gitlab-merge_request")).unwrap();
        base["object_attributes"]["source_project_id"] = 15.into();
        let cases: [(&str, bool, PullRequestAction); 6] = [
            ("open", false, PullRequestAction::Opened),
            ("update", true, PullRequestAction::Synchronize),
            ("update", false, PullRequestAction::Other("edited".into())),
            ("reopen", false, PullRequestAction::Reopened),
            ("close", false, PullRequestAction::Closed),
            ("merge", false, PullRequestAction::Closed),
        ];
        for (gitlab, oldrev, expected) in cases {
            let mut payload = base.clone();
            payload["object_attributes"]["action"] = gitlab.into();
            if !oldrev {
                payload["object_attributes"]
                    .as_object_mut()
                    .unwrap()
                    .remove("oldrev");
            }
            let body = serde_json::to_vec(&payload).unwrap();
            let event = parse(
                Forge::Gitlab,
                &headers(&[("X-Gitlab-Event", "Merge Request Hook")]),
                &body,
            )
            .unwrap()
            .unwrap();
            match event.kind {
                ForgeEventKind::PullRequest { action, fork, .. } => {
                    assert_eq!(action, expected, "{gitlab} oldrev={oldrev}");
                    assert!(!fork, "same project ids");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(event.payload["action"], expected.as_github());
        }
    }

    #[test]
    fn deleted_branch() {
        let mut github: Value = serde_json::from_slice(&fixture("github-push")).unwrap();
        github["after"] = "0000000000000000000000000000000000000000".into();
        github["commits"] = json!([]);
        github["head_commit"] = Value::Null;
        let mut gitlab: Value = serde_json::from_slice(&fixture("gitlab-push")).unwrap();
        gitlab["after"] = "0000000000000000000000000000000000000000".into();
        gitlab["commits"] = json!([]);
        gitlab["total_commits_count"] = 0.into();
        let mut gitea: Value = serde_json::from_slice(&fixture("gitea-push")).unwrap();
        gitea["after"] = "0000000000000000000000000000000000000000".into();
        gitea["commits"] = json!([]);
        gitea["total_commits"] = 0.into();
        gitea["head_commit"] = Value::Null;
        for (forge, event, payload) in [
            (Forge::Github, ("X-GitHub-Event", "push"), github),
            (Forge::Gitea, ("X-Gitea-Event", "push"), gitea),
            (Forge::Gitlab, ("X-Gitlab-Event", "Push Hook"), gitlab),
        ] {
            let body = serde_json::to_vec(&payload).unwrap();
            let parsed = parse(forge, &headers(&[event]), &body).unwrap().unwrap();
            match parsed.kind {
                ForgeEventKind::Push {
                    deleted,
                    changed_files,
                    title,
                    ..
                } => {
                    assert!(deleted, "{forge:?}");
                    assert_eq!(changed_files, None);
                    assert_eq!(title, "");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn ignored_events() {
        let ping = fixture("github-ping");
        for (forge, event) in [
            (Forge::Github, ("X-GitHub-Event", "ping")),
            (Forge::Github, ("X-GitHub-Event", "issues")),
            (Forge::Github, ("X-GitHub-Event", "check_run")),
            (Forge::Gitea, ("X-Gitea-Event", "create")),
            (Forge::Gitea, ("X-Forgejo-Event", "issue_comment")),
            (Forge::Gitlab, ("X-Gitlab-Event", "Note Hook")),
            (Forge::Gitlab, ("X-Gitlab-Event", "Pipeline Hook")),
        ] {
            assert_eq!(
                parse(forge, &headers(&[event]), &ping),
                Ok(None),
                "{event:?}"
            );
        }
        // Ignored events are not even read: their body may be anything.
        assert_eq!(
            parse(
                Forge::Github,
                &headers(&[("X-GitHub-Event", "ping")]),
                b"not json"
            ),
            Ok(None)
        );
    }

    #[test]
    fn missing_event_header() {
        let err = parse(Forge::Gitlab, &HeaderMap::new(), b"{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the delivery has no X-Gitlab-Event header: check that the sender is GitLab"
        );
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let body = b"{\n  \"ref\": \"refs/heads/main\",\n  \"after\": }";
        let err = parse(Forge::Github, &headers(&[("X-GitHub-Event", "push")]), body).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the webhook body is not valid JSON at 3:12 (expected value): set the webhook's content type to application/json on the forge"
        );
    }

    #[test]
    fn missing_field_is_named() {
        let mut payload: Value = serde_json::from_slice(&fixture("github-pull_request")).unwrap();
        payload["pull_request"]["head"]
            .as_object_mut()
            .unwrap()
            .remove("sha");
        let body = serde_json::to_vec(&payload).unwrap();
        let err = parse(
            Forge::Github,
            &headers(&[("X-GitHub-Event", "pull_request")]),
            &body,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the GitHub pull_request payload has no `pull_request.head.sha`: check that the webhook is a GitHub webhook sending JSON"
        );
    }

    #[test]
    fn form_encoded_body() {
        let json = fixture("github-push");
        let mut body = b"payload=".to_vec();
        for &b in &json {
            match b {
                b' ' => body.push(b'+'),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => body.push(b),
                _ => body.extend(format!("%{b:02X}").bytes()),
            }
        }
        let h = headers(&[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ]);
        let event = parse(Forge::Github, &h, &body).unwrap().unwrap();
        assert_eq!(event.repository, "acme/web");
        assert_eq!(
            event.payload["head_commit"]["message"],
            "Fix the footer links\n\nThey pointed at the old domain."
        );
        assert_eq!(
            parse(Forge::Github, &h, b"other=1"),
            Err(WebhookError::InvalidForm)
        );
        assert_eq!(
            parse(Forge::Github, &h, b"payload=%4"),
            Err(WebhookError::InvalidForm)
        );
    }
}
