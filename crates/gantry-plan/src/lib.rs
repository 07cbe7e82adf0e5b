//! Event + workflows to a Plan: trigger filters, matrix, the needs DAG.
