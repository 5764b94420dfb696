//! Delta queries: rounds of pages linked by `$skiptoken`, ending in a `$deltatoken`.
//!
//! A round compares the collection's current listing with the snapshot stored behind the
//! previous delta token: new or changed items (by their change sequence) are returned in full,
//! vanished ones as `@removed` (Outlook reports moves out of a folder as `deleted` too). Query
//! options of the first call are fixed into the tokens. Tokens are opaque, kept server-side, and
//! expire (configurable); an expired or evicted token answers 410 `SyncStateNotFound`, and the
//! fault switches can make that happen on purpose.

use crate::error::{GResult, GraphError};
use crate::faults::TokenFault;
use crate::graph::{Ctx, Resp, View};
use crate::store::Tenant;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One item of a collection listing.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// Key for rendering (immutable id, or an occurrence key).
    pub key: String,
    pub imm: String,
    pub rest: String,
    /// Changes whenever the item changes (its sequence number).
    pub fp: u64,
}

type Snapshot = HashMap<String, Listed>;

#[derive(Debug, Clone)]
enum Entry {
    Live(Listed),
    Removed(Listed),
}

/// Options fixed by the first call of a round.
#[derive(Debug, Clone, Default)]
struct Opts {
    select: Option<Vec<String>>,
    expand: Option<String>,
    change_type: Option<String>,
    top: Option<usize>,
}

struct Round {
    scope: String,
    entries: Vec<Entry>,
    next: Arc<Snapshot>,
    opts: Opts,
}

enum TokenState {
    Skip {
        round: Arc<Round>,
        pos: usize,
        issued: Instant,
    },
    Delta {
        scope: String,
        snapshot: Arc<Snapshot>,
        opts: Opts,
        issued: Instant,
    },
}

/// Server-side store of skip and delta tokens.
pub(crate) struct Tokens {
    map: HashMap<String, TokenState>,
    /// Tokens issued before this instant answer 410 `resyncRequired` (control API).
    resync_before: Option<Instant>,
}

impl Tokens {
    pub fn new() -> Tokens {
        Tokens {
            map: HashMap::new(),
            resync_before: None,
        }
    }

    fn insert(&mut self, st: TokenState, ttl_skip: Duration, ttl_delta: Duration) -> String {
        if self.map.len() > 20_000 {
            self.map.retain(|_, s| match s {
                TokenState::Skip { issued, .. } => issued.elapsed() < ttl_skip,
                TokenState::Delta { issued, .. } => issued.elapsed() < ttl_delta,
            });
        }
        let mut raw = uuid::Uuid::new_v4().as_bytes().to_vec();
        raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        let tok = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        self.map.insert(tok.clone(), st);
        tok
    }

    /// Makes every token issued so far answer 410 `resyncRequired` (control API).
    pub fn require_resync(&mut self) {
        self.resync_before = Some(Instant::now());
    }

    fn needs_resync(&self, tok: &str) -> bool {
        let Some(before) = self.resync_before else {
            return false;
        };
        match self.map.get(tok) {
            Some(TokenState::Skip { issued, .. } | TokenState::Delta { issued, .. }) => {
                *issued < before
            }
            None => false,
        }
    }

    /// Drops every token (control API: "expire all sync state").
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

/// The collection scope a skip or delta token belongs to (for collections whose parameters,
/// like calendarView's window, are carried by the token).
pub(crate) fn token_scope(shared: &crate::server::Shared, tok: &str) -> Option<String> {
    match shared.lock_tokens().map.get(tok)? {
        TokenState::Skip { round, .. } => Some(round.scope.clone()),
        TokenState::Delta { scope, .. } => Some(scope.clone()),
    }
}

/// A delta-capable collection.
pub(crate) struct Collection<'a> {
    /// Identifies the collection (tokens must be used on the collection that issued them).
    pub scope: String,
    /// `@odata.type` of removed entries.
    pub odata_type: &'static str,
    pub default_page: usize,
    pub max_page: usize,
    /// Directory resources use `changed` for soft deletes and 410 + `Location` on reset.
    pub directory: bool,
    pub list: &'a dyn Fn(&Tenant) -> Vec<Listed>,
    pub render: &'a dyn Fn(&Tenant, &Listed, &View) -> Option<Value>,
    /// Query pairs of a fresh initial call (for `Location` on a directory reset).
    pub initial_query: Vec<(String, String)>,
}

/// Answers one delta request (initial call, nextLink or deltaLink).
pub(crate) fn run(ctx: &mut Ctx<'_>, coll: Collection<'_>) -> GResult<Resp> {
    let req = ctx.req;
    let shared = ctx.shared;
    let skip_ttl = shared.opts.skip_token_ttl;
    let delta_ttl = shared.opts.delta_token_ttl;
    let expired = || {
        let mut e = GraphError::sync_state_not_found();
        if coll.directory {
            e.code = "syncStateNotFound";
            e.message =
                "The delta token is expired and data must be synchronized again.".to_owned();
            e.location = Some(ctx.link(&req.path, &coll.initial_query));
        }
        e
    };
    let fault_scope = format!("delta:{}", coll.scope);

    let (round, pos) = if let Some(tok) = req.q("skiptoken") {
        let mut tokens = shared.lock_tokens();
        if tokens.needs_resync(tok) {
            return Err(GraphError::resync_required());
        }
        let (round, pos) = match tokens.map.get(tok) {
            Some(TokenState::Skip { round, pos, issued })
                if issued.elapsed() < skip_ttl && round.scope == coll.scope =>
            {
                (round.clone(), *pos)
            }
            _ => return Err(expired()),
        };
        if shared
            .faults
            .token_fault(&fault_scope, TokenFault::StaleNextLink)
        {
            tokens.map.remove(tok);
            return Err(expired());
        }
        (round, pos)
    } else if let Some(tok) = req.q("deltatoken") {
        let (prev, opts) = if coll.directory && tok.eq_ignore_ascii_case("latest") {
            // "sync from now": a deltaLink with no data
            let now: Snapshot = (coll.list)(ctx.t)
                .into_iter()
                .map(|l| (l.key.clone(), l))
                .collect();
            let snapshot = Arc::new(now);
            let round = Arc::new(Round {
                scope: coll.scope.clone(),
                entries: Vec::new(),
                next: snapshot,
                opts: Opts::default(),
            });
            return Ok(page(ctx, &coll, round, 0, skip_ttl, delta_ttl));
        } else {
            let mut tokens = shared.lock_tokens();
            if tokens.needs_resync(tok) {
                return Err(GraphError::resync_required());
            }
            let found = match tokens.map.get(tok) {
                Some(TokenState::Delta {
                    scope,
                    snapshot,
                    opts,
                    issued,
                }) if issued.elapsed() < delta_ttl && *scope == coll.scope => {
                    Some((snapshot.clone(), opts.clone()))
                }
                _ => None,
            };
            let Some(found) = found else {
                return Err(expired());
            };
            if shared
                .faults
                .token_fault(&fault_scope, TokenFault::ExpiredDelta)
            {
                tokens.map.remove(tok);
                return Err(expired());
            }
            found
        };
        let cur = (coll.list)(ctx.t);
        let mut entries = Vec::new();
        let cur_keys: std::collections::HashSet<&str> =
            cur.iter().map(|l| l.key.as_str()).collect();
        let want = |kind: &str| {
            opts.change_type
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(kind))
        };
        let mut removed: Vec<&Listed> = prev
            .values()
            .filter(|l| !cur_keys.contains(l.key.as_str()))
            .collect();
        removed.sort_by(|a, b| a.fp.cmp(&b.fp).then(a.key.cmp(&b.key)));
        if want("deleted") {
            entries.extend(removed.into_iter().map(|l| Entry::Removed(l.clone())));
        }
        for l in &cur {
            match prev.get(&l.key) {
                None if want("created") => entries.push(Entry::Live(l.clone())),
                Some(p) if p.fp != l.fp && want("updated") => entries.push(Entry::Live(l.clone())),
                _ => {}
            }
        }
        let next = Arc::new(cur.into_iter().map(|l| (l.key.clone(), l)).collect());
        (
            Arc::new(Round {
                scope: coll.scope.clone(),
                entries,
                next,
                opts,
            }),
            0,
        )
    } else {
        let opts = Opts {
            select: req.select(),
            expand: req.q("expand").map(str::to_owned),
            change_type: req.q("changeType").map(str::to_owned),
            top: req.top()?,
        };
        let cur = (coll.list)(ctx.t);
        let entries = if opts
            .change_type
            .as_deref()
            .is_none_or(|c| c.eq_ignore_ascii_case("created"))
        {
            cur.iter().cloned().map(Entry::Live).collect()
        } else {
            Vec::new()
        };
        let next = Arc::new(cur.into_iter().map(|l| (l.key.clone(), l)).collect());
        (
            Arc::new(Round {
                scope: coll.scope.clone(),
                entries,
                next,
                opts,
            }),
            0,
        )
    };
    Ok(page(ctx, &coll, round, pos, skip_ttl, delta_ttl))
}

fn page(
    ctx: &mut Ctx<'_>,
    coll: &Collection<'_>,
    round: Arc<Round>,
    pos: usize,
    skip_ttl: Duration,
    delta_ttl: Duration,
) -> Resp {
    let req = ctx.req;
    let size = req
        .prefer
        .maxpagesize
        .or(round.opts.top)
        .unwrap_or(coll.default_page)
        .clamp(1, coll.max_page);
    let mut view = req.view();
    view.select = round.opts.select.clone();
    view.expand = round.opts.expand.clone();
    let end = (pos + size).min(round.entries.len());
    let removed_reason = if coll.directory { "changed" } else { "deleted" };
    let removed = |l: &Listed| json!({"@odata.type": coll.odata_type, "id": view.id(&l.imm, &l.rest), "@removed": {"reason": removed_reason}});
    let mut value = Vec::with_capacity(end - pos);
    for e in &round.entries[pos..end] {
        match e {
            Entry::Live(l) => match (coll.render)(ctx.t, l, &view) {
                Some(v) => value.push(view.apply_select(v)),
                None => value.push(removed(l)),
            },
            Entry::Removed(l) => value.push(removed(l)),
        }
    }
    let mut body = json!({"@odata.context": ctx.context(&format!("{}/delta", coll.odata_type.trim_start_matches("#microsoft.graph.")))});
    let more = end < round.entries.len();
    let mut tokens = ctx.shared.lock_tokens();
    if more {
        let tok = tokens.insert(
            TokenState::Skip {
                round: round.clone(),
                pos: end,
                issued: Instant::now(),
            },
            skip_ttl,
            delta_ttl,
        );
        body["@odata.nextLink"] = json!(ctx.link(&req.path, &[("$skiptoken".to_owned(), tok)]));
    } else {
        let tok = tokens.insert(
            TokenState::Delta {
                scope: round.scope.clone(),
                snapshot: round.next.clone(),
                opts: round.opts.clone(),
                issued: Instant::now(),
            },
            skip_ttl,
            delta_ttl,
        );
        body["@odata.deltaLink"] = json!(ctx.link(&req.path, &[("$deltatoken".to_owned(), tok)]));
    }
    body["value"] = Value::Array(value);
    Resp::ok(body)
}
