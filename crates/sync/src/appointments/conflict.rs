//! The both-changed rule, shared by both sides of the appointments kind: when the event and
//! the appointment both changed since the last sync, `[appointments] conflict` picks the
//! winner, and the ledger entry keeps the rule, the winner and the losing version, so that no
//! edit is lost without a trace (docs/SYNC.md, "Both changed").
//!
//! The CRM side never applies it: it leaves a both-changed appointment to the calendar side,
//! which meets the event's change next in the same run and calls [`crm_wins`] or records the
//! event's win with [`conflict_detail`].

use serde_json::{Value, json};

use crate::appointments::content::{self, Content};
use crate::appointments::decide::{Decision, Input, takes_crm_edits};
use crate::appointments::decide_crm::{differences, invitees, patch_event};
use crate::appointments::model::{CalEvent, CrmAppointment};
use crate::appointments::rules::{AppointmentRules, Conflict};
use crate::engine::Owner;

/// Which side wins a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// The event.
    Microsoft365,
    /// The CRM appointment.
    Crm,
}

/// The both-changed rule: `[appointments] conflict`.
pub fn conflict_winner(rules: &AppointmentRules, ev: &CalEvent, a: &CrmAppointment) -> Winner {
    match rules.conflict {
        Conflict::Microsoft365 => Winner::Microsoft365,
        Conflict::Crm => Winner::Crm,
        Conflict::Newest => match (ev.modified, content::crm_modified(a)) {
            (Some(g), Some(c)) if c > g => Winner::Crm,
            _ => Winner::Microsoft365,
        },
    }
}

/// Why CRM cannot win on this copy although the rule picks it: the meeting's organizer is not
/// a synced rep, so the copy takes no CRM edits ([`takes_crm_edits`]), and CRM's version
/// written into it would only be overwritten by the organizer's next update. `None` when the
/// copy takes CRM's edits.
pub fn overruled(ev: &CalEvent, owner: &Owner) -> Option<String> {
    (!takes_crm_edits(ev, owner)).then(|| {
        format!(
            "the meeting is {}'s, who is not a synced rep",
            ev.organizer.as_deref().unwrap_or_default()
        )
    })
}

/// The ledger's record of a conflict: which rule, who won, the losing version, and why the
/// rule was overruled, if it was ([`overruled`]).
pub fn conflict_detail(
    rules: &AppointmentRules,
    winner: Winner,
    losing: Option<&Content>,
    ev: &CalEvent,
    a: &CrmAppointment,
    overruled: Option<&str>,
) -> Value {
    let rule = match rules.conflict {
        Conflict::Microsoft365 => "microsoft365",
        Conflict::Crm => "crm",
        Conflict::Newest => "newest",
    };
    let mut detail = json!({
        "rule": rule,
        "winner": match winner { Winner::Microsoft365 => "microsoft365", Winner::Crm => "crm" },
        "eventModified": ev.modified.map(|t| t.to_string()),
        "crmModified": a.updated,
        "losingVersion": losing.map(Content::to_json),
    });
    if let Some(why) = overruled {
        detail["overruled"] = json!(why);
    }
    json!({ "conflict": detail })
}

/// When both sides changed and CRM wins, from the calendar side: the event gets CRM's version.
pub fn crm_wins(i: &Input<'_>, ev: &CalEvent, a: &CrmAppointment) -> Decision {
    let wanted = match content::of_crm(a, i.rules, i.reps) {
        Ok(c) => c,
        Err(reason) => return Decision::Fail(reason),
    };
    let losing = content::of_event(ev);
    let what = differences(losing.as_ref(), &wanted);
    let reason = format!(
        "both sides changed since the last sync; CRM's version wins ([appointments] conflict): the event is updated ({what}), its own version is kept in this entry"
    );
    let detail = conflict_detail(i.rules, Winner::Crm, losing.as_ref(), ev, a, None);
    let invite = invitees(&wanted, Some(ev), i.owner);
    patch_event(a, ev, &wanted, invite, reason, None, Some(detail))
}
