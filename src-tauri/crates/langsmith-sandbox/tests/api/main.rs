//! HTTP tests of the LangSmith sandbox through its real interface: reqwest against a real
//! socket, every JSON answer validated against the LangSmith platform spec.

mod admin;
mod auth;
mod common;
mod limits;
mod reads;
mod sample;
mod writes;
