//! Fault injection and latency, shared by the Graph side and the CRM side of the sandbox.
//!
//! A [`FaultSpec`] is parsed from the `--faults` text (see docs/SANDBOX.md), e.g.
//! `429=0.05,503=0.02,504=0.01,reset=0.01,stale-nextlink=0.1,expired-delta=0.05,latency=0.2@800`.
//! A [`FaultPlan`] turns it into decisions. Decisions are deterministic under the seed: the n-th
//! roll in a given *scope* (e.g. `graph:user@contoso.example` or `crm`) always gives the same
//! answer, whatever other scopes do concurrently.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Probabilities (0.0 ..= 1.0) of each injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultSpec {
    /// `429` with `Retry-After` (Graph: `TooManyRequests`).
    pub throttle: f64,
    /// `503 Service Unavailable` with `Retry-After`.
    pub unavailable: f64,
    /// `504 Gateway Timeout`.
    pub gateway_timeout: f64,
    /// The connection is dropped without a complete response.
    pub reset: f64,
    /// A `$skiptoken` in a nextLink is answered as if its sync state had been evicted.
    pub stale_next_link: f64,
    /// A `$deltatoken` is answered as expired (410 `SyncStateNotFound`).
    pub expired_delta: f64,
    /// The token endpoint answers `temporarily_unavailable` (429 or 503, half each).
    pub login: f64,
    /// Probability of extra latency, and how much.
    pub latency: f64,
    pub latency_ms: u64,
    /// The `Retry-After` (seconds) of every injected 429 and 503, Graph's, the token
    /// endpoint's and CRM.interface's alike (`retry-after=S`); unset: 0.5 or 1 s for Graph's
    /// 429, 1 s otherwise. CRM.interface sends whole seconds, rounded up.
    pub retry_after_secs: Option<f64>,
}

/// Errors parsing a `--faults` text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultSpecError {
    #[error("fault spec item {0:?} is not of the form name=probability")]
    Malformed(String),
    #[error(
        "unknown fault {0:?} (known: 429, 503, 504, reset, stale-nextlink, expired-delta, login, latency, retry-after)"
    )]
    UnknownFault(String),
    #[error("probability {0:?} must be a number between 0 and 1")]
    BadProbability(String),
    #[error("latency {0:?} must look like 0.2@800 (probability@milliseconds)")]
    BadLatency(String),
    #[error("retry-after {0:?} must be a number of seconds from 0 to 3600, e.g. 0.1")]
    BadRetryAfter(String),
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = FaultSpec::default();
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(spec);
        }
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .or_else(|| item.split_once(':'))
                .ok_or_else(|| FaultSpecError::Malformed(item.to_owned()))?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "retry-after" {
                let secs: f64 = value
                    .trim_end_matches('s')
                    .parse()
                    .map_err(|_| FaultSpecError::BadRetryAfter(value.to_owned()))?;
                if !(secs.is_finite() && (0.0..=3600.0).contains(&secs)) {
                    return Err(FaultSpecError::BadRetryAfter(value.to_owned()));
                }
                spec.retry_after_secs = Some(secs);
                continue;
            }
            if name == "latency" {
                let (p, ms) = value
                    .split_once('@')
                    .ok_or_else(|| FaultSpecError::BadLatency(value.to_owned()))?;
                spec.latency = probability(p)?;
                spec.latency_ms = ms
                    .trim()
                    .trim_end_matches("ms")
                    .parse()
                    .map_err(|_| FaultSpecError::BadLatency(value.to_owned()))?;
                continue;
            }
            let p = probability(value)?;
            match name.as_str() {
                "429" | "throttle" => spec.throttle = p,
                "503" | "unavailable" => spec.unavailable = p,
                "504" | "gateway-timeout" => spec.gateway_timeout = p,
                "reset" | "connection-reset" => spec.reset = p,
                "stale-nextlink" | "stale-next-link" | "stale" => spec.stale_next_link = p,
                "expired-delta" | "expired-deltatoken" => spec.expired_delta = p,
                "login" | "token" => spec.login = p,
                _ => return Err(FaultSpecError::UnknownFault(name)),
            }
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, p) in [
            ("429", self.throttle),
            ("503", self.unavailable),
            ("504", self.gateway_timeout),
            ("reset", self.reset),
            ("stale-nextlink", self.stale_next_link),
            ("expired-delta", self.expired_delta),
            ("login", self.login),
        ] {
            if p > 0.0 {
                parts.push(format!("{name}={p}"));
            }
        }
        if self.latency > 0.0 {
            parts.push(format!("latency={}@{}", self.latency, self.latency_ms));
        }
        if let Some(secs) = self.retry_after_secs {
            parts.push(format!("retry-after={secs}"));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

fn probability(s: &str) -> Result<f64, FaultSpecError> {
    let s = s.trim();
    let p: f64 = if let Some(pct) = s.strip_suffix('%') {
        pct.trim().parse::<f64>().map(|v| v / 100.0)
    } else {
        s.parse()
    }
    .map_err(|_| FaultSpecError::BadProbability(s.to_owned()))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(FaultSpecError::BadProbability(s.to_owned()))
    }
}

/// A fault to apply to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answer 429 with this `Retry-After` (seconds, may be fractional).
    TooManyRequests { retry_after_secs: f64 },
    /// Answer 503 with `Retry-After`.
    ServiceUnavailable { retry_after_secs: f64 },
    /// Answer 504.
    GatewayTimeout,
    /// Drop the connection.
    ConnectionReset,
    /// Sleep this long, then answer normally.
    Latency(Duration),
}

/// Faults that only make sense for paging/delta tokens; rolled separately with [`FaultPlan::token_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    StaleNextLink,
    ExpiredDelta,
}

/// The live fault switches of a running sandbox (changeable through the control API).
#[derive(Debug)]
pub struct FaultPlan {
    seed: u64,
    spec: RwLock<FaultSpec>,
    latency_ms: AtomicU64,
    counters: Mutex<HashMap<String, u64>>,
    /// While `true`, requests wait where the base latency is applied (see [`FaultPlan::hold`]).
    hold: tokio::sync::watch::Sender<bool>,
}

impl FaultPlan {
    pub fn new(seed: u64, spec: FaultSpec, latency_ms: u64) -> FaultPlan {
        FaultPlan {
            seed,
            spec: RwLock::new(spec),
            latency_ms: AtomicU64::new(latency_ms),
            counters: Mutex::new(HashMap::new()),
            hold: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Holds (`true`) or releases (`false`) every request at the point where the base latency
    /// is applied: after authentication, throttling and fault injection, with its mailbox slot
    /// taken. Latency whose end the test decides, so that "N requests in flight at once" does
    /// not depend on how fast the machine sends them.
    pub fn hold(&self, on: bool) {
        self.hold.send_replace(on);
    }

    /// Whether requests are being held.
    pub fn holding(&self) -> bool {
        *self.hold.borrow()
    }

    /// Waits while requests are held.
    pub async fn released(&self) {
        let mut rx = self.hold.subscribe();
        // The sender lives as long as `self`: the wait cannot fail while we wait.
        let _ = rx.wait_for(|held| !held).await;
    }

    pub fn spec(&self) -> FaultSpec {
        self.spec.read().map(|s| *s).unwrap_or_default()
    }

    pub fn set_spec(&self, spec: FaultSpec) {
        if let Ok(mut s) = self.spec.write() {
            *s = spec;
        }
    }

    /// The base latency added to every request (`--latency-ms`).
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    pub fn set_latency_ms(&self, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Rolls the generic faults (429, 503, 504, reset, latency) for the next request in `scope`.
    pub fn roll(&self, scope: &str) -> Option<Fault> {
        let spec = self.spec();
        let any =
            spec.throttle + spec.unavailable + spec.gateway_timeout + spec.reset + spec.latency;
        if any <= 0.0 {
            return None;
        }
        let (x, y) = self.draw(scope, "generic");
        let mut acc = 0.0;
        acc += spec.throttle;
        if x < acc {
            return Some(Fault::TooManyRequests {
                retry_after_secs: spec
                    .retry_after_secs
                    .unwrap_or(0.5 + (y * 2.0).floor() / 2.0),
            });
        }
        acc += spec.unavailable;
        if x < acc {
            return Some(Fault::ServiceUnavailable {
                retry_after_secs: spec.retry_after_secs.unwrap_or(1.0),
            });
        }
        acc += spec.gateway_timeout;
        if x < acc {
            return Some(Fault::GatewayTimeout);
        }
        acc += spec.reset;
        if x < acc {
            return Some(Fault::ConnectionReset);
        }
        acc += spec.latency;
        if x < acc {
            return Some(Fault::Latency(Duration::from_millis(spec.latency_ms)));
        }
        None
    }

    /// The fault of the next token-endpoint request, if any (429 or 503, from `login=P`).
    pub fn roll_login(&self) -> Option<Fault> {
        let p = self.spec().login;
        if p <= 0.0 {
            return None;
        }
        let (x, y) = self.draw("login", "login");
        let retry_after_secs = self.spec().retry_after_secs.unwrap_or(1.0);
        if x >= p {
            None
        } else if y < 0.5 {
            Some(Fault::TooManyRequests { retry_after_secs })
        } else {
            Some(Fault::ServiceUnavailable { retry_after_secs })
        }
    }

    /// Whether the next token use in `scope` should fail as `kind`.
    pub fn token_fault(&self, scope: &str, kind: TokenFault) -> bool {
        let spec = self.spec();
        let (p, label) = match kind {
            TokenFault::StaleNextLink => (spec.stale_next_link, "stale"),
            TokenFault::ExpiredDelta => (spec.expired_delta, "expired"),
        };
        if p <= 0.0 {
            return false;
        }
        self.draw(scope, label).0 < p
    }

    /// Two uniform numbers in [0, 1) for the next draw of (`scope`, `label`).
    fn draw(&self, scope: &str, label: &str) -> (f64, f64) {
        let key = format!("{label}\u{0}{scope}");
        let n = match self.counters.lock() {
            Ok(mut c) => {
                let slot = c.entry(key.clone()).or_insert(0);
                *slot += 1;
                *slot
            }
            Err(_) => 0,
        };
        let h = splitmix(self.seed ^ fnv(key.as_bytes()) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let h2 = splitmix(h);
        (unit(h), unit(h2))
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let s: FaultSpec = "429=0.05, 503=2%,504=0.01,reset=0.01,stale-nextlink=0.1,expired-delta=0.2,login=0.1,latency=0.3@800ms"
            .parse()
            .unwrap();
        assert_eq!(s.throttle, 0.05);
        assert_eq!(s.unavailable, 0.02);
        assert_eq!(s.latency_ms, 800);
        assert_eq!(s.login, 0.1);
        assert_eq!(s.to_string().parse::<FaultSpec>().unwrap(), s);
        assert_eq!("none".parse::<FaultSpec>().unwrap(), FaultSpec::default());
        let r: FaultSpec = "429=1,retry-after=0".parse().unwrap();
        assert_eq!(r.retry_after_secs, Some(0.0));
        assert_eq!(r.to_string().parse::<FaultSpec>().unwrap(), r);
        assert!(
            matches!(FaultPlan::new(1, r, 0).roll("x"), Some(Fault::TooManyRequests { retry_after_secs }) if retry_after_secs == 0.0)
        );
        assert!("retry-after=-1".parse::<FaultSpec>().is_err());
        assert!("retry-after=soon".parse::<FaultSpec>().is_err());
        assert!("bogus=0.1".parse::<FaultSpec>().is_err());
        assert!("429=1.5".parse::<FaultSpec>().is_err());
        assert!("latency=0.5".parse::<FaultSpec>().is_err());
    }

    #[test]
    fn deterministic_per_scope_and_roughly_calibrated() {
        let spec: FaultSpec = "429=0.1,503=0.1".parse().unwrap();
        let a = FaultPlan::new(42, spec, 0);
        let b = FaultPlan::new(42, spec, 0);
        // Interleaving another scope on `b` must not change the sequence of scope "x".
        let seq_a: Vec<_> = (0..200).map(|_| a.roll("x")).collect();
        let seq_b: Vec<_> = (0..200)
            .map(|_| {
                b.roll("y");
                b.roll("x")
            })
            .collect();
        assert_eq!(seq_a, seq_b);
        let hits = seq_a.iter().filter(|f| f.is_some()).count();
        assert!((20..=60).contains(&hits), "{hits}");
        let c = FaultPlan::new(43, spec, 0);
        let seq_c: Vec<_> = (0..200).map(|_| c.roll("x")).collect();
        assert_ne!(seq_a, seq_c);
    }

    #[test]
    fn no_faults_by_default() {
        let p = FaultPlan::new(1, FaultSpec::default(), 5);
        assert!((0..100).all(|_| p.roll("s").is_none()));
        assert!(!p.token_fault("s", TokenFault::ExpiredDelta));
        assert_eq!(p.latency(), Duration::from_millis(5));
    }
}
