//! The missing-attendees block (`<options><vevent><missing_attendees>`): its settings, its
//! labels per language, the text it formats and how that text goes into the target field.

use std::collections::BTreeMap;

use crate::api::ParticipantRole;

/// How the missing-attendees text is written into the target field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingMode {
    /// The field holds only the block.
    Replace,
    /// The block is appended to the field's existing text.
    Append,
}

/// Labels of the block for one language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MissingLabels {
    pub header: String,
    pub required: String,
    pub optional: String,
    pub informational: String,
    pub unknown: String,
}

/// `<options><vevent><missing_attendees>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAttendees {
    /// Fields set on the record when attendees are missing: `(table, field, value)`, e.g.
    /// `(Contact, ConnectorMissingparticipants, true)`.
    pub flags: Vec<(String, String, String)>,
    /// Target field (e.g. `MissingParticipants`).
    pub field: String,
    /// Replace or append.
    pub mode: MissingMode,
    /// Labels per language code.
    pub labels: BTreeMap<String, MissingLabels>,
    /// Separator between addresses; `None` = one address per line.
    pub separator: Option<String>,
}

impl MissingAttendees {
    /// Labels for a language (`de-DE` → `de`), falling back to English, then to any.
    pub fn labels_for(&self, lang: &str) -> Option<&MissingLabels> {
        let l = lang.trim().to_ascii_lowercase();
        let primary = l.split(['-', '_']).next().unwrap_or_default();
        self.labels
            .get(&l)
            .or_else(|| self.labels.get(primary))
            .or_else(|| self.labels.get("en"))
            .or_else(|| self.labels.values().next())
    }

    /// Formats the block: the header line, then per role (required, optional,
    /// informational, unknown) the label and the addresses joined with the separator, or,
    /// without separator, one `label address` line per address. Empty input gives "".
    pub fn format(&self, lang: &str, attendees: &[(ParticipantRole, String)]) -> String {
        let Some(labels) = self.labels_for(lang) else {
            return String::new();
        };
        if attendees.is_empty() {
            return String::new();
        }
        let mut lines = vec![labels.header.clone()];
        for (role, label) in [
            (ParticipantRole::Required, &labels.required),
            (ParticipantRole::Optional, &labels.optional),
            (ParticipantRole::Informational, &labels.informational),
            (ParticipantRole::Unknown, &labels.unknown),
        ] {
            let addrs: Vec<&str> = attendees
                .iter()
                .filter(|(r, _)| *r == role)
                .map(|(_, a)| a.as_str())
                .collect();
            if addrs.is_empty() {
                continue;
            }
            match &self.separator {
                Some(sep) => lines.push(format!("{label}{}", addrs.join(sep))),
                None => lines.extend(addrs.iter().map(|a| format!("{label}{a}"))),
            }
        }
        lines.join("\n")
    }

    /// Applies the block to the field's current value per mode. In append mode a block
    /// written earlier (recognised by any language's header line) is replaced rather than
    /// appended again, so re-synchronising does not repeat it.
    pub fn apply(&self, existing: Option<&str>, block: &str) -> String {
        match self.mode {
            MissingMode::Replace => block.to_owned(),
            MissingMode::Append => {
                let mut base = existing.unwrap_or_default().to_owned();
                let cut = self
                    .labels
                    .values()
                    .filter(|l| !l.header.is_empty())
                    .filter_map(|l| base.find(&l.header))
                    .min();
                if let Some(pos) = cut {
                    base.truncate(pos);
                }
                let base = base.trim_end();
                match (base.is_empty(), block.is_empty()) {
                    (true, _) => block.to_owned(),
                    (false, true) => base.to_owned(),
                    (false, false) => format!("{base}\n\n{block}"),
                }
            }
        }
    }
}
