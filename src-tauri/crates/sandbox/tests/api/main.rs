//! HTTP tests of the sandbox through its real interface: reqwest against a real socket, every
//! 2xx body validated against the Langfuse OpenAPI spec.

mod auth;
mod common;
mod ingestion;
mod limits;
mod otlp;
mod reads;
mod writes;
