//! What went wrong, and where it belongs. Every error the engine sees (from a port, the store
//! or the engine itself) carries an [`ErrorClass`] decided by the kind of failure, never by
//! its text, and the class alone decides what happens next: the whole run stops (tenant), the
//! mailbox waits (mailbox), the item fails (item), or it is tried again later (transient).

/// What a caller does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The configuration or the tenant is wrong (credentials revoked, master login refused,
    /// an unknown CRM table or field, an unusable state store): stop the whole run before
    /// another item moves, charge no mailbox and no item, tell the administrator once.
    Tenant,
    /// The whole mailbox cannot be worked (access denied, mailbox gone, impersonation refused
    /// for this rep): counts toward the mailbox's exclusion.
    Mailbox,
    /// This item is broken or rejected; sending it again unchanged fails again.
    Item,
    /// Try again later (throttling exhausted, 5xx, network, CRM busy, a store conflict): the
    /// item is delayed and retried with backoff, never dropped.
    Transient,
    /// The delta checkpoint expired: clear it and re-enumerate.
    SyncStateExpired,
    /// The addressed item is gone.
    NotFound,
    /// The work was called off (shutdown, or the lease it ran under was lost): stop without
    /// charging anyone; the next holder repeats it.
    Cancelled,
}

/// An error of a port or of the engine: its class and a message an administrator
/// understands (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    /// What to do about it.
    pub class: ErrorClass,
    /// Why.
    pub message: String,
}

impl PortError {
    /// A new error.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        PortError {
            class,
            message: message.into(),
        }
    }

    /// A transient error.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, message)
    }

    /// Whether the item should be retried later.
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}

/// Where a state-store error belongs, by its class (decided by the store from the variant and
/// the database's own error code): a lost race or a lost lease is retried (a lost lease also
/// stops the work under it: see [`ErrorClass::Cancelled`]); refused or unreadable data fails
/// the item it belongs to; a store that cannot be used stops the run.
pub fn store_error(e: gc_store::StoreError) -> PortError {
    use gc_store::StoreErrorClass as C;
    let class = match (&e, e.class()) {
        (gc_store::StoreError::LeaseLost { .. }, _) => ErrorClass::Cancelled,
        (_, C::Conflict) => ErrorClass::Transient,
        (_, C::Rejected | C::Corrupt) => ErrorClass::Item,
        (_, C::Unavailable) => ErrorClass::Tenant,
    };
    PortError::new(class, format!("state store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_classed_by_their_class() {
        use gc_store::StoreError as S;
        assert_eq!(
            store_error(S::Constraint("unique".into())).class,
            ErrorClass::Item
        );
        assert_eq!(
            store_error(S::LeaseLost {
                key: "1/email".into()
            })
            .class,
            ErrorClass::Cancelled
        );
        assert_eq!(
            store_error(S::Corrupt {
                what: "kind",
                detail: "x".into()
            })
            .class,
            ErrorClass::Item
        );
        assert_eq!(
            store_error(S::Io(std::io::Error::other("disk full"))).class,
            ErrorClass::Tenant
        );
        assert_eq!(
            store_error(S::InvalidUrl("x".into())).class,
            ErrorClass::Tenant
        );
    }
}
