//! The HTTP building blocks of the HTTP connectors (Splunk HEC, QRadar HTTP Receiver, the
//! Azure connectors): the client ([`client`]: one connection per endpoint, typed errors) and
//! the one place that maps an HTTP answer to a delivery outcome ([`status`]), and the HTTP
//! `CONNECT` tunnel through a forward proxy ([`proxy`]).

pub mod client;
pub mod proxy;
pub mod status;
