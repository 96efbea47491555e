//! HTTP tests of the sandbox through its real interface: reqwest against a real socket, every
//! 2xx body validated against the Langfuse OpenAPI spec.

mod admin;
mod annotation_queues;
mod auth;
mod common;
mod current;
mod dashboards;
mod evaluators;
mod faults;
mod ingestion;
mod limits;
mod llm_connections;
mod media;
mod otlp;
mod readme;
mod reads;
mod sample;
mod sample_app;
mod writes;
