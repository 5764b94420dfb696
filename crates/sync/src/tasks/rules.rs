//! The `[tasks]` rules: the To Do list, the window, the direction, how often the window is
//! walked in full, and the CRM texts of statuses and priorities (installation data Aurea
//! does not fix).

use std::time::Duration;

use jiff::civil::Date;

/// Which way title and date edits flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// CRM → To Do; only the status (and what follows from it) comes back.
    #[default]
    CrmToMicrosoft365,
    /// Also title, start and due date edits in To Do go back to CRM.
    Both,
}

/// The CRM status texts for To Do's statuses (`[tasks] status_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTexts {
    pub not_started: String,
    pub in_progress: String,
    pub completed: String,
    pub waiting: String,
    pub deferred: String,
}

impl Default for StatusTexts {
    fn default() -> Self {
        StatusTexts {
            not_started: "Open".into(),
            in_progress: "In progress".into(),
            completed: "Completed".into(),
            waiting: "Waiting".into(),
            deferred: "Deferred".into(),
        }
    }
}

/// The task rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRules {
    /// The To Do list that receives the CRM tasks (created when missing).
    pub list_name: String,
    /// Window: days before today.
    pub days_past: u32,
    /// Window: days after today.
    pub days_future: u32,
    /// Title/date edits back to CRM or not.
    pub direction: Direction,
    /// The window is walked in full (deletions in CRM found, tasks that entered the window
    /// by the passing of time picked up) at least this often; in between only the tasks
    /// changed since the checkpoint are read.
    pub full_walk_every: Duration,
    /// CRM status texts.
    pub status: StatusTexts,
    /// CRM priority text that means high importance.
    pub priority_high: String,
    /// CRM priority text that means low importance.
    pub priority_low: String,
}

impl Default for TaskRules {
    fn default() -> Self {
        TaskRules {
            list_name: "CRM".into(),
            days_past: 7,
            days_future: 7,
            direction: Direction::default(),
            full_walk_every: Duration::from_secs(3600),
            status: StatusTexts::default(),
            priority_high: "High".into(),
            priority_low: "Low".into(),
        }
    }
}

impl TaskRules {
    /// The window around `today`, both ends included.
    pub fn window(&self, today: Date) -> (Date, Date) {
        let from = today
            .checked_sub(jiff::Span::new().days(i64::from(self.days_past)))
            .unwrap_or(today);
        let to = today
            .checked_add(jiff::Span::new().days(i64::from(self.days_future)))
            .unwrap_or(today);
        (from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_includes_both_ends() {
        let r = TaskRules::default();
        let (from, to) = r.window(jiff::civil::date(2026, 12, 2));
        assert_eq!(from, jiff::civil::date(2026, 11, 25));
        assert_eq!(to, jiff::civil::date(2026, 12, 9));
    }
}
