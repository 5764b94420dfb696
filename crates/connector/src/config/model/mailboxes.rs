//! `[mailboxes]`: which mailboxes are synchronized and how many at once, with [`Parallel`]'s
//! own parsing (`"auto"` or a number) and its resolution against the tenant's bound; separate
//! because it applies to every kind alike.

use serde::Deserialize;

/// `[mailboxes]`: which mailboxes are synchronized and how many at once.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mailboxes {
    pub refresh_interval_minutes: u32,
    /// Mailboxes worked at once: `"auto"` (from the bound, see [`Parallel`]) or a number.
    pub parallel: Parallel,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Megabytes of item content (small documents written with their activity) the whole
    /// process holds in memory at once; downloads are parked in temporary files and big
    /// documents streamed from there.
    pub memory_budget_mb: u32,
    /// Honour each rep's `UserSettings` (`<SyncSettings>` overrides of the global settings).
    pub user_settings: bool,
    /// The unit of `AttachSizeLimit` in `UserSettings` (Aurea does not document it).
    pub user_settings_size_unit: SizeUnitSetting,
    /// On the first sync of a mailbox (per kind), items dated before this day (in `[crm]
    /// time_zone`) are left alone: for migrations from another connector.
    pub sync_from: Option<jiff::civil::Date>,
    /// "Enable after review": a mailbox (per kind) whose first sync would create more than
    /// this many records, or delete any, waits for the administrator's confirmation
    /// (`graph-connector confirm`, the admin page) instead of syncing. 0: no review. 500 by
    /// default: a rollout should not file a whole mailbox's backlog unseen.
    pub confirm_first_sync_above: u64,
}

impl Default for Mailboxes {
    fn default() -> Self {
        Self {
            refresh_interval_minutes: 1440,
            parallel: Parallel::Auto,
            include: Vec::new(),
            exclude: Vec::new(),
            memory_budget_mb: 16,
            user_settings: true,
            user_settings_size_unit: SizeUnitSetting::Kb,
            sync_from: None,
            confirm_first_sync_above: 500,
        }
    }
}

/// `[mailboxes] user_settings_size_unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeUnitSetting {
    Bytes,
    Kb,
    Mb,
}

/// `[mailboxes] parallel`: how many mailboxes are worked at once.
///
/// A mailbox's work is bounded by itself, not by the others: Graph allows it 4 concurrent
/// requests (`[microsoft] mailbox_concurrency`) and CRM.interface one request at a time per
/// rep. So the bound of a tenant grows with every mailbox worked at once, and `"auto"` works
/// them all at once, up to `[microsoft] requests_per_second` of them (the tenant-wide Graph
/// budget: each running mailbox should get at least one request a second). A number fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallel {
    /// From the bound: every mailbox, at most `requests_per_second`.
    Auto,
    /// This many.
    Fixed(u32),
}

impl Parallel {
    /// Mailboxes to work at once for `mailboxes` mailboxes (at least 1).
    pub fn resolve(self, mailboxes: usize, requests_per_second: u32) -> usize {
        match self {
            Parallel::Auto => mailboxes.min(requests_per_second.max(1) as usize).max(1),
            Parallel::Fixed(n) => (n as usize).max(1),
        }
    }
}

impl<'de> Deserialize<'de> for Parallel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Parallel::Fixed(n)),
            Raw::Text(t) if t.trim().eq_ignore_ascii_case("auto") => Ok(Parallel::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "{t:?} is neither \"auto\" nor a number of mailboxes"
            ))),
        }
    }
}
