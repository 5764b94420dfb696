//! Field prints: per synchronized field a short fingerprint of its value as last
//! synchronized, one set for the CRM side (in the link's `crm_hash`) and one for the To Do
//! side (in `graph_hash`). With both, a change is a three-way comparison per field: which
//! side changed the field since the last sync, so that an edit on one side is never taken
//! for an edit on the other, and a field one side keeps (a To Do title with one-way
//! direction) is not overwritten until CRM changes it.

use sha2::Digest as _;

use crate::tasks::model::TodoFields;

/// The synchronized fields, in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Body,
    Due,
    Start,
    Reminder,
    Importance,
    Status,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 7] = [
        Field::Title,
        Field::Body,
        Field::Due,
        Field::Start,
        Field::Reminder,
        Field::Importance,
        Field::Status,
    ];

    /// Its name in ledger reasons.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
            Field::Due => "due date",
            Field::Start => "start date",
            Field::Reminder => "reminder",
            Field::Importance => "importance",
            Field::Status => "status",
        }
    }

    fn print(self, f: &TodoFields) -> String {
        let short = |s: &str| hex::encode(&sha2::Sha256::digest(s.as_bytes())[..6]);
        match self {
            Field::Title => short(&f.title),
            Field::Body => short(&f.body),
            Field::Due => f.due.map(|d| d.to_string()).unwrap_or_default(),
            Field::Start => f.start.map(|d| d.to_string()).unwrap_or_default(),
            Field::Reminder => f
                .reminder
                .map(|r| r.as_second().to_string())
                .unwrap_or_default(),
            Field::Importance => f.importance.as_graph().to_owned(),
            Field::Status => f.status.as_graph().to_owned(),
        }
    }
}

/// The prints of one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prints(Vec<String>);

impl Prints {
    /// The prints of `fields`.
    pub fn of(fields: &TodoFields) -> Self {
        Prints(Field::ALL.iter().map(|f| f.print(fields)).collect())
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!("p1|{}", self.0.join("|"))
    }

    /// Reads the stored form (`None`: absent or not ours: treated as never synchronized).
    pub fn decode(s: Option<&str>) -> Option<Self> {
        let rest = s?.strip_prefix("p1|")?;
        let v: Vec<String> = rest.split('|').map(str::to_owned).collect();
        (v.len() == Field::ALL.len()).then_some(Prints(v))
    }

    /// Whether `field` of `fields` differs from this print.
    pub fn differs(&self, field: Field, fields: &TodoFields) -> bool {
        let i = Field::ALL.iter().position(|f| *f == field).unwrap_or(0);
        self.0.get(i).is_none_or(|p| *p != field.print(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::model::{Importance, TodoStatus};

    #[test]
    fn prints_round_trip_and_tell_fields_apart() {
        let f = TodoFields {
            title: "A | B".into(),
            body: "x".into(),
            due: Some(jiff::civil::date(2026, 12, 4)),
            start: None,
            reminder: None,
            importance: Importance::High,
            status: TodoStatus::InProgress,
        };
        let p = Prints::of(&f);
        assert_eq!(Prints::decode(Some(&p.encode())), Some(p.clone()));
        assert_eq!(Prints::decode(Some("bogus")), None);
        let mut g = f.clone();
        g.title = "C".into();
        assert!(p.differs(Field::Title, &g));
        assert!(!p.differs(Field::Due, &g));
        assert!(!p.differs(Field::Status, &g));
    }
}
