//! In-process tests of `gantry_server::app` with `tower::ServiceExt::oneshot`, each against a fresh
//! SQLite store in a temporary directory, seeded directly through `gantry-store`.

mod auth;
mod pages;
mod people;
mod roles;
mod run_ui;
mod settings;
mod world;
