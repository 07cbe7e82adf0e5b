//! Users, sessions and API tokens.

use gantry_store::{Error, NewSession, NewUser};
use jiff::{SignedDuration, Timestamp};

use crate::on_both_backends;

fn alice() -> NewUser<'static> {
    NewUser {
        name: "alice",
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        is_admin: true,
    }
}

on_both_backends! {
    async fn users_round_trip(store: Store) {
        assert_eq!(store.user_count().await.unwrap(), 0);
        let alice = store.create_user(&alice()).await.unwrap();
        assert_eq!(alice.name, "alice");
        assert!(alice.is_admin);
        assert!(matches!(store.create_user(&alice_again()).await, Err(Error::AlreadyExists)));
        let bob = store
            .create_user(&NewUser { name: "bob", password_hash: "h", is_admin: false })
            .await
            .unwrap();
        assert_eq!(store.user_count().await.unwrap(), 2);
        assert_eq!(store.user(alice.id).await.unwrap(), Some(alice.clone()));
        assert_eq!(store.user_by_name("bob").await.unwrap(), Some(bob.clone()));
        assert_eq!(store.user_by_name("carol").await.unwrap(), None);
        let names: Vec<String> = store.users().await.unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["alice", "bob"]);

        assert!(store.set_password_hash(bob.id, "new").await.unwrap());
        assert!(store.set_admin(bob.id, true).await.unwrap());
        let bob = store.user(bob.id).await.unwrap().unwrap();
        assert_eq!((bob.password_hash.as_str(), bob.is_admin), ("new", true));
        assert!(!store.set_password_hash(9999, "x").await.unwrap());
        assert!(!store.set_admin(9999, true).await.unwrap());

        assert!(store.delete_user(bob.id).await.unwrap());
        assert!(!store.delete_user(bob.id).await.unwrap());
        assert_eq!(store.user(bob.id).await.unwrap(), None);
    }

    async fn sessions(store: Store) {
        let alice = store.create_user(&alice()).await.unwrap();
        let later = Timestamp::now() + SignedDuration::from_hours(1);
        let session = store
            .create_session(&NewSession { id: &[1; 32], user_id: alice.id, csrf_token: "csrf", expires_at: later })
            .await
            .unwrap();
        assert_eq!(session.id, vec![1; 32]);
        assert_eq!(session.expires_at, Timestamp::from_millisecond(later.as_millisecond()).unwrap());
        assert_eq!(store.session(&[1; 32]).await.unwrap(), Some(session.clone()));
        assert_eq!(store.session(&[2; 32]).await.unwrap(), None);

        let past = Timestamp::now() - SignedDuration::from_secs(1);
        store
            .create_session(&NewSession { id: &[2; 32], user_id: alice.id, csrf_token: "c2", expires_at: past })
            .await
            .unwrap();
        assert_eq!(store.session(&[2; 32]).await.unwrap(), None, "expired");
        assert_eq!(store.delete_expired_sessions().await.unwrap(), 1);
        assert_eq!(store.session(&[1; 32]).await.unwrap(), Some(session));

        assert!(matches!(
            store.create_session(&NewSession { id: &[3; 32], user_id: 9999, csrf_token: "c", expires_at: later }).await,
            Err(Error::NotFound)
        ));
        assert!(store.delete_session(&[1; 32]).await.unwrap());
        assert!(!store.delete_session(&[1; 32]).await.unwrap());

        for id in [[4; 32], [5; 32]] {
            store
                .create_session(&NewSession { id: &id, user_id: alice.id, csrf_token: "c", expires_at: later })
                .await
                .unwrap();
        }
        assert_eq!(store.delete_sessions_of_user(alice.id).await.unwrap(), 2);
        // Deleting a user ends their sessions.
        store
            .create_session(&NewSession { id: &[6; 32], user_id: alice.id, csrf_token: "c", expires_at: later })
            .await
            .unwrap();
        store.delete_user(alice.id).await.unwrap();
        assert_eq!(store.session(&[6; 32]).await.unwrap(), None);
    }

    async fn api_tokens(store: Store) {
        let alice = store.create_user(&alice()).await.unwrap();
        let bob = store
            .create_user(&NewUser { name: "bob", password_hash: "h", is_admin: false })
            .await
            .unwrap();
        let token = store.create_api_token(alice.id, "deploy", &[7; 32]).await.unwrap();
        assert_eq!((token.name.as_str(), token.user_id, token.last_used_at), ("deploy", alice.id, None));
        assert!(matches!(
            store.create_api_token(alice.id, "deploy", &[8; 32]).await,
            Err(Error::AlreadyExists)
        ));
        store.create_api_token(alice.id, "backup", &[9; 32]).await.unwrap();

        let used = store.use_api_token(&[7; 32]).await.unwrap().unwrap();
        assert_eq!(used.id, token.id);
        assert!(used.last_used_at.is_some());
        assert_eq!(store.use_api_token(&[0; 32]).await.unwrap(), None);

        let names: Vec<String> = store.api_tokens(alice.id).await.unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["backup", "deploy"]);
        assert!(store.api_tokens(bob.id).await.unwrap().is_empty());

        assert!(!store.revoke_api_token(bob.id, token.id).await.unwrap(), "not bob's token");
        assert!(store.revoke_api_token(alice.id, token.id).await.unwrap());
        assert_eq!(store.use_api_token(&[7; 32]).await.unwrap(), None);
    }
}

fn alice_again() -> NewUser<'static> {
    NewUser {
        name: "alice",
        password_hash: "other",
        is_admin: false,
    }
}
