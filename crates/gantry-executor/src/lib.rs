//! The Executor trait and the host-process executor.
