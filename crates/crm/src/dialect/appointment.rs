//! Appointment names: the activity (MA) fields and values the appointments kind reads and
//! writes beyond [`super::ActivityNames`]. Aurea names them only in the sample forms.xml's
//! vevent form and in the connector's setup guide; the catalog texts and the encoding of
//! priority and reminder unit are not documented at all, so every one of them is a setting
//! (`[crm.dialect.appointment]`). An empty field name means "this installation has no such
//! field": it is neither written nor read.

use serde::{Deserialize, Serialize};

/// Appointment names and values (fields of the activity table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppointmentNames {
    /// Location (`A031Location` in the sample vevent form).
    pub location: String,
    /// Rich-text body (`F5044`); the plain text goes into `activity.text` as well.
    pub body: String,
    /// Private flag, from `sensitivity`.
    pub private: String,
    /// ShowAs (catalog), from `showAs`.
    pub show_as: String,
    /// Priority, from `importance`.
    pub priority: String,
    /// Reminder lead time (a number of `reminder_unit_minutes`).
    pub reminder_duration: String,
    /// Reminder unit.
    pub reminder_unit: String,
    /// Duration in minutes.
    pub duration: String,
    /// `ConnectorPublished`: Microsoft 365 owns the appointment (external organizer).
    pub published: String,
    /// Flag of a series' master record (`IsMasterContact` in the sample vevent form).
    pub is_master: String,
    /// Flag of one occurrence's record of a series (`IsSerialContact`).
    pub is_serial: String,
    /// How a serial record names its master: the master's StatNo goes into this field and
    /// its SeqNo into [`Self::master_seq_no`] (`ContactStatNo`/`ContactSeqNo`, the pair the
    /// sample vevent form lists; Aurea does not document it: an inference, see
    /// docs/CRM-INTERFACE.md).
    pub master_stat_no: String,
    /// The master's SeqNo (`ContactSeqNo`).
    pub master_seq_no: String,
    /// Value of `reminder_unit` meaning minutes.
    pub reminder_unit_minutes: String,
    /// ShowAs catalog texts for `free`, `tentative`, `busy`, `oof`, `workingElsewhere`.
    pub show_as_free: String,
    pub show_as_tentative: String,
    pub show_as_busy: String,
    pub show_as_oof: String,
    pub show_as_working_elsewhere: String,
    /// Priority values for Graph's `low`, `normal`, `high` importance.
    pub priority_low: String,
    pub priority_normal: String,
    pub priority_high: String,
    /// Content type (groupware) of appointments' external keys.
    pub content_type: String,
    /// Content type of absences: records and events of the absences kind, never synced as
    /// appointments.
    pub absence_content_type: String,
}

fn s(v: &str) -> String {
    v.to_owned()
}

impl Default for AppointmentNames {
    fn default() -> Self {
        Self {
            location: s("A031Location"),
            body: s("F5044"),
            private: s("Private"),
            show_as: s("ShowAs"),
            priority: s("Priority"),
            reminder_duration: s("ReminderDur"),
            reminder_unit: s("ReminderUnit"),
            duration: s("Duration"),
            published: s("ConnectorPublished"),
            is_master: s("IsMasterContact"),
            is_serial: s("IsSerialContact"),
            master_stat_no: s("ContactStatNo"),
            master_seq_no: s("ContactSeqNo"),
            reminder_unit_minutes: s("min"),
            show_as_free: s("Free"),
            show_as_tentative: s("Tentative"),
            show_as_busy: s("Busy"),
            show_as_oof: s("Out of Office"),
            show_as_working_elsewhere: s("Working elsewhere"),
            priority_low: s("1"),
            priority_normal: s("2"),
            priority_high: s("3"),
            content_type: s("text/x-vevent"),
            absence_content_type: s("text/x-mmAbsences"),
        }
    }
}

impl AppointmentNames {
    /// The ShowAs catalog text for Graph's `showAs` (`None`: unknown value or not mapped).
    pub fn show_as_text(&self, graph: &str) -> Option<&str> {
        let v = match graph {
            "free" => &self.show_as_free,
            "tentative" => &self.show_as_tentative,
            "busy" => &self.show_as_busy,
            "oof" => &self.show_as_oof,
            "workingElsewhere" => &self.show_as_working_elsewhere,
            _ => return None,
        };
        Some(v.as_str()).filter(|v| !v.is_empty())
    }

    /// Graph's `showAs` for a ShowAs catalog text (case-insensitive).
    pub fn show_as_graph(&self, text: &str) -> Option<&'static str> {
        let t = text.trim();
        [
            (&self.show_as_free, "free"),
            (&self.show_as_tentative, "tentative"),
            (&self.show_as_busy, "busy"),
            (&self.show_as_oof, "oof"),
            (&self.show_as_working_elsewhere, "workingElsewhere"),
        ]
        .into_iter()
        .find(|(v, _)| !v.is_empty() && v.eq_ignore_ascii_case(t))
        .map(|(_, g)| g)
    }

    /// The priority value for Graph's `importance`.
    pub fn priority_value(&self, importance: &str) -> &str {
        match importance {
            "low" => &self.priority_low,
            "high" => &self.priority_high,
            _ => &self.priority_normal,
        }
    }

    /// Graph's `importance` for a priority value.
    pub fn importance(&self, value: &str) -> &'static str {
        let v = value.trim();
        if !v.is_empty() && v.eq_ignore_ascii_case(&self.priority_low) {
            "low"
        } else if !v.is_empty() && v.eq_ignore_ascii_case(&self.priority_high) {
            "high"
        } else {
            "normal"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_as_and_priority_map_both_ways() {
        let a = AppointmentNames::default();
        for g in ["free", "tentative", "busy", "oof", "workingElsewhere"] {
            let text = a.show_as_text(g).unwrap();
            assert_eq!(a.show_as_graph(text), Some(g));
        }
        assert_eq!(a.show_as_text("unknown"), None);
        for i in ["low", "normal", "high"] {
            assert_eq!(a.importance(a.priority_value(i)), i);
        }
        assert_eq!(a.importance(""), "normal");
    }
}
