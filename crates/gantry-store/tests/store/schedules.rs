//! Schedule slots and settings.

use jiff::{SignedDuration, Timestamp};

use crate::fixture;
use crate::on_both_backends;

on_both_backends! {
    async fn schedule_slot_is_claimed_once_under_concurrency(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let slot = Timestamp::from_second(1_800_000_000).unwrap();
        let cron = "*/5 * * * *";
        assert_eq!(store.last_schedule_slot(web.id, "nightly.yml", cron).await.unwrap(), None);
        let mut tasks = Vec::new();
        for _ in 0..24 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.claim_schedule_slot(web.id, "nightly.yml", cron, slot).await.unwrap()
            }));
        }
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap());
        }
        assert_eq!(wins, 1);
        assert_eq!(store.last_schedule_slot(web.id, "nightly.yml", cron).await.unwrap(), Some(slot));

        let next = slot + SignedDuration::from_mins(5);
        assert!(store.claim_schedule_slot(web.id, "nightly.yml", cron, next).await.unwrap());
        assert!(!store.claim_schedule_slot(web.id, "nightly.yml", cron, next).await.unwrap());
        assert!(!store.claim_schedule_slot(web.id, "nightly.yml", cron, slot).await.unwrap(), "an older slot");
        // Another cron line, workflow or repository is another schedule.
        assert!(store.claim_schedule_slot(web.id, "nightly.yml", "0 * * * *", slot).await.unwrap());
        assert!(store.claim_schedule_slot(web.id, "weekly.yml", cron, slot).await.unwrap());
        let api = fixture::repository(&store, "acme/api").await;
        assert!(store.claim_schedule_slot(api.id, "nightly.yml", cron, slot).await.unwrap());
        assert!(matches!(
            store.claim_schedule_slot(9999, "nightly.yml", cron, slot).await,
            Err(gantry_store::Error::NotFound)
        ));
    }

    async fn settings(store: Store) {
        assert_eq!(store.setting("retention.days").await.unwrap(), None);
        store.set_setting("retention.days", "90").await.unwrap();
        store.set_setting("retention.days", "30").await.unwrap();
        store.set_setting("instance.name", "ci").await.unwrap();
        assert_eq!(store.setting("retention.days").await.unwrap().as_deref(), Some("30"));
        assert_eq!(
            store.settings().await.unwrap(),
            [("instance.name".to_string(), "ci".to_string()), ("retention.days".to_string(), "30".to_string())]
        );
        assert!(store.delete_setting("instance.name").await.unwrap());
        assert!(!store.delete_setting("instance.name").await.unwrap());
        assert_eq!(store.settings().await.unwrap().len(), 1);
    }
}

/// The embedded default: a data directory (created if missing) holding `gantry.db` in WAL mode,
/// which a second open finds migrated and keeps.
#[tokio::test]
async fn sqlite_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = gantry_store::Store::open(data.to_str().unwrap())
        .await
        .unwrap();
    store.set_setting("k", "v").await.unwrap();
    assert!(data.join(gantry_store::SQLITE_FILE).exists());
    assert!(
        data.join(format!("{}-wal", gantry_store::SQLITE_FILE))
            .exists(),
        "WAL mode"
    );
    store.close().await;
    let store = gantry_store::Store::open_sqlite(&data).await.unwrap();
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("v"));
}
