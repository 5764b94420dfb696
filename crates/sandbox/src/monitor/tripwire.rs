//! Trip wires: cut the N-th request of a kind at a chosen point and run a callback there.
//!
//! A crash test that kills the connector after a wall-clock delay kills it somewhere different
//! on every machine (on a fast one, often after the work is done). A trip wire ties the kill to
//! the work instead: "the 7th CRM insert into `Contact`, after CRM wrote it and before the
//! connector hears the answer" is the same point on any machine.
//!
//! A wire armed with a predicate ([`super::Monitor::arm_tripwire_where`]) counts only the
//! requests of its target the predicate chooses: "the activity insert that writes an
//! occurrence's key" is then the same request on any machine, whatever comes before it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{CrmCommand, Seen, SeenRequest};

/// Which requests a trip wire counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every Graph and CRM.interface request (the token endpoint and `$batch` envelopes
    /// excluded: the requests inside a batch count one by one).
    Any,
    /// Graph requests of this resource (`messages.move`, `messages.delta`, `users`, … as in
    /// `GET /_sandbox/stats`), inside `$batch` too; `None`: every Graph request.
    Graph(Option<String>),
    /// Graph requests that are not GETs (PATCH, POST, DELETE), `$batch` envelopes excluded.
    GraphWrite,
    /// CRM.interface requests carrying a command of this kind (`None`: any), touching `table`
    /// when given (a written record of that table, or the root table of a query),
    /// case-insensitive.
    Crm {
        command: Option<CrmCommand>,
        table: Option<String>,
    },
    /// CRM.interface requests that carry an insert, update, delete or import.
    CrmWrite,
}

/// Where the matching request is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// When the request is about to be processed (after authentication, throttling and
    /// injected faults): the action runs, the request is not processed, the connection is
    /// dropped. As if the client died just before its request arrived.
    BeforeProcessing,
    /// After the request was processed (a write is done), before its response is sent: the
    /// action runs, then the connection is dropped instead of answering. As if the client died
    /// while the server was answering: the work happened, the client never hears of it.
    BeforeResponse,
}

/// A trip wire: the `nth` (1-based, counted from arming) request matching `target` is cut at
/// `when`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tripwire {
    pub target: Target,
    pub nth: u64,
    pub when: When,
}

type Action = Box<dyn Fn() + Send + Sync>;

/// Picks, among the requests matching a wire's target, those that count (see
/// [`super::Monitor::arm_tripwire_where`]).
pub(crate) type Select = Box<dyn Fn(&SeenRequest<'_>) -> bool + Send + Sync>;

pub(crate) struct Wire {
    spec: Tripwire,
    select: Option<Select>,
    seen: AtomicU64,
    fired: AtomicBool,
    armed: AtomicBool,
    action: Action,
}

/// An armed trip wire. Dropping it disarms the wire (keep it for as long as the wire should
/// stay armed).
#[must_use = "dropping the handle disarms the trip wire"]
pub struct TripwireHandle {
    wire: Arc<Wire>,
}

impl std::fmt::Debug for TripwireHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TripwireHandle")
            .field("wire", &self.wire.spec)
            .field("selective", &self.wire.select.is_some())
            .field("seen", &self.seen())
            .field("fired", &self.fired())
            .finish()
    }
}

impl TripwireHandle {
    /// Whether the wire fired (its action ran).
    pub fn fired(&self) -> bool {
        self.wire.fired.load(Ordering::SeqCst)
    }

    /// Matching requests (those its predicate chose, if it has one) that reached the wire so
    /// far (the firing one included).
    pub fn seen(&self) -> u64 {
        self.wire.seen.load(Ordering::SeqCst)
    }

    /// Disarms the wire now; it no longer counts or fires.
    pub fn disarm(&self) {
        self.wire.armed.store(false, Ordering::SeqCst);
    }
}

impl Drop for TripwireHandle {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// What a request that reached the trip wires must do.
pub(crate) struct Passage {
    /// A wire fired before processing (its action has run): do not process the request, drop
    /// the connection.
    cut_before: bool,
    /// Wires firing before the response: their actions run in [`Passage::after`], or when the
    /// passage is dropped without it (the handler was cancelled), so a fired wire's action
    /// always runs.
    pending: Vec<Arc<Wire>>,
}

impl Passage {
    fn go() -> Passage {
        Passage {
            cut_before: false,
            pending: Vec::new(),
        }
    }

    /// Whether the request must not be processed (the connection is to be dropped).
    pub fn cut_before(&self) -> bool {
        self.cut_before
    }

    /// Whether the request passes untouched.
    #[cfg(test)]
    fn is_go(&self) -> bool {
        !self.cut_before && self.pending.is_empty()
    }

    /// After processing: runs the actions of wires that fire before the response; returns
    /// whether the response must be dropped.
    pub fn after(mut self) -> bool {
        let cut = !self.pending.is_empty();
        self.run_pending();
        cut
    }

    fn run_pending(&mut self) {
        for w in self.pending.drain(..) {
            (w.action)();
        }
    }
}

impl Drop for Passage {
    fn drop(&mut self) {
        self.run_pending();
    }
}

/// The armed wires of a monitor.
#[derive(Default)]
pub(crate) struct Wires {
    list: Mutex<Vec<Arc<Wire>>>,
}

impl Wires {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Wire>>> {
        self.list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn armed(&self) -> usize {
        self.lock()
            .iter()
            .filter(|w| w.armed.load(Ordering::SeqCst))
            .count()
    }

    pub fn arm(&self, spec: Tripwire, select: Option<Select>, action: Action) -> TripwireHandle {
        let wire = Arc::new(Wire {
            spec,
            select,
            seen: AtomicU64::new(0),
            fired: AtomicBool::new(false),
            armed: AtomicBool::new(true),
            action,
        });
        let mut list = self.lock();
        list.retain(|w| w.armed.load(Ordering::SeqCst));
        list.push(wire.clone());
        TripwireHandle { wire }
    }

    /// Counts the request on every armed wire it matches (its target, then its predicate);
    /// wires reaching their `nth` fire (each exactly once). Predicates run under the lock, so
    /// that the requests a predicate chose are counted in the order it chose them; actions
    /// run outside it.
    pub fn pass(&self, request: &SeenRequest<'_>) -> Passage {
        let mut now = Vec::new();
        let mut later = Vec::new();
        {
            let mut list = self.lock();
            list.retain(|w| w.armed.load(Ordering::SeqCst));
            if list.is_empty() {
                return Passage::go();
            }
            for w in list.iter() {
                if !matches(&w.spec.target, request.seen())
                    || w.select.as_ref().is_some_and(|select| !select(request))
                {
                    continue;
                }
                let n = w.seen.fetch_add(1, Ordering::SeqCst) + 1;
                if n == w.spec.nth.max(1) {
                    w.armed.store(false, Ordering::SeqCst);
                    w.fired.store(true, Ordering::SeqCst);
                    match w.spec.when {
                        When::BeforeProcessing => now.push(w.clone()),
                        When::BeforeResponse => later.push(w.clone()),
                    }
                }
            }
        }
        if !now.is_empty() {
            // The request will not be processed: wires waiting for its response fire now.
            for w in now.iter().chain(&later) {
                (w.action)();
            }
            return Passage {
                cut_before: true,
                pending: Vec::new(),
            };
        }
        Passage {
            cut_before: false,
            pending: later,
        }
    }
}

fn matches(target: &Target, seen: &Seen) -> bool {
    match (target, seen) {
        (
            Target::Any,
            Seen::Graph {
                resource, in_batch, ..
            },
        ) => *in_batch || (resource != "$batch" && resource != "token"),
        (Target::Any, Seen::Crm { .. }) => true,
        (Target::Graph(None), Seen::Graph { resource, .. }) => resource != "token",
        (Target::Graph(Some(want)), Seen::Graph { resource, .. }) => want == resource,
        (
            Target::GraphWrite,
            Seen::Graph {
                resource, write, ..
            },
        ) => *write && resource != "$batch" && resource != "token",
        (Target::Crm { command, table }, Seen::Crm { commands, .. }) => commands.iter().any(|c| {
            command.is_none_or(|k| k == c.kind)
                && table
                    .as_deref()
                    .is_none_or(|t| c.tables.iter().any(|x| x.eq_ignore_ascii_case(t)))
        }),
        (Target::CrmWrite, Seen::Crm { commands, .. }) => commands.iter().any(|c| c.kind.writes()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::SeenCommand;
    use std::sync::atomic::AtomicUsize;

    fn graph(resource: &str, write: bool) -> Seen {
        Seen::Graph {
            resource: resource.into(),
            write,
            in_batch: false,
        }
    }

    fn crm(kind: CrmCommand, tables: &[&str]) -> Seen {
        Seen::Crm {
            rep: "ann@contoso.example".into(),
            commands: vec![SeenCommand {
                kind,
                tables: tables.iter().map(|t| t.to_string()).collect(),
            }],
        }
    }

    impl Wires {
        fn pass_seen(&self, seen: &Seen) -> Passage {
            self.pass(&SeenRequest::new(seen, None))
        }
    }

    fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        (n, move || {
            m.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[test]
    fn fires_once_at_the_nth_matching_request_after_its_processing() {
        let wires = Wires::default();
        let (ran, action) = counter();
        let h = wires.arm(
            Tripwire {
                target: Target::Crm {
                    command: Some(CrmCommand::Insert),
                    table: Some("contact".into()),
                },
                nth: 2,
                when: When::BeforeResponse,
            },
            None,
            Box::new(action),
        );
        let insert = crm(CrmCommand::Insert, &["Contact"]);
        assert!(wires.pass_seen(&insert).is_go());
        // other requests do not count
        assert!(
            wires
                .pass_seen(&crm(CrmCommand::Insert, &["ExternalKey"]))
                .is_go()
        );
        assert!(
            wires
                .pass_seen(&crm(CrmCommand::Query, &["Contact"]))
                .is_go()
        );
        assert!(wires.pass_seen(&graph("messages.move", true)).is_go());
        assert_eq!(h.seen(), 1);
        let p = wires.pass_seen(&insert);
        assert!(!p.cut_before());
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not before processing");
        assert!(p.after(), "the response is dropped");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(h.fired());
        // a passage dropped without `after` (a cancelled handler) still runs the action
        let (ran2, action2) = counter();
        let _h2 = wires.arm(
            Tripwire {
                target: Target::CrmWrite,
                nth: 1,
                when: When::BeforeResponse,
            },
            None,
            Box::new(action2),
        );
        drop(wires.pass_seen(&crm(CrmCommand::Update, &["Contact"])));
        assert_eq!(ran2.load(Ordering::SeqCst), 1);
        // once only
        assert!(wires.pass_seen(&insert).is_go());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(wires.armed(), 0);
    }

    #[test]
    fn before_processing_runs_the_action_and_cuts_the_request() {
        let wires = Wires::default();
        let (ran, action) = counter();
        let h = wires.arm(
            Tripwire {
                target: Target::Graph(Some("messages.move".into())),
                nth: 1,
                when: When::BeforeProcessing,
            },
            None,
            Box::new(action),
        );
        assert!(wires.pass_seen(&graph("messages", true)).is_go());
        let p = wires.pass_seen(&graph("messages.move", true));
        assert!(p.cut_before());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(h.fired());
    }

    #[test]
    fn a_dropped_or_disarmed_handle_never_fires() {
        let wires = Wires::default();
        let (ran, action) = counter();
        let spec = Tripwire {
            target: Target::Any,
            nth: 1,
            when: When::BeforeProcessing,
        };
        drop(wires.arm(spec.clone(), None, Box::new(action)));
        assert!(wires.pass_seen(&graph("users", false)).is_go());
        let (ran2, action2) = counter();
        let h = wires.arm(spec, None, Box::new(action2));
        h.disarm();
        assert!(wires.pass_seen(&graph("users", false)).is_go());
        assert_eq!(ran.load(Ordering::SeqCst) + ran2.load(Ordering::SeqCst), 0);
        assert!(!h.fired());
        assert_eq!(wires.armed(), 0);
    }

    #[test]
    fn a_predicate_counts_only_the_requests_it_chooses() {
        let wires = Wires::default();
        let (ran, action) = counter();
        let h = wires.arm(
            Tripwire {
                target: Target::Crm {
                    command: Some(CrmCommand::Insert),
                    table: None,
                },
                nth: 2,
                when: When::BeforeProcessing,
            },
            Some(Box::new(|r: &SeenRequest<'_>| {
                r.crm_rep() == Some("bob@contoso.example")
            })),
            Box::new(action),
        );
        let ann = crm(CrmCommand::Insert, &["Contact"]);
        let Seen::Crm { commands, .. } = &ann else {
            unreachable!()
        };
        let bob = Seen::Crm {
            rep: "bob@contoso.example".into(),
            commands: commands.clone(),
        };
        let bob_query = Seen::Crm {
            rep: "bob@contoso.example".into(),
            commands: Vec::new(),
        };
        // the predicate's no, or the target's, passes and does not count
        assert!(wires.pass_seen(&ann).is_go());
        assert!(wires.pass_seen(&bob_query).is_go());
        assert_eq!(h.seen(), 0);
        assert!(wires.pass_seen(&bob).is_go());
        assert!(wires.pass_seen(&ann).is_go());
        assert_eq!(h.seen(), 1);
        assert!(wires.pass_seen(&bob).cut_before());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(h.fired());
    }

    #[test]
    fn targets_select_the_requests_they_name() {
        let cases: Vec<(Target, Seen, bool)> = vec![
            (Target::Any, graph("messages", false), true),
            (Target::Any, graph("$batch", true), false),
            (Target::Any, graph("token", true), false),
            (Target::Any, crm(CrmCommand::Query, &["Rep"]), true),
            (Target::Graph(None), graph("users", false), true),
            (Target::Graph(None), crm(CrmCommand::Query, &["Rep"]), false),
            (Target::GraphWrite, graph("messages", true), true),
            (Target::GraphWrite, graph("messages", false), false),
            (Target::GraphWrite, graph("$batch", true), false),
            (
                Target::CrmWrite,
                crm(CrmCommand::Update, &["Contact"]),
                true,
            ),
            (
                Target::CrmWrite,
                crm(CrmCommand::Query, &["Contact"]),
                false,
            ),
            (
                Target::Crm {
                    command: None,
                    table: Some("Rep".into()),
                },
                crm(CrmCommand::Query, &["Rep"]),
                true,
            ),
            (
                Target::Crm {
                    command: Some(CrmCommand::Insert),
                    table: Some("ExternalKey".into()),
                },
                crm(CrmCommand::Insert, &["Participant", "ExternalKey"]),
                true,
            ),
            (
                Target::Crm {
                    command: None,
                    table: None,
                },
                graph("users", false),
                false,
            ),
        ];
        for (target, seen, want) in cases {
            assert_eq!(matches(&target, &seen), want, "{target:?} {seen:?}");
        }
        // inside a batch, the inner requests count for Any
        let inner = Seen::Graph {
            resource: "messages.move".into(),
            write: true,
            in_batch: true,
        };
        assert!(matches(&Target::Any, &inner));
    }
}
