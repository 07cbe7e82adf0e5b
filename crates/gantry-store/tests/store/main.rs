//! The store's tests. Each test body runs twice, on a fresh SQLite database and on a fresh
//! PostgreSQL database (see `backend.rs`), as `<test>::sqlite` and `<test>::postgres`.

mod backend;
mod logs;
mod repositories;
mod runs;
mod schedules;
mod users;

/// Defines `async fn name(store: Store) { … }` test bodies, each run on both backends.
macro_rules! on_both_backends {
    ($(async fn $name:ident($store:ident: Store) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($store: gantry_store::Store) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let db = crate::backend::sqlite().await;
                    body(db.store.clone()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let db = crate::backend::postgres().await;
                    body(db.store.clone()).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

/// Fixtures shared by the test modules.
pub mod fixture {
    use gantry_store::{Forge, NewRepository, NewRun, Repository, RepositoryKind, Store};

    pub async fn repository(store: &Store, name: &str) -> Repository {
        store
            .create_repository(&NewRepository {
                name,
                kind: RepositoryKind::Local,
                location: "/srv/git/repo.git",
                default_branch: "main",
                forge: Forge::None,
                webhook_secret: None,
            })
            .await
            .expect("creating a repository")
    }

    pub fn push(repository_id: i64, branch: &'static str) -> NewRun<'static> {
        NewRun {
            repository_id,
            workflow_file: ".github/workflows/ci.yml",
            workflow_name: "CI",
            event: "push",
            git_ref: "refs/heads/main",
            branch: Some(branch),
            sha: "0123456789abcdef0123456789abcdef01234567",
            actor: "alice",
            title: "Fix the build",
            payload: r#"{"ref":"refs/heads/main"}"#,
            concurrency_group: None,
        }
    }
}
