//! Every kind's decisions mapped to what a plan counts: the outcome the kind's `apply`
//! reports for it (so that a plan and the run that follows agree number for number), the side
//! it writes, and the reason. One function per kind, all here, so that a new decision variant
//! is mapped where the other kinds' are (the matches are exhaustive: a variant added to a
//! kind does not compile until it is mapped).

use crate::absences::decide::Decision as Absence;
use crate::appointments::decide::Decision as Appointment;
use crate::contacts::decide::Decision as Contact;
use crate::email::decide::Decision as Email;
use crate::engine::progress::ItemOutcome as O;
use crate::plan::{ExpectedCopy, Planned, Side};
use crate::tasks::decide::Decision as Task;

const CRM: Option<Side> = Some(Side::Crm);
const M365: Option<Side> = Some(Side::Microsoft365);

/// E-mails (`email/execute.rs`).
pub fn email(d: &Email) -> Planned {
    match d {
        Email::AlreadyFiled { .. } => Planned::new(O::Unchanged, None, "filed already"),
        Email::Adopt { found_by, .. } => Planned::new(
            O::Adopted,
            CRM,
            format!("the activity exists ({found_by:?}): linked, not written again"),
        ),
        Email::Create(_) => Planned::new(O::Created, CRM, "a new e-mail activity"),
        Email::Skip(r) => Planned::new(O::Skipped, None, r.text()),
        Email::Fail(r) | Email::Report(r) => Planned::new(O::Failed, None, r.clone()),
    }
}

/// Appointments (`appointments/execute.rs`). `calendars`: the addresses (lower case, sorted)
/// of the mailboxes whose appointments are synchronized: an event written from CRM invites
/// the appointment's other participants, and each of these finds the invitation in its
/// calendar and adopts it (`ExpectedCopy`).
pub fn appointment(d: &Appointment, calendars: &[String]) -> Planned {
    let planned = appointment_outcome(d);
    match d {
        Appointment::WriteEvent(w) => planned.with_copies(
            w.invite
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .filter(|a| calendars.binary_search(a).is_ok())
                .map(|a| ExpectedCopy {
                    reason: format!(
                        "a copy of {} will arrive in {a}'s calendar and be adopted (this run or the next)",
                        match w.body["subject"].as_str() {
                            Some(s) => format!("{s:?}"),
                            None => format!("the appointment {}", w.crm_id),
                        }
                    ),
                    mailbox: a,
                })
                .collect(),
        ),
        _ => planned,
    }
}

fn appointment_outcome(d: &Appointment) -> Planned {
    match d {
        Appointment::Nothing | Appointment::Confirm { .. } => Planned::new(O::Unchanged, None, ""),
        Appointment::Skip(r) => Planned::new(O::Skipped, None, r.clone()),
        Appointment::Fail(r) => Planned::new(O::Failed, None, r.clone()),
        Appointment::Create { plan, .. } => Planned::new(
            O::Created,
            CRM,
            format!(
                "a new event: an appointment with {} participant(s)",
                plan.participants.len()
            ),
        ),
        Appointment::Sync {
            adopted,
            fields,
            add,
            reason,
            ..
        } => match (*adopted, fields.is_empty() && add.is_empty()) {
            (true, _) => Planned::new(O::Adopted, CRM, reason.clone()),
            (false, false) => Planned::new(O::Updated, CRM, reason.clone()),
            (false, true) => Planned::new(O::Unchanged, None, reason.clone()),
        },
        Appointment::WriteEvent(w) => {
            let outcome = match (&w.event_id, w.adopted) {
                (None, _) => O::Created,
                (Some(_), true) => O::Adopted,
                (Some(_), false) => O::Updated,
            };
            Planned::new(outcome, M365, w.reason.clone())
        }
        Appointment::DeleteEvent { reason, .. } => Planned::new(O::Deleted, M365, reason.clone()),
        Appointment::SoftDelete { reason, .. } => Planned::new(O::Deleted, CRM, reason.clone()),
        Appointment::Remember { reason, .. } => match reason {
            Some(r) => Planned::new(O::Skipped, None, r.clone()),
            None => Planned::new(O::Unchanged, None, ""),
        },
        Appointment::CloseLink { reason, .. } => Planned::new(O::Skipped, None, reason.clone()),
    }
}

/// Tasks (`tasks/execute.rs`).
pub fn task(d: &Task) -> Planned {
    match d {
        Task::Unchanged => Planned::new(O::Unchanged, None, ""),
        Task::Create { reason, .. } => Planned::new(O::Created, M365, reason.clone()),
        Task::Sync(p) => {
            let side = match (p.to_todo.is_some(), !p.to_crm.is_empty()) {
                (true, true) => Some(Side::Both),
                (true, false) => M365,
                (false, true) => CRM,
                (false, false) => None,
            };
            if p.adopt {
                Planned::new(
                    O::Adopted,
                    side.or(CRM),
                    "found in the To Do list by the CRM id in its linked resource",
                )
            } else if !p.pushed.is_empty() || !p.pulled.is_empty() {
                let mut why = Vec::new();
                if !p.pushed.is_empty() {
                    why.push(format!("CRM → To Do: {}", p.pushed.join(", ")));
                }
                if !p.pulled.is_empty() {
                    why.push(format!("To Do → CRM: {}", p.pulled.join(", ")));
                }
                Planned::new(O::Updated, side, why.join("; "))
            } else if !p.kept.is_empty() {
                Planned::new(
                    O::Skipped,
                    None,
                    format!("edited in To Do, not sent back: {}", p.kept.join(", ")),
                )
            } else {
                Planned::new(O::Unchanged, None, "")
            }
        }
        Task::DeleteTodo { reason, .. } => Planned::new(O::Deleted, M365, reason.clone()),
        Task::MarkDeleted { reason } => Planned::new(O::Deleted, CRM, reason.clone()),
        Task::OutsideWindow { reason } => Planned::new(O::Skipped, None, reason.clone()),
    }
}

/// Contacts (`contacts/kind/sync_kind.rs`).
pub fn contact(d: &Contact) -> Planned {
    match d {
        Contact::Unchanged => Planned::new(O::Unchanged, None, ""),
        Contact::Create { .. } => Planned::new(
            O::Created,
            M365,
            "the person is in the rep's selection: a new contact",
        ),
        Contact::Update { adopted: true, .. } => Planned::new(
            O::Adopted,
            M365,
            "found by the person id it carries: adopted",
        ),
        Contact::Update { .. } => Planned::new(O::Updated, M365, "the person changed in CRM"),
        Contact::Delete { contacts } => Planned::new(
            O::Deleted,
            (!contacts.is_empty()).then_some(Side::Microsoft365),
            "the person left the rep's selection or was deleted in CRM",
        ),
        Contact::Forget => Planned::new(
            O::Deleted,
            None,
            "the person left the selection; its contact is already gone",
        ),
    }
}

/// Absences (`absences/kind.rs`).
pub fn absence(d: &Absence) -> Planned {
    match d {
        Absence::Unchanged => Planned::new(O::Unchanged, None, ""),
        Absence::Fail(r) => Planned::new(O::Failed, None, r.clone()),
        Absence::Create { .. } => Planned::new(O::Created, M365, "the absence is in the window"),
        Absence::Update { adopted: true, .. } => Planned::new(
            O::Adopted,
            M365,
            "found by the absence id it carries: adopted",
        ),
        Absence::Update { .. } => Planned::new(O::Updated, M365, "the absence changed in CRM"),
        Absence::Delete { events } => Planned::new(
            O::Deleted,
            (!events.is_empty()).then_some(Side::Microsoft365),
            "the absence was deleted in CRM",
        ),
        Absence::Forget => Planned::new(
            O::Deleted,
            None,
            "deleted in CRM; its event is already gone",
        ),
        Absence::Release { .. } => Planned::new(
            O::Skipped,
            None,
            "left the window: the event stays, no longer followed",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_name_the_side_they_write() {
        let d = appointment(
            &Appointment::DeleteEvent {
                event_id: "e".into(),
                crm_id: None,
                reason: "deleted in CRM".into(),
            },
            &[],
        );
        assert_eq!((d.outcome, d.side), (O::Deleted, M365));
        assert!(d.deletes());
        let d = task(&Task::MarkDeleted {
            reason: "deleted in To Do".into(),
        });
        assert_eq!((d.outcome, d.side), (O::Deleted, CRM));
        // Nothing left to delete: counted like the run counts it, but not a deletion.
        assert!(!contact(&Contact::Delete { contacts: vec![] }).deletes());
        assert!(!absence(&Absence::Forget).deletes());
    }

    #[test]
    fn an_appointment_sync_with_nothing_to_write_is_unchanged() {
        let d = appointment_outcome(&Appointment::Sync {
            id: gc_store::CrmId(1),
            fields: vec![],
            add: vec![],
            add_key: None,
            version: None,
            hash: String::new(),
            reason: "same".into(),
            adopted: false,
            adopted_by: None,
            crm_hash: None,
            conflict: None,
        });
        assert_eq!(d.outcome, O::Unchanged);
    }

    #[test]
    fn an_event_written_from_crm_names_the_copies_its_invitations_make() {
        let write = |event_id: Option<&str>| {
            Appointment::WriteEvent(Box::new(crate::appointments::decide_crm::EventWrite {
                crm_id: gc_store::CrmId(5),
                event_id: event_id.map(str::to_owned),
                body: serde_json::json!({"subject": "Budget"}),
                invite: vec![
                    "Bob@Contoso.com".into(),
                    "customer@fabrikam.com".into(),
                    "carla@contoso.com".into(),
                    "dora@contoso.com".into(),
                ],
                crm_hash: String::new(),
                crm_version: None,
                reason: "new appointment in CRM".into(),
                adopted: false,
                adopted_by: None,
                conflict: None,
            }))
        };
        // Bob and Dora synchronize appointments; Carla is a rep without them, the customer
        // no rep at all.
        let calendars = ["bob@contoso.com".to_owned(), "dora@contoso.com".to_owned()];
        for (event, outcome) in [(None, O::Created), (Some("e1"), O::Updated)] {
            let p = appointment(&write(event), &calendars);
            assert_eq!((p.outcome, p.side), (outcome, M365));
            let to: Vec<_> = p.copies.iter().map(|c| c.mailbox.as_str()).collect();
            assert_eq!(to, ["bob@contoso.com", "dora@contoso.com"]);
            assert!(
                p.copies[0].reason.contains("\"Budget\"")
                    && p.copies[0].reason.contains("bob@contoso.com's calendar"),
                "{:?}",
                p.copies
            );
        }
        assert!(appointment(&write(None), &[]).copies.is_empty());
    }
}
