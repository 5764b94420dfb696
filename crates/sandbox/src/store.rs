//! Tenant state and direct access to it for tests.

use crate::server::Shared;

/// Direct, synchronous access to the tenant's state (for tests and demos).
pub struct StateHandle<'a> {
    pub(crate) shared: &'a Shared,
}

impl std::fmt::Debug for StateHandle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateHandle")
    }
}
