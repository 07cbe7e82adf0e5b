//! Repositories, roles and secrets.

use gantry_store::{Error, Forge, NewRepository, NewUser, RepositoryKind, Role, SecretScope};

use crate::fixture;
use crate::on_both_backends;

on_both_backends! {
    async fn repositories_round_trip(store: Store) {
        let new = NewRepository {
            name: "acme/web",
            kind: RepositoryKind::Webhook,
            location: "https://git.example.com/acme/web.git",
            default_branch: "trunk",
            forge: Forge::Gitea,
            webhook_secret: Some(b"encrypted"),
        };
        let web = store.create_repository(&new).await.unwrap();
        assert_eq!(
            (web.name.as_str(), web.kind, web.forge, web.default_branch.as_str()),
            ("acme/web", RepositoryKind::Webhook, Forge::Gitea, "trunk")
        );
        assert_eq!(web.webhook_secret.as_deref(), Some(&b"encrypted"[..]));
        assert!(matches!(store.create_repository(&new).await, Err(Error::AlreadyExists)));
        let api = fixture::repository(&store, "acme/api").await;
        assert_eq!(store.repository(web.id).await.unwrap(), Some(web.clone()));
        assert_eq!(store.repository_by_name("acme/api").await.unwrap(), Some(api.clone()));
        assert_eq!(store.repository_by_name("nope").await.unwrap(), None);
        let names: Vec<String> = store.repositories().await.unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["acme/api", "acme/web"]);

        let changed = NewRepository { name: "acme/website", forge: Forge::Github, webhook_secret: None, ..new };
        assert!(store.update_repository(web.id, &changed).await.unwrap());
        let web = store.repository(web.id).await.unwrap().unwrap();
        assert_eq!((web.name.as_str(), web.forge, web.webhook_secret), ("acme/website", Forge::Github, None));
        assert!(!store.update_repository(9999, &changed).await.unwrap());
        assert!(matches!(
            store.update_repository(api.id, &changed).await,
            Err(Error::AlreadyExists)
        ));

        assert!(store.delete_repository(web.id).await.unwrap());
        assert!(!store.delete_repository(web.id).await.unwrap());
        assert_eq!(store.repositories().await.unwrap(), vec![api]);
    }

    async fn roles(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let api = fixture::repository(&store, "acme/api").await;
        let alice = store.create_user(&NewUser { name: "alice", password_hash: "h", is_admin: false }).await.unwrap();
        let bob = store.create_user(&NewUser { name: "bob", password_hash: "h", is_admin: false }).await.unwrap();

        assert_eq!(store.role(web.id, alice.id).await.unwrap(), None);
        store.set_role(web.id, alice.id, Role::Viewer).await.unwrap();
        store.set_role(web.id, alice.id, Role::Maintainer).await.unwrap();
        store.set_role(web.id, bob.id, Role::Developer).await.unwrap();
        store.set_role(api.id, alice.id, Role::Admin).await.unwrap();
        assert_eq!(store.role(web.id, alice.id).await.unwrap(), Some(Role::Maintainer));
        assert!(Role::Maintainer > Role::Developer && Role::Admin > Role::Maintainer);
        assert!(matches!(store.set_role(web.id, 9999, Role::Viewer).await, Err(Error::NotFound)));
        assert!(matches!(store.set_role(9999, alice.id, Role::Viewer).await, Err(Error::NotFound)));

        let members: Vec<(String, Role)> =
            store.members(web.id).await.unwrap().into_iter().map(|m| (m.user_name, m.role)).collect();
        assert_eq!(members, [("alice".to_string(), Role::Maintainer), ("bob".to_string(), Role::Developer)]);
        let of_alice: Vec<(String, Role)> = store
            .repositories_of_user(alice.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(r, role)| (r.name, role))
            .collect();
        assert_eq!(of_alice, [("acme/api".to_string(), Role::Admin), ("acme/web".to_string(), Role::Maintainer)]);

        assert!(store.remove_member(web.id, bob.id).await.unwrap());
        assert!(!store.remove_member(web.id, bob.id).await.unwrap());
        assert_eq!(store.role(web.id, bob.id).await.unwrap(), None);
        store.delete_user(alice.id).await.unwrap();
        assert!(store.members(web.id).await.unwrap().is_empty());
    }

    async fn secrets(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let api = fixture::repository(&store, "acme/api").await;
        store.set_secret(SecretScope::Org, "TOKEN", b"org-token").await.unwrap();
        store.set_secret(SecretScope::Org, "REGISTRY", b"org-registry").await.unwrap();
        store.set_secret(SecretScope::Repository(web.id), "TOKEN", b"web-token-1").await.unwrap();
        store.set_secret(SecretScope::Repository(web.id), "TOKEN", b"web-token").await.unwrap();
        store.set_secret(SecretScope::Repository(web.id), "DEPLOY_KEY", b"key").await.unwrap();
        assert!(matches!(
            store.set_secret(SecretScope::Repository(9999), "X", b"x").await,
            Err(Error::NotFound)
        ));

        let names = |scope| {
            let store = store.clone();
            async move {
                store.secret_names(scope).await.unwrap().into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
        };
        assert_eq!(names(SecretScope::Org).await, ["REGISTRY", "TOKEN"]);
        assert_eq!(names(SecretScope::Repository(web.id)).await, ["DEPLOY_KEY", "TOKEN"]);
        assert!(names(SecretScope::Repository(api.id)).await.is_empty());

        let for_web: Vec<(String, Vec<u8>)> =
            store.secrets_for_run(web.id).await.unwrap().into_iter().map(|s| (s.name, s.value)).collect();
        assert_eq!(
            for_web,
            [
                ("DEPLOY_KEY".to_string(), b"key".to_vec()),
                ("REGISTRY".to_string(), b"org-registry".to_vec()),
                ("TOKEN".to_string(), b"web-token".to_vec()),
            ]
        );
        let for_api: Vec<String> = store.secrets_for_run(api.id).await.unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(for_api, ["REGISTRY", "TOKEN"]);
        assert!(!format!("{:?}", store.secrets_for_run(api.id).await.unwrap()).contains("org-token"));

        assert!(store.delete_secret(SecretScope::Repository(web.id), "TOKEN").await.unwrap());
        assert!(!store.delete_secret(SecretScope::Repository(web.id), "TOKEN").await.unwrap());
        assert!(store.delete_secret(SecretScope::Org, "REGISTRY").await.unwrap());
        let for_web: Vec<(String, Vec<u8>)> =
            store.secrets_for_run(web.id).await.unwrap().into_iter().map(|s| (s.name, s.value)).collect();
        assert_eq!(
            for_web,
            [("DEPLOY_KEY".to_string(), b"key".to_vec()), ("TOKEN".to_string(), b"org-token".to_vec())]
        );
        store.delete_repository(web.id).await.unwrap();
        assert!(names(SecretScope::Repository(web.id)).await.is_empty());
    }
}
