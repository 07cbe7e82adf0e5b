//! The test world: a fresh store, the app over it, users, seeded runs, and a tiny client that logs
//! in through the real login form.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use gantry_server::crypto::SecretKey;
use gantry_server::{AppState, app};
use gantry_store::{
    Conclusion, Forge, NewJob, NewRepository, NewRun, NewUser, Repository, RepositoryKind, Role,
    Run, Store, User,
};
use tempfile::TempDir;
use tower::ServiceExt as _;

pub struct World {
    _dir: TempDir,
    _db: crate::backend::TestStore,
    pub store: Store,
    /// What the app was built from (for calling the server's functions directly).
    pub state: AppState,
    pub app: Router,
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    /// A browser session: the cookie's token and the session's CSRF token.
    Session {
        token: String,
        csrf: String,
    },
    Bearer(String),
}

/// An answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_string())
            .collect()
    }

    /// The value of the first `Set-Cookie` for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find_map(|cookie| {
            let (pair, _) = cookie.split_once(';').unwrap_or((&cookie, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }
}

/// The value of the hidden `csrf` input of a page.
pub fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf input") + 19;
    page[start..].split('"').next().unwrap().to_string()
}

pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", gantry_server::auth::percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

pub const ADDRESS: &str = "192.0.2.1:4000";

impl World {
    pub async fn new() -> World {
        let dir = TempDir::new().unwrap();
        let db = match std::env::var("GANTRY_TEST_BACKEND").as_deref() {
            Ok("postgres") => crate::backend::postgres().await,
            _ => crate::backend::sqlite().await,
        };
        let store = db.store.clone();
        // No agent takes the runs: these tests look at what the server records and shows.
        let (leases, _no_agent) = gantry_api::channel(1);
        let state = AppState::new(
            store.clone(),
            SecretKey::generate(),
            dir.path().to_path_buf(),
            leases,
        );
        let app = app(state.clone());
        World {
            _dir: dir,
            _db: db,
            store,
            state,
            app,
        }
    }

    /// Sends a request as if from `address`.
    pub async fn send_from(&self, mut request: Request<Body>, address: &str) -> Answer {
        let address: SocketAddr = address.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(address));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        self.send_from(request, ADDRESS).await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        content_type: Option<&str>,
        body: String,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        match auth {
            Auth::Anonymous => {}
            Auth::Session { token, .. } => {
                builder = builder.header(header::COOKIE, format!("gantry_session={token}"));
            }
            Auth::Bearer(token) => {
                builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Answer {
        self.request(Method::GET, path, auth, None, String::new())
            .await
    }

    /// `POST /api/v1/tokens`, with the session's CSRF header when authenticated by a session.
    pub async fn create_token(&self, auth: &Auth, name: &str) -> Answer {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/tokens")
            .header(header::CONTENT_TYPE, "application/json");
        match auth {
            Auth::Anonymous => {}
            Auth::Session { token, csrf } => {
                builder = builder
                    .header(header::COOKIE, format!("gantry_session={token}"))
                    .header("x-csrf-token", csrf);
            }
            Auth::Bearer(token) => {
                builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        let body = serde_json::json!({ "name": name }).to_string();
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    /// A user whose password is `password-NAME`.
    pub async fn user(&self, name: &str, is_admin: bool) -> User {
        let hash = gantry_server::auth::hash_password(&format!("password-{name}")).unwrap();
        self.store
            .create_user(&NewUser {
                name,
                password_hash: &hash,
                is_admin,
            })
            .await
            .unwrap()
    }

    /// The login form's answer to `name`/`password`, from `address`.
    pub async fn try_login(&self, name: &str, password: &str, address: &str) -> Answer {
        let form = self.get("/login", &Auth::Anonymous).await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form
            .cookie("gantry_login_csrf")
            .expect("a login csrf cookie");
        assert_eq!(csrf_of(&form.body), csrf);
        let body = form_encode(&[
            ("username", name),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/"),
        ]);
        let request = Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::COOKIE, format!("gantry_login_csrf={csrf}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send_from(request, address).await
    }

    /// Logs in with the user's password and returns the session.
    pub async fn login(&self, name: &str) -> Auth {
        let answer = self
            .try_login(name, &format!("password-{name}"), ADDRESS)
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let token = answer.cookie("gantry_session").expect("a session cookie");
        let session = Auth::Session {
            token: token.clone(),
            csrf: String::new(),
        };
        let dashboard = self.get("/", &session).await;
        Auth::Session {
            token,
            csrf: csrf_of(&dashboard.body),
        }
    }

    pub async fn repository(&self, name: &str) -> Repository {
        self.store
            .create_repository(&NewRepository {
                name,
                kind: RepositoryKind::Local,
                location: "/srv/git/repo",
                default_branch: "main",
                forge: Forge::None,
                webhook_secret: None,
            })
            .await
            .unwrap()
    }

    pub async fn grant(&self, repository: &Repository, user: &User, role: Role) {
        self.store
            .set_role(repository.id, user.id, role)
            .await
            .unwrap();
    }

    /// A queued run on `branch`.
    pub async fn run(&self, repository: &Repository, branch: &str, title: &str) -> Run {
        let git_ref = format!("refs/heads/{branch}");
        self.store
            .create_run(&NewRun {
                repository_id: repository.id,
                workflow_file: ".github/workflows/ci.yml",
                workflow_name: "CI",
                event: "push",
                git_ref: &git_ref,
                branch: Some(branch),
                sha: "0123456789abcdef0123456789abcdef01234567",
                actor: "alice",
                title,
                payload: "{}",
                concurrency_group: None,
            })
            .await
            .unwrap()
    }

    /// A finished run with one job per `(name, conclusion, log)`.
    pub async fn finished_run(
        &self,
        repository: &Repository,
        branch: &str,
        jobs: &[(&str, Conclusion, &str)],
        conclusion: Conclusion,
    ) -> Run {
        let run = self.run(repository, branch, "Fix the build").await;
        assert!(self.store.start_run(run.id).await.unwrap());
        for (name, job_conclusion, log) in jobs {
            let job = self
                .store
                .create_job(
                    run.id,
                    &NewJob {
                        key: name,
                        name,
                        labels: "[\"ubuntu-latest\"]",
                        needs: "[]",
                    },
                )
                .await
                .unwrap();
            assert!(self.store.start_job(job.id, "host").await.unwrap());
            self.store
                .append_log(job.id, 0, log.as_bytes())
                .await
                .unwrap();
            assert!(
                self.store
                    .finish_job(job.id, *job_conclusion, "{}")
                    .await
                    .unwrap()
            );
        }
        assert!(self.store.finish_run(run.id, conclusion).await.unwrap());
        self.store.run(run.id).await.unwrap().unwrap()
    }
}

/// Requests that change something, as a browser's forms and a script's API calls send them.
impl World {
    /// A form POST; with `csrf`, the session's CSRF token is added as the `csrf` field.
    pub async fn post_form(
        &self,
        path: &str,
        auth: &Auth,
        pairs: &[(&str, &str)],
        csrf: bool,
    ) -> Answer {
        let mut pairs = pairs.to_vec();
        if let (true, Auth::Session { csrf, .. }) = (csrf, auth) {
            pairs.push(("csrf", csrf));
        }
        self.request(
            Method::POST,
            path,
            auth,
            Some("application/x-www-form-urlencoded"),
            form_encode(&pairs),
        )
        .await
    }

    /// An API call with a JSON body (or none); a session sends its CSRF token in `X-CSRF-Token`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        match auth {
            Auth::Anonymous => {}
            Auth::Session { token, csrf } => {
                builder = builder
                    .header(header::COOKIE, format!("gantry_session={token}"))
                    .header("x-csrf-token", csrf);
            }
            Auth::Bearer(token) => {
                builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        let body = match body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }
}

/// Runs git in `dir` with a fixed author; returns its trimmed output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Commits `files` in the work tree `dir` (made on first use, branch `main`); returns the commit.
pub fn commit(dir: &Path, files: &[(&str, &str)]) -> String {
    if !dir.join(".git").exists() {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["init", "--quiet", "-b", "main"]);
    }
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "--allow-empty", "-m", "change"]);
    git(dir, &["rev-parse", "HEAD"])
}
