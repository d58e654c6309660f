//! The one integration-test binary (matklad, "Delete Cargo Integration Tests"). Tests
//! that need Kafka or the kube-apiserver get them from `dev/infra` through
//! [`poolpilot_tests::infra`]; each uses its own topic, group and namespace.

#![allow(clippy::disallowed_methods)] // tests wait on deadlines

mod aggregator;
mod alerts;
mod bus;
mod compose;
mod config;
mod deploy;
mod guard;
mod infra;
mod kube;
mod prometheus;
mod requests;
mod restart;
mod router;
mod rules;
mod scale;
mod scraper;
mod simulator;
mod traces;
mod ui;
mod up;
