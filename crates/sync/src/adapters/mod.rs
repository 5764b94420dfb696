//! Real implementations of the [`crate::ports`] over gc-graph and gc-crm.

pub mod crm;
pub mod graph;

pub use crm::CrmActivities;
pub use graph::GraphMail;
