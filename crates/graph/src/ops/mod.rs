//! Typed operations the sync engine needs, one module per resource family.

pub mod calendar;
pub mod categories;
pub mod contacts;
pub mod ids;

pub mod mail;
pub mod subscriptions;
pub mod todo;
pub mod users;

/// The query of a lookup by a single-value extended property (`$filter` on its id and value,
/// the documented form, and `$expand` of that one property), values quoted and encoded.
pub(crate) fn property_query(property: &str, value: &str) -> String {
    let quote = |s: &str| s.replace('\'', "''");
    let filter = format!(
        "singleValueExtendedProperties/Any(ep: ep/id eq '{}' and ep/value eq '{}')",
        quote(property),
        quote(value)
    );
    let expand = format!(
        "singleValueExtendedProperties($filter=id eq '{}')",
        quote(property)
    );
    format!(
        "$filter={}&$expand={}",
        crate::client::qv(&filter),
        crate::client::qv(&expand)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn property_lookups_are_quoted_and_encoded() {
        let q = super::property_query("String {x} Name CrmId", "it's");
        assert!(
            q.starts_with("$filter=singleValueExtendedProperties/Any(ep"),
            "{q}"
        );
        assert!(q.contains("%27it%27%27s%27"), "{q}");
        assert!(q.contains("&$expand=singleValueExtendedProperties"), "{q}");
    }
}
