//! The CRM side of the sandbox: CRM.interface under `POST /crm/interface` (text/xml),
//! backed by SQLite, seeded from the same [`Directory`] as the Microsoft 365 side.
//!
//! It implements the documented request language (see docs/CRM-INTERFACE.md): `<request>`
//! with `user`/`pwd`, `impersonate="email=…|rep=…"` (master user only, known reps only),
//! custom attributes echoed on `<response>`, commands `query` (nested tables, `cond`/`lop`,
//! `fields`, `maxrecords`, `catbynum`/`catexkeys`), `insert`, `update`, `delete` (soft),
//! `import` (with `matchup`) and `nop`; records named after their table with `tableshort`
//! and `id = StatNo << 32 | SeqNo`; `<return type="error" code text tablename fieldname>`
//! with the SYNCML codes. It runs one request at a time per user (the master user, or the rep
//! it acts for) and answers a second concurrent one with "User is already active"; requests
//! of different users run in parallel. It does not execute the same request twice (same
//! session, same request id, same body: the first response is answered again). Tables and
//! fields it does not have are refused (400); [`CrmDialect`] serves it under other names.
//!
//! It is written independently of gc-crm (which it must never depend on).

mod db;
mod engine;
mod http;
mod names;
mod schema;
mod seed;
pub(crate) mod seen;
mod translate;
pub(crate) mod wire;

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest as _;

pub use db::{CatalogEntry, StoredRecord};
pub use http::{MAX_REQUEST_BYTES, router, spawn};
pub use names::{CrmDialect, DialectError};
pub use seed::{
    CONTENT_TYPES, EXT_SYSTEMS, LegacyItem, LegacyRecord, LegacyTarget, OMITTED_WHEN_INCOMPLETE,
    OUTSIDE_DOMAIN,
};

use crate::faults::FaultPlan;
use crate::monitor::Monitor;
use crate::people::Directory;

/// How to build the CRM sandbox.
#[derive(Debug, Clone)]
pub struct CrmOptions {
    /// Master user login (CRM.connector default: `OCSU`).
    pub master_user: String,
    /// Its password.
    pub password: String,
    /// Leave some required catalog values out (see [`OMITTED_WHEN_INCOMPLETE`]).
    pub omit_required_catalog_values: bool,
    /// Seed for generated data.
    pub seed: u64,
    /// SQLite file; `None` = in memory.
    pub database: Option<PathBuf>,
    /// Items the previous (EWS) connector synchronised; empty = generate some.
    pub legacy: Vec<LegacyItem>,
    /// Persons, absences and tasks whose items the previous connector kept in Microsoft 365.
    pub legacy_records: Vec<LegacyRecord>,
    /// The names served on the wire (`--crm-dialect`); default: the stored names.
    pub dialect: CrmDialect,
    /// Request counter and trip wires to report to (the Microsoft 365 side's, so that one
    /// `GET /_sandbox/stats` covers both); `None` = an own one ([`CrmSandbox::monitor`]).
    pub monitor: Option<Arc<Monitor>>,
}

impl Default for CrmOptions {
    fn default() -> Self {
        Self {
            master_user: "OCSU".into(),
            password: "sandbox".into(),
            omit_required_catalog_values: false,
            seed: 1,
            database: None,
            legacy: Vec::new(),
            legacy_records: Vec::new(),
            dialect: CrmDialect::default(),
            monitor: None,
        }
    }
}

/// Counters for tests and the demo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CrmStats {
    /// Requests received on `/crm/interface`.
    pub requests: u64,
    /// Largest number of write records in one request.
    pub max_writes_per_request: u64,
    /// Requests answered with "User is already active".
    pub busy_answers: u64,
    /// Requests answered from the duplicate cache.
    pub duplicates: u64,
    /// Requests whose request id an earlier request of the same session had used with a
    /// different body (executed: they are different requests).
    pub reqid_reused: u64,
    /// Most requests executing at the same time (different users run in parallel).
    pub in_flight_peak: u64,
}

#[derive(Debug, Default)]
struct Switches {
    password: String,
    busy_next: u32,
    fail_next: Vec<(u16, String)>,
    hold: Duration,
    stats: CrmStats,
}

/// The CRM.interface sandbox.
#[derive(Debug)]
pub struct CrmSandbox {
    db: db::Db,
    master_user: String,
    directory: Arc<Directory>,
    faults: Arc<FaultPlan>,
    monitor: Arc<Monitor>,
    switches: Mutex<Switches>,
    in_flight: Mutex<HashSet<String>>,
    /// `(session#reqid, body digest, response)` of the last [`RECENT`] requests.
    recent: Mutex<VecDeque<(String, [u8; 32], String)>>,
    dialect: CrmDialect,
    seq: AtomicU64,
}

/// Errors building the CRM sandbox.
#[derive(Debug, thiserror::Error)]
#[error("CRM sandbox store: {0}")]
pub struct CrmSandboxError(#[from] sqlx::Error);

const RECENT: usize = 256;

impl CrmSandbox {
    /// Opens the store and seeds it from the directory.
    pub async fn new(
        directory: Arc<Directory>,
        faults: Arc<FaultPlan>,
        opts: CrmOptions,
    ) -> Result<Self, CrmSandboxError> {
        let db = db::Db::open(opts.database.as_deref()).await?;
        seed::seed(
            &db,
            &directory,
            opts.seed,
            opts.omit_required_catalog_values,
            &opts.legacy,
            &opts.legacy_records,
            opts.dialect.own_system(),
        )
        .await?;
        Ok(Self {
            db,
            master_user: opts.master_user,
            directory,
            faults,
            monitor: opts.monitor.unwrap_or_default(),
            switches: Mutex::new(Switches {
                password: opts.password,
                ..Switches::default()
            }),
            in_flight: Mutex::new(HashSet::new()),
            recent: Mutex::new(VecDeque::new()),
            dialect: opts.dialect,
            seq: AtomicU64::new(0),
        })
    }

    /// The directory the data was seeded from.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The master user login.
    pub fn master_user(&self) -> &str {
        &self.master_user
    }

    /// The request counter and trip wires this CRM.interface reports to.
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    fn sw<T>(&self, f: impl FnOnce(&mut Switches) -> T) -> T {
        let mut g = match self.switches.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Changes the master password CRM.interface expects (simulates a changed password).
    pub fn set_password(&self, password: &str) {
        self.sw(|s| s.password = password.to_owned());
    }

    /// The next `n` requests are answered with "User is already active".
    pub fn set_busy(&self, n: u32) {
        self.sw(|s| s.busy_next = n);
    }

    /// The next request(s) fail with this session-level code and text (e.g. 511).
    pub fn fail_next(&self, count: u32, code: u16, text: &str) {
        self.sw(|s| {
            for _ in 0..count {
                s.fail_next.push((code, text.to_owned()));
            }
        });
    }

    /// Every request holds its user's turn this long before it executes (to make requests
    /// overlap in tests of the per-user serialization).
    pub fn set_hold(&self, hold: Duration) {
        self.sw(|s| s.hold = hold);
    }

    /// Counters.
    pub fn stats(&self) -> CrmStats {
        self.sw(|s| s.stats)
    }

    /// Records of a table (soft-deleted ones included).
    pub async fn records(&self, table: &str) -> Result<Vec<StoredRecord>, CrmSandboxError> {
        Ok(self.db.table(table).await?.as_ref().clone())
    }

    /// One record by id.
    pub async fn record(&self, id: u64) -> Result<Option<StoredRecord>, CrmSandboxError> {
        Ok(self.db.get(id).await?)
    }

    /// All catalog values.
    pub async fn catalog_values(&self) -> Result<Vec<CatalogEntry>, CrmSandboxError> {
        Ok(self.db.catalogs().await?)
    }

    /// Removes the values listed in [`OMITTED_WHEN_INCOMPLETE`]; returns how many existed.
    pub async fn remove_required_catalog_values(&self) -> Result<usize, CrmSandboxError> {
        let mut n = 0;
        for (cat, v) in OMITTED_WHEN_INCOMPLETE {
            if self.db.remove_catalog_value(cat, v).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Sets a field of a record directly (e.g. to flip a rep's flags in a test).
    pub async fn set_field(
        &self,
        id: u64,
        field: &str,
        value: &str,
    ) -> Result<bool, CrmSandboxError> {
        let Some(mut rec) = self.db.get(id).await? else {
            return Ok(false);
        };
        rec.fields.insert(field.to_owned(), value.to_owned());
        self.db.save(&rec).await?;
        Ok(true)
    }

    /// Handles one request body and returns the response body (HTTP 200).
    pub async fn handle(&self, body: &str) -> String {
        let digest: [u8; 32] = sha2::Sha256::digest(body.as_bytes()).into();
        self.execute(digest, wire::parse_request(body)).await
    }

    /// Executes a parsed request; `digest` is the SHA-256 of its body (duplicate protection).
    async fn execute(
        &self,
        digest: [u8; 32],
        parsed: Result<wire::ParsedRequest, String>,
    ) -> String {
        self.sw(|s| s.stats.requests += 1);
        let req = match parsed {
            Ok(r) => r,
            Err(text) => return wire::session_error(&[], 400, &text),
        };
        let echo = wire::echoed(&req.attrs);
        let writes = req
            .commands
            .iter()
            .map(|c| match c {
                wire::Cmd::Write { records, .. } => records.len() as u64,
                _ => 0,
            })
            .sum::<u64>();
        self.sw(|s| s.stats.max_writes_per_request = s.stats.max_writes_per_request.max(writes));

        // authentication
        let user = req.attr("user").unwrap_or_default().to_owned();
        let pwd = req.attr("pwd").unwrap_or_default();
        let password_ok = self.sw(|s| s.password == pwd);
        if req.attr("auth").is_some() {
            return wire::session_error(
                &echo,
                401,
                "auth tokens are not accepted by the sandbox; use user/pwd",
            );
        }
        if !user.eq_ignore_ascii_case(&self.master_user) || !password_ok {
            return wire::session_error(&echo, 401, &format!("Login failed for user '{user}'"));
        }
        let session_key = match req.attr("impersonate") {
            Some(imp) => match self.impersonate(imp).await {
                Ok(rep) => format!("{user}|{rep}"),
                Err(text) => return wire::session_error(&echo, 401, &text),
            },
            None => user.clone(),
        };

        // duplicate protection: the same request (same session, same request id, same body)
        // is answered, not executed, again; a reused id with another body is another request
        // (checked only after authentication, so a replayed id reveals nothing)
        let reqid = req.attr("reqid").map(|id| format!("{session_key}#{id}"));
        if let Some(id) = &reqid {
            let (cached, reused) = {
                let recent = self.lock_recent();
                let same_id = recent.iter().filter(|(k, _, _)| k == id);
                let mut reused = false;
                let mut cached = None;
                for (_, d, resp) in same_id {
                    if *d == digest {
                        cached = Some(resp.clone());
                    } else {
                        reused = true;
                    }
                }
                (cached, reused)
            };
            if let Some(resp) = cached {
                self.sw(|s| s.stats.duplicates += 1);
                return resp;
            }
            if reused {
                self.sw(|s| s.stats.reqid_reused += 1);
            }
        }

        // one request per user at a time
        let busy_text = self.dialect.convention("already_active_text").to_owned();
        if self.sw(|s| {
            if s.busy_next > 0 {
                s.busy_next -= 1;
                true
            } else {
                false
            }
        }) {
            self.sw(|s| s.stats.busy_answers += 1);
            return wire::session_error(&echo, 506, &busy_text);
        }
        let Some(_guard) = InFlight::enter(&self.in_flight, &session_key) else {
            self.sw(|s| s.stats.busy_answers += 1);
            return wire::session_error(&echo, 506, &busy_text);
        };
        let running = self.in_flight.lock().map_or(1, |g| g.len() as u64);
        let hold = self.sw(|s| {
            s.stats.in_flight_peak = s.stats.in_flight_peak.max(running);
            s.hold
        });
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        if let Some((code, text)) = self.sw(|s| {
            if s.fail_next.is_empty() {
                None
            } else {
                Some(s.fail_next.remove(0))
            }
        }) {
            return wire::session_error(&echo, code, &text);
        }

        let resp = {
            let mut out = wire::Out::new();
            let attrs: Vec<(&str, String)> =
                echo.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            out.open("response", &attrs, false);
            for cmd in &req.commands {
                engine::run(&self.db, &self.dialect, cmd, &mut out).await;
            }
            out.close("response");
            out.finish()
        };
        self.seq.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = reqid {
            let mut r = self.lock_recent();
            r.push_back((id, digest, resp.clone()));
            while r.len() > RECENT {
                r.pop_front();
            }
        }
        resp
    }

    fn lock_recent(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, [u8; 32], String)>> {
        match self.recent.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `impersonate="email=…;rep=…"` (the key of the e-mail pair is the dialect's
    /// `impersonate_key`): the first pair naming a known rep wins.
    async fn impersonate(&self, value: &str) -> Result<String, String> {
        let reps = self
            .db
            .table("Rep")
            .await
            .map_err(|e| format!("database failure: {e}"))?;
        for pair in value.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            let email_key = self
                .dialect
                .convention("impersonate_key")
                .to_ascii_lowercase();
            let field = if k == email_key {
                "EMail1"
            } else if k == "rep" {
                "Name"
            } else {
                continue;
            };
            if let Some(r) = reps.iter().find(|r| {
                !r.deleted
                    && r.fields
                        .get(field)
                        .is_some_and(|x| x.trim().eq_ignore_ascii_case(v))
            }) {
                return Ok(r.id.to_string());
            }
        }
        Err(format!(
            "{} failed: no rep matches '{value}'",
            self.dialect.convention("impersonation_marker")
        ))
    }
}

struct InFlight<'a> {
    set: &'a Mutex<HashSet<String>>,
    key: String,
}

impl<'a> InFlight<'a> {
    fn enter(set: &'a Mutex<HashSet<String>>, key: &str) -> Option<Self> {
        let mut g = match set.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if !g.insert(key.to_owned()) {
            return None;
        }
        Some(Self {
            set,
            key: key.to_owned(),
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut g = match self.set.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.remove(&self.key);
    }
}

/// Legacy items taken from the Microsoft 365 side of a running sandbox, so that the external
/// keys the "previous connector" left behind point at real events (by iCalUId) and messages
/// (by internetMessageId): two events and one Inbox message of each of the first three
/// mailbox users. Empty when the tenant has none (the seed then generates synthetic keys).
pub fn legacy_from_tenant(
    state: &crate::StateHandle<'_>,
    directory: &Directory,
) -> Vec<LegacyItem> {
    let mut out = Vec::new();
    let externals: Vec<&str> = directory
        .externals
        .iter()
        .map(|p| p.email.as_str())
        .collect();
    for (i, u) in directory.mailbox_users().enumerate().take(3) {
        let other = externals
            .get(i % externals.len().max(1))
            .copied()
            .unwrap_or_default()
            .to_owned();
        let attendees = vec![u.email.clone(), other];
        if let Ok(events) = state.events(&u.email) {
            for (k, (_, subject, ical)) in events
                .into_iter()
                .filter(|e| !e.2.is_empty())
                .take(2)
                .enumerate()
            {
                out.push(LegacyItem {
                    mailbox: u.email.clone(),
                    content_type: "text/x-vevent".into(),
                    ext_key: ical,
                    subject,
                    date: "2026-11-27".into(),
                    time: format!("{:02}:00", 9 + k),
                    attendees: attendees.clone(),
                });
            }
        }
        if let Ok(msgs) = state.messages(&u.email, "Inbox")
            && let Some(m) = msgs.into_iter().find(|m| !m.internet_message_id.is_empty())
        {
            out.push(LegacyItem {
                mailbox: u.email.clone(),
                content_type: "application/x-mmRecord".into(),
                ext_key: m.internet_message_id,
                subject: m.subject,
                date: "2026-11-26".into(),
                time: "08:30".into(),
                attendees: attendees.clone(),
            });
        }
    }
    out
}
