//! What the sandbox saw: a request counter ([`RequestStats`], `GET /_sandbox/stats`) and trip
//! wires ([`Tripwire`]) that cut the N-th matching request and run a test's callback at that
//! exact point (e.g. SIGKILL the connector right after its CRM write, before it hears the
//! answer), optionally counting only the requests a predicate picks by their contents
//! ([`SeenRequest`]). Both serve measurements and fault tests that must depend on the work
//! done, never on the wall clock.
//!
//! One [`Monitor`] is shared by the Graph side, the token endpoint and the CRM side (also a
//! CRM.interface served on its own listener, through [`crate::crm::CrmOptions::monitor`]).

mod request;
mod stats;
mod tripwire;

use std::sync::Mutex;

pub use request::{SeenRecord, SeenRequest};
pub use stats::{CrmRequests, GraphRequests, RequestStats};
pub use tripwire::{Target, Tripwire, TripwireHandle, When};

pub(crate) use tripwire::Passage;

/// The kind of one CRM.interface command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrmCommand {
    Query,
    Insert,
    Update,
    Delete,
    Import,
    Nop,
    /// A command element CRM.interface does not know (answered with an error).
    Invalid,
}

impl CrmCommand {
    /// The element name (`query`, `insert`, …), also the key in `by_command`.
    pub fn name(self) -> &'static str {
        match self {
            CrmCommand::Query => "query",
            CrmCommand::Insert => "insert",
            CrmCommand::Update => "update",
            CrmCommand::Delete => "delete",
            CrmCommand::Import => "import",
            CrmCommand::Nop => "nop",
            CrmCommand::Invalid => "invalid",
        }
    }

    /// Whether the command changes data.
    pub fn writes(self) -> bool {
        matches!(
            self,
            CrmCommand::Insert | CrmCommand::Update | CrmCommand::Delete | CrmCommand::Import
        )
    }
}

/// One command of a CRM request as the monitor sees it.
#[derive(Debug, Clone)]
pub(crate) struct SeenCommand {
    pub kind: CrmCommand,
    /// The table of each written record (one entry per record), or the root table of a query.
    pub tables: Vec<String>,
}

/// A request as the monitor sees it.
#[derive(Debug, Clone)]
pub(crate) enum Seen {
    /// A Graph request (`resource` as named by `graph::resource::name`), or the token endpoint
    /// (`token`). `write`: not a GET.
    Graph {
        resource: String,
        write: bool,
        in_batch: bool,
    },
    /// A CRM.interface request of `rep` (the impersonated rep's address or name, else the login).
    Crm {
        rep: String,
        commands: Vec<SeenCommand>,
    },
}

/// Request counter and trip wires of one sandbox.
#[derive(Default)]
pub struct Monitor {
    stats: Mutex<RequestStats>,
    wires: tripwire::Wires,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("stats", &self.stats())
            .field("armed_tripwires", &self.wires.armed())
            .finish()
    }
}

impl Monitor {
    pub fn new() -> Monitor {
        Monitor::default()
    }

    /// The counts since the start or the last [`Monitor::reset_stats`].
    pub fn stats(&self) -> RequestStats {
        self.lock_stats().clone()
    }

    /// Sets every count back to zero (trip wires keep their own counts).
    pub fn reset_stats(&self) {
        *self.lock_stats() = RequestStats::default();
    }

    /// Arms a trip wire: `action` runs when the `nth` request matching `wire.target` (counted
    /// from now) reaches the point `wire.when`, and that request's exchange is cut (see
    /// [`When`]). It fires once. Dropping the handle disarms it.
    pub fn arm_tripwire(
        &self,
        wire: Tripwire,
        action: impl Fn() + Send + Sync + 'static,
    ) -> TripwireHandle {
        self.wires.arm(wire, None, Box::new(action))
    }

    /// Arms a trip wire that counts only the requests matching `wire.target` that `select`
    /// chooses: the others pass untouched and do not count toward `nth`. For a test that
    /// must cut one request picked by its contents, e.g. the activity insert whose nested
    /// external key is an occurrence's, wherever it comes among the inserts.
    ///
    /// `select` runs for every request matching the target while the wire is armed, under
    /// the monitor's wire list lock: it must be quick and must not arm a wire itself. It
    /// sees CRM.interface requests' records ([`SeenRequest::crm_records`]).
    pub fn arm_tripwire_where(
        &self,
        wire: Tripwire,
        select: impl Fn(&SeenRequest<'_>) -> bool + Send + Sync + 'static,
        action: impl Fn() + Send + Sync + 'static,
    ) -> TripwireHandle {
        self.wires
            .arm(wire, Some(Box::new(select)), Box::new(action))
    }

    /// Counts a request as it arrives (before faults, throttling or authentication).
    pub(crate) fn count(&self, seen: &Seen) {
        self.lock_stats().add(seen);
    }

    /// Asks the trip wires whether a request that is about to be processed passes. `crm`:
    /// the parsed CRM.interface request, for the wires' predicates.
    pub(crate) fn pass(
        &self,
        seen: &Seen,
        crm: Option<&crate::crm::wire::ParsedRequest>,
    ) -> Passage {
        self.wires.pass(&SeenRequest::new(seen, crm))
    }

    /// Counts a Graph request to a mailbox's resources (`name` as [`Shared::mailbox_of`]
    /// gives it), on its own or inside a `$batch`.
    ///
    /// [`Shared::mailbox_of`]: crate::server::Shared::mailbox_of
    pub(crate) fn count_mailbox_slot(&self, name: &str) {
        *self
            .lock_stats()
            .graph
            .by_mailbox
            .entry(name.to_owned())
            .or_default() += 1;
    }

    fn lock_stats(&self) -> std::sync::MutexGuard<'_, RequestStats> {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
