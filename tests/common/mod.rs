//! Helpers shared by the integration tests, one module per concern: `exposition` (reading
//! `/metrics` text, KPI samples, the one rule for combining series across instances),
//! `scrape` (HTTP on loopback, scraping and waiting), `broker` (tansu, topics, producing),
//! `tls` (certificates, tansu behind socat), `service` (the `ticketpulse` process and its
//! configuration file), `harness` (an engine fed by hand) and `prometheus` (promtool,
//! Prometheus started on a directory). Every item is re-exported here, so a test names
//! `common::value` whichever module holds it. Each test binary uses a part of them.
// A test binary uses some of the helpers: the others are neither dead code to it nor an
// unused re-export.
#![allow(dead_code, unused_imports)]

pub mod broker;
pub mod exposition;
pub mod harness;
pub mod prometheus;
pub mod scrape;
pub mod service;
pub mod tls;

pub use broker::*;
pub use exposition::*;
pub use harness::*;
pub use prometheus::*;
pub use scrape::*;
pub use service::*;
pub use tls::*;
