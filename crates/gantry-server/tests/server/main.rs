//! In-process tests of `gantry_server::app` with `tower::ServiceExt::oneshot`, each against a fresh
//! store seeded directly through `gantry-store`: SQLite in a temporary directory, or with
//! `GANTRY_TEST_BACKEND=postgres` a new database in the store tests' throwaway PostgreSQL cluster
//! (`scripts/test` runs the suite both ways).

mod auth;
#[path = "../../../gantry-store/tests/store/backend.rs"]
mod backend;
mod pages;
mod people;
mod roles;
mod run_ui;
mod settings;
mod triggers;
mod world;
