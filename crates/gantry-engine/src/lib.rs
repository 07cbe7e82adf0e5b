//! Runs a Plan: scheduler, step runner, runner files, workflow commands, masking.
