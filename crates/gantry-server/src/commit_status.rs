//! Commit statuses posted back to the forge (GitHub, Gitea/Forgejo, GitLab), so a pushed commit
//! or pull request shows each workflow's state as `gantry/<workflow>`.
//!
//! [`post`] sends one status through a [`reqwest::Client`] made by [`http_client`]. The forge's
//! token travels only in a request header: it never appears in an error.

use std::time::Duration;

use gantry_store::Forge;
use serde_json::json;

/// How long one status may take to post.
const TIMEOUT: Duration = Duration::from_secs(10);
/// GitHub refuses longer descriptions; the others are cut the same way.
const MAX_DESCRIPTION_CHARS: usize = 140;
/// How much of a refusal's body an error quotes.
const MAX_BODY_BYTES: usize = 200;

/// Where statuses for one repository go.
#[derive(Clone)]
pub struct StatusTarget {
    pub forge: Forge,
    /// The API's base URL: `https://api.github.com`, `https://gitea.example/api/v1`,
    /// `https://gitlab.example/api/v4`.
    pub api_url: String,
    /// A token allowed to write commit statuses.
    pub token: String,
    /// `owner/name` (GitLab: the project's full path, subgroups included).
    pub repository: String,
}

impl std::fmt::Debug for StatusTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusTarget")
            .field("forge", &self.forge)
            .field("api_url", &self.api_url)
            .field("token", &"[hidden]")
            .field("repository", &self.repository)
            .finish()
    }
}

/// A workflow's state, as Gantry sees it; each forge gets its nearest word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusState {
    Pending,
    Running,
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl StatusState {
    /// The forge's word for this state.
    pub fn for_forge(self, forge: Forge) -> &'static str {
        match forge {
            // GitHub knows pending, success, failure and error; Gitea adds warning.
            Forge::Github | Forge::Gitea | Forge::None => match self {
                StatusState::Pending | StatusState::Running => "pending",
                StatusState::Success | StatusState::Skipped => "success",
                StatusState::Failure => "failure",
                StatusState::Cancelled => "error",
            },
            Forge::Gitlab => match self {
                StatusState::Pending => "pending",
                StatusState::Running => "running",
                StatusState::Success => "success",
                StatusState::Failure => "failed",
                StatusState::Cancelled => "canceled",
                StatusState::Skipped => "skipped",
            },
        }
    }
}

/// One status for one commit.
#[derive(Clone, Debug)]
pub struct CommitStatus<'a> {
    /// The full commit id.
    pub sha: &'a str,
    pub state: StatusState,
    /// `gantry/<workflow name>`: statuses with the same context replace each other.
    pub context: &'a str,
    /// A short text (cut to 140 characters). On GitHub and Gitea, which have no "skipped"
    /// state, an empty description of a skipped workflow becomes "skipped".
    pub description: &'a str,
    /// The run's page.
    pub target_url: Option<&'a str>,
}

/// Why a status could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(
        "this repository has no forge configured: set its forge before asking for commit statuses"
    )]
    NoForge,
    #[error(
        "the repository name `{0}` is not `owner/name`: set the repository's full name as the forge shows it"
    )]
    BadRepository(String),
    #[error(
        "cannot reach {forge} at {api_url}: {reason}: check the forge's API URL and that this server can reach it"
    )]
    Unreachable {
        forge: &'static str,
        api_url: String,
        reason: String,
    },
    #[error("{forge} refused the commit status with HTTP {status}: {body}: {hint}")]
    Refused {
        forge: &'static str,
        status: u16,
        /// The start of the response body, with the token removed.
        body: String,
        hint: &'static str,
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

fn refusal_hint(status: u16) -> &'static str {
    match status {
        401 => "check that the forge token is valid and has not expired",
        403 => "check that the forge token may write commit statuses on this repository",
        404 => {
            "check the API URL and the repository name, and that the forge token can see the repository"
        }
        422 | 400 => "check that the commit exists in the repository",
        _ => "retry later; if it persists, check the forge's logs",
    }
}

/// The client statuses are posted with: rustls over the ring provider (installed once for the
/// process; an already installed provider is kept), a 10 s timeout, `User-Agent: gantry`.
pub fn http_client() -> reqwest::Client {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent("gantry")
        .build()
        .expect("a TLS provider is installed just above, so the client builds")
}

/// Posts `status` to the forge of `target`.
pub async fn post(
    client: &reqwest::Client,
    target: &StatusTarget,
    status: &CommitStatus<'_>,
) -> Result<(), StatusError> {
    let forge = forge_name(target.forge);
    if !target.repository.contains('/') {
        return Err(StatusError::BadRepository(target.repository.clone()));
    }
    let api = target.api_url.trim_end_matches('/');
    let sha = encode_segment(status.sha);
    let description = description(target.forge, status);
    let state = status.state.for_forge(target.forge);
    let request = match target.forge {
        Forge::None => return Err(StatusError::NoForge),
        Forge::Github | Forge::Gitea => {
            let (owner, name) = target
                .repository
                .split_once('/')
                .ok_or_else(|| StatusError::BadRepository(target.repository.clone()))?;
            let url = format!(
                "{api}/repos/{}/{}/statuses/{sha}",
                encode_segment(owner),
                encode_segment(name)
            );
            let body = json!({
                "state": state,
                "context": status.context,
                "description": description,
                "target_url": status.target_url,
            });
            let request = client.post(url).json(&body);
            if target.forge == Forge::Github {
                request
                    .bearer_auth(&target.token)
                    .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
            } else {
                request
                    .header(
                        reqwest::header::AUTHORIZATION,
                        format!("token {}", target.token),
                    )
                    .header(reqwest::header::ACCEPT, "application/json")
            }
        }
        Forge::Gitlab => {
            let url = format!(
                "{api}/projects/{}/statuses/{sha}",
                encode_segment(&target.repository)
            );
            let body = json!({
                "state": state,
                "name": status.context,
                "description": description,
                "target_url": status.target_url,
            });
            client
                .post(url)
                .json(&body)
                .header("PRIVATE-TOKEN", &target.token)
        }
    };
    let unreachable = |err: reqwest::Error| StatusError::Unreachable {
        forge,
        api_url: api.to_owned(),
        // The URL is already shown without its path; the error's own copy is dropped.
        reason: redact(&error_chain(&err.without_url()), &target.token),
    };
    let response = request
        .header(reqwest::header::USER_AGENT, "gantry")
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(unreachable)?;
    let code = response.status();
    if code.is_success() {
        return Ok(());
    }
    let bytes = response.bytes().await.unwrap_or_default();
    let start = &bytes[..bytes.len().min(MAX_BODY_BYTES)];
    let body = redact(String::from_utf8_lossy(start).trim(), &target.token);
    Err(StatusError::Refused {
        forge,
        status: code.as_u16(),
        body,
        hint: refusal_hint(code.as_u16()),
    })
}

/// The description as sent: cut to 140 characters; "skipped" for an undescribed skip where the
/// forge has no skipped state.
fn description(forge: Forge, status: &CommitStatus<'_>) -> String {
    let text = if status.description.is_empty()
        && status.state == StatusState::Skipped
        && forge != Forge::Gitlab
    {
        "skipped"
    } else {
        status.description
    };
    text.chars().take(MAX_DESCRIPTION_CHARS).collect()
}

/// An error and its sources, `a: b: c`.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `text` with every occurrence of the token replaced.
fn redact(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_owned()
    } else {
        text.replace(token, "[token]")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (so `/` becomes `%2F`).
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use serde_json::Value;

    use super::*;

    const TOKEN: &str = "ghp_s3cr3tT0kenValue";

    /// What the fake forge received.
    #[derive(Debug)]
    struct Received {
        method: Method,
        path: String,
        headers: HeaderMap,
        body: Value,
    }

    #[derive(Clone)]
    struct Forged {
        received: Arc<Mutex<Vec<Received>>>,
        answer: (StatusCode, &'static str),
    }

    async fn record(
        State(forged): State<Forged>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, String) {
        forged.received.lock().unwrap().push(Received {
            method,
            // The raw path, as sent (still percent-encoded).
            path: uri.path().to_owned(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let (code, body) = forged.answer;
        (code, body.replace("{token}", TOKEN))
    }

    /// A forge on 127.0.0.1 answering every request with `answer`; returns its base URL and
    /// what it receives.
    async fn fake_forge(answer: (StatusCode, &'static str)) -> (String, Arc<Mutex<Vec<Received>>>) {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(record).with_state(Forged {
            received: received.clone(),
            answer,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}"), received)
    }

    fn target(forge: Forge, api_url: String, repository: &str) -> StatusTarget {
        StatusTarget {
            forge,
            api_url,
            token: TOKEN.to_owned(),
            repository: repository.to_owned(),
        }
    }

    const SHA: &str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

    fn status(state: StatusState, description: &str) -> CommitStatus<'_> {
        CommitStatus {
            sha: SHA,
            state,
            context: "gantry/CI",
            description,
            target_url: Some("https://ci.example/acme/web/runs/12"),
        }
    }

    fn one(received: &Mutex<Vec<Received>>) -> Received {
        let mut all = received.lock().unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.pop().unwrap()
    }

    fn header<'h>(request: &'h Received, name: &str) -> &'h str {
        request
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", request.headers))
            .to_str()
            .unwrap()
    }

    #[tokio::test]
    async fn github() {
        let (url, received) = fake_forge((StatusCode::CREATED, "{}")).await;
        let client = http_client();
        let target = target(Forge::Github, format!("{url}/"), "acme/web");
        post(&client, &target, &status(StatusState::Running, "Building"))
            .await
            .unwrap();
        let request = one(&received);
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, format!("/repos/acme/web/statuses/{SHA}"));
        assert_eq!(header(&request, "authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(header(&request, "accept"), "application/vnd.github+json");
        assert_eq!(header(&request, "user-agent"), "gantry");
        assert_eq!(header(&request, "content-type"), "application/json");
        assert_eq!(
            request.body,
            json!({
                "state": "pending",
                "context": "gantry/CI",
                "description": "Building",
                "target_url": "https://ci.example/acme/web/runs/12",
            })
        );
    }

    #[tokio::test]
    async fn github_skipped_and_cancelled() {
        let (url, received) = fake_forge((StatusCode::CREATED, "{}")).await;
        let client = http_client();
        let target = target(Forge::Github, url, "acme/web");
        post(&client, &target, &status(StatusState::Skipped, ""))
            .await
            .unwrap();
        let skipped = one(&received);
        assert_eq!(
            (&skipped.body["state"], &skipped.body["description"]),
            (&json!("success"), &json!("skipped"))
        );
        post(
            &client,
            &target,
            &status(StatusState::Cancelled, "Cancelled by ana"),
        )
        .await
        .unwrap();
        assert_eq!(one(&received).body["state"], "error");
    }

    #[tokio::test]
    async fn gitea() {
        let (url, received) = fake_forge((StatusCode::CREATED, "{}")).await;
        let client = http_client();
        let target = target(Forge::Gitea, format!("{url}/api/v1"), "team/api");
        let long = "é".repeat(200);
        post(&client, &target, &status(StatusState::Failure, &long))
            .await
            .unwrap();
        let request = one(&received);
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.path,
            format!("/api/v1/repos/team/api/statuses/{SHA}")
        );
        assert_eq!(header(&request, "authorization"), format!("token {TOKEN}"));
        assert_eq!(header(&request, "user-agent"), "gantry");
        assert_eq!(request.body["state"], "failure");
        assert_eq!(request.body["context"], "gantry/CI");
        assert_eq!(request.body["description"], "é".repeat(140));
        assert_eq!(
            request.body["target_url"],
            "https://ci.example/acme/web/runs/12"
        );
    }

    #[tokio::test]
    async fn gitlab() {
        let (url, received) = fake_forge((StatusCode::CREATED, "{}")).await;
        let client = http_client();
        let target = target(
            Forge::Gitlab,
            format!("{url}/api/v4"),
            "platform/tools/deployer",
        );
        let mut skipped = status(StatusState::Skipped, "");
        skipped.target_url = None;
        post(&client, &target, &skipped).await.unwrap();
        let request = one(&received);
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.path,
            format!("/api/v4/projects/platform%2Ftools%2Fdeployer/statuses/{SHA}")
        );
        assert_eq!(header(&request, "private-token"), TOKEN);
        assert!(request.headers.get("authorization").is_none());
        assert_eq!(
            request.body,
            json!({
                "state": "skipped",
                "name": "gantry/CI",
                "description": "",
                "target_url": null,
            })
        );
    }

    #[test]
    fn states_per_forge() {
        use StatusState::*;
        let all = [Pending, Running, Success, Failure, Cancelled, Skipped];
        let words = |forge| all.map(|state| state.for_forge(forge));
        assert_eq!(
            words(Forge::Github),
            [
                "pending", "pending", "success", "failure", "error", "success"
            ]
        );
        assert_eq!(words(Forge::Gitea), words(Forge::Github));
        assert_eq!(
            words(Forge::Gitlab),
            [
                "pending", "running", "success", "failed", "canceled", "skipped"
            ]
        );
    }

    #[tokio::test]
    async fn refusal_quotes_the_body_without_the_token() {
        let (url, _received) = fake_forge((
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Bad credentials: {token}","documentation_url":"https://docs.github.com/rest"}"#,
        ))
        .await;
        let client = http_client();
        let target = target(Forge::Github, url, "acme/web");
        let err = post(&client, &target, &status(StatusState::Success, "ok"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
        assert_eq!(
            text,
            r#"GitHub refused the commit status with HTTP 401: {"message":"Bad credentials: [token]","documentation_url":"https://docs.github.com/rest"}: check that the forge token is valid and has not expired"#
        );
    }

    #[tokio::test]
    async fn refusal_body_is_cut_to_200_bytes() {
        const LONG: &str = concat!(
            "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
            "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
            "this part is beyond the limit"
        );
        let (url, _received) = fake_forge((StatusCode::NOT_FOUND, LONG)).await;
        let err = post(
            &http_client(),
            &target(Forge::Gitea, url, "team/api"),
            &status(StatusState::Success, "ok"),
        )
        .await
        .unwrap_err();
        match err {
            StatusError::Refused {
                status, body, hint, ..
            } => {
                assert_eq!(status, 404);
                assert_eq!(body, &LONG[..200]);
                assert!(hint.contains("repository name"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn unreachable_forge_names_the_url_not_the_token() {
        // Bind, then drop the listener: nothing answers on that port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let target = target(Forge::Github, format!("http://{address}"), "acme/web");
        let err = post(&http_client(), &target, &status(StatusState::Success, "ok"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StatusError::Unreachable { .. }), "{err:?}");
        assert!(
            text.starts_with(&format!("cannot reach GitHub at http://{address}: ")),
            "{text}"
        );
        assert!(!text.contains(TOKEN), "{text}");
    }

    #[tokio::test]
    async fn bad_target() {
        let client = http_client();
        let bad = target(Forge::Github, "http://127.0.0.1:9".into(), "web");
        assert!(matches!(
            post(&client, &bad, &status(StatusState::Success, "")).await,
            Err(StatusError::BadRepository(name)) if name == "web"
        ));
        let none = target(Forge::None, "http://127.0.0.1:9".into(), "acme/web");
        assert!(matches!(
            post(&client, &none, &status(StatusState::Success, "")).await,
            Err(StatusError::NoForge)
        ));
        assert!(!format!("{none:?}").contains(TOKEN));
    }
}
