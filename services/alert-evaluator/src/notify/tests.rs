//! Scenario tests across the module: the dispatcher's timing and dedup, the
//! webhook sender against a local receiver, and the Alertmanager client against
//! a real `/usr/bin/prometheus-alertmanager`.

#![allow(clippy::disallowed_methods)] // real receivers and Alertmanager run on the wall clock

mod alertmanager;
mod dispatch;
mod sender;
mod support;
