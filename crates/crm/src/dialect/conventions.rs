//! The wire forms of values: booleans, dates and times, the `impersonate` attribute, and
//! whether child records are nested.

use super::Dialect;

impl Dialect {
    /// Reads a boolean field. Accepts the common spellings, because installations differ.
    pub fn parse_bool(&self, v: &str) -> bool {
        let v = v.trim();
        v.eq_ignore_ascii_case(&self.true_value)
            || ["true", "1", "yes", "y", "x", "ja"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t))
    }

    /// Writes a boolean field.
    pub fn format_bool(&self, v: bool) -> String {
        if v {
            self.true_value.clone()
        } else {
            self.false_value.clone()
        }
    }

    /// The `impersonate` attribute for a rep e-mail address.
    pub fn impersonate_value(&self, email: &str) -> String {
        format!("{}={}", self.impersonate_key, email)
    }

    /// Formats a date field.
    pub fn format_date(&self, d: jiff::civil::Date) -> String {
        d.strftime(&self.date_format).to_string()
    }

    /// Whether child records are written inside their new parent (`child_records =
    /// "nested"`).
    pub fn nests_children(&self) -> bool {
        self.child_records.eq_ignore_ascii_case("nested")
    }

    /// Formats a time field.
    pub fn format_time(&self, t: jiff::civil::Time) -> String {
        t.strftime(&self.time_format).to_string()
    }

    /// Reads a date field (`None` when it is empty or not in `date_format`).
    pub fn parse_date(&self, v: &str) -> Option<jiff::civil::Date> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        jiff::fmt::strtime::parse(&self.date_format, v)
            .ok()?
            .to_date()
            .ok()
    }

    /// Reads a time field (`None` when it is empty or not in `time_format`). Seconds are
    /// accepted even when the format has none (CRM.interface may answer `HH:MM:SS`).
    pub fn parse_time(&self, v: &str) -> Option<jiff::civil::Time> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        let parsed = jiff::fmt::strtime::parse(&self.time_format, v)
            .ok()
            .and_then(|t| t.to_time().ok());
        parsed.or_else(|| {
            jiff::fmt::strtime::parse("%H:%M:%S", v)
                .ok()
                .and_then(|t| t.to_time().ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_and_dates() {
        let d = Dialect::default();
        assert!(
            d.parse_bool("TRUE")
                && d.parse_bool("1")
                && !d.parse_bool("false")
                && !d.parse_bool("")
        );
        assert_eq!(d.format_date(jiff::civil::date(2024, 3, 5)), "2024-03-05");
        assert_eq!(d.format_time(jiff::civil::time(9, 5, 0, 0)), "09:05");
        assert_eq!(d.impersonate_value("a@b"), "email=a@b");
    }
}
