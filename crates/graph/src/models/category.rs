//! `outlookCategory` (the mailbox's master category list).

model! {
    /// A master category. `displayName` is unique and cannot be renamed; items reference it by
    /// name. `color` is `none` or `preset0`..`preset24`.
    pub struct OutlookCategory {
        pub id: String,
        pub display_name: Option<String>,
        pub color: Option<String>,
    }
}
