//! Real implementations of the [`crate::ports`] over gc-graph and gc-crm.

pub mod adopt;
pub mod crm;
pub mod directory;
pub mod graph;
pub mod probe;
pub mod send_limit;

pub use crm::CrmActivities;
pub use directory::TenantDirectory;
pub use graph::GraphMail;
pub use probe::Probers;
pub use send_limit::{SendLimiter, SendLimits};
