//! Job logs: chunks, live tailing, compression and search.

use gantry_store::{Error, LogMatch, NewJob};

use crate::fixture;
use crate::on_both_backends;

on_both_backends! {
    async fn log_chunks_round_trip_compressed(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        let job = store
            .create_job(run.id, &NewJob { key: "build", name: "build", labels: "[]", needs: "[]" })
            .await
            .unwrap();
        assert!(store.log(job.id).await.unwrap().is_empty());
        let repetitive = "compiling gantry-store v0.1.0 (/work/main/crates/gantry-store)\n".repeat(200);
        assert!(store.append_log(job.id, 0, b"first\n").await.unwrap());
        assert!(store.append_log(job.id, 1, repetitive.as_bytes()).await.unwrap());
        assert!(!store.append_log(job.id, 1, b"resent").await.unwrap(), "a chunk sent twice is stored once");
        assert!(store.append_log(job.id, 2, b"\x1b[32mdone\x1b[0m \xff\n").await.unwrap());
        assert!(matches!(store.append_log(9999, 0, b"x").await, Err(Error::NotFound)));

        let whole = store.log(job.id).await.unwrap();
        assert_eq!(whole, [b"first\n".as_slice(), repetitive.as_bytes(), b"\x1b[32mdone\x1b[0m \xff\n"].concat());
        let seqs: Vec<i64> = store.log_chunks(job.id).await.unwrap().into_iter().map(|c| c.seq).collect();
        assert_eq!(seqs, [0, 1, 2]);
        let tail = store.log_chunks_after(job.id, 0).await.unwrap();
        assert_eq!(tail.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(tail[0].data, repetitive.as_bytes());
        assert!(store.log_chunks_after(job.id, 2).await.unwrap().is_empty());

        let size = store.log_size(job.id).await.unwrap();
        assert_eq!(size.chunks, 3);
        assert_eq!(size.raw_bytes, whole.len() as u64);
        assert!(size.stored_bytes * 10 < size.raw_bytes, "stored compressed: {size:?}");
    }

    async fn search_logs(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        let other_run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        let build = store
            .create_job(run.id, &NewJob { key: "build", name: "build", labels: "[]", needs: "[]" })
            .await
            .unwrap();
        let test = store
            .create_job(run.id, &NewJob { key: "test", name: "test", labels: "[]", needs: "[]" })
            .await
            .unwrap();
        let other = store
            .create_job(other_run.id, &NewJob { key: "build", name: "build", labels: "[]", needs: "[]" })
            .await
            .unwrap();
        // A line split across chunks is found whole.
        store.append_log(build.id, 0, b"ok 1\nerror: miss").await.unwrap();
        store.append_log(build.id, 1, b"ing file\r\nok 2\n").await.unwrap();
        store.append_log(test.id, 0, b"warning\nerror: test failed\nerror: again").await.unwrap();
        store.append_log(other.id, 0, b"error: elsewhere\n").await.unwrap();

        let found = store.search_logs(run.id, "error:", 10).await.unwrap();
        assert_eq!(
            found,
            [
                LogMatch { job_id: build.id, line_number: 2, line: "error: missing file".to_string() },
                LogMatch { job_id: test.id, line_number: 2, line: "error: test failed".to_string() },
                LogMatch { job_id: test.id, line_number: 3, line: "error: again".to_string() },
            ]
        );
        assert_eq!(store.search_logs(run.id, "error:", 2).await.unwrap().len(), 2);
        assert!(store.search_logs(run.id, "nothing like this", 10).await.unwrap().is_empty());
    }
}
