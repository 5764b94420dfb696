//! `[adoption]`: how the first sync of a mailbox (and every item without link) finds what CRM
//! already has instead of writing it again (see docs/SYNC.md, "Adoption").

use serde::Deserialize;

/// `[adoption]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adoption {
    /// Translate the EWS item ids and hex entry ids another connector left in CRM's external
    /// keys (`translateExchangeIds`) and adopt the records they point to.
    pub legacy_ids: bool,
    /// As the last resort, adopt the one record of the rep with the same subject and start
    /// (and the sender among its participants, for e-mail).
    pub content_match: bool,
    /// At most this many external keys of other systems are read per mailbox and kind (the
    /// rest is left out with a warning): bounds the memory of the translation.
    pub max_legacy_keys: u32,
    /// Also look up the previous connector's ids for messages received, and events created,
    /// after the connector first ran the mailbox (only while both connectors run side by side).
    pub legacy_ids_after_switch_over: bool,
}

impl Default for Adoption {
    fn default() -> Self {
        let d = gc_sync::adopt::AdoptionSettings::default();
        Adoption {
            legacy_ids: d.legacy_ids,
            content_match: d.content_match,
            max_legacy_keys: d.max_legacy_keys,
            legacy_ids_after_switch_over: d.legacy_ids_after_switch_over,
        }
    }
}

impl Adoption {
    /// The engine's settings.
    pub fn settings(&self) -> gc_sync::adopt::AdoptionSettings {
        gc_sync::adopt::AdoptionSettings {
            legacy_ids: self.legacy_ids,
            content_match: self.content_match,
            max_legacy_keys: self.max_legacy_keys,
            legacy_ids_after_switch_over: self.legacy_ids_after_switch_over,
        }
    }
}
