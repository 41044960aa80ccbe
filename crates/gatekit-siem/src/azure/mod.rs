//! What the Azure connectors share: Entra ID tokens ([`entra`], with certificate assertions in
//! [`entra_assertion`]), the Data Collector and Event Hubs signatures ([`signature`]), the JSON
//! array body and Azure's error answers ([`body`]), and the planning of endpoints and
//! credentials ([`plan`]).

pub mod body;
pub mod entra;
pub mod entra_assertion;
pub(crate) mod plan;
pub mod signature;
