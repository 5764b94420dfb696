//! `contact` and `contactFolder`.

use super::{EmailAddress, PhysicalAddress, SingleValueExtendedProperty};

model! {
    /// A personal contact.
    pub struct Contact {
        pub id: String,
        #[serde(rename = "@odata.etag")]
        pub etag: Option<String>,
        pub change_key: Option<String>,
        pub created_date_time: Option<String>,
        pub last_modified_date_time: Option<String>,
        pub categories: Option<Vec<String>>,
        pub parent_folder_id: Option<String>,
        pub display_name: Option<String>,
        pub given_name: Option<String>,
        pub middle_name: Option<String>,
        pub surname: Option<String>,
        pub initials: Option<String>,
        pub nick_name: Option<String>,
        pub title: Option<String>,
        pub generation: Option<String>,
        pub file_as: Option<String>,
        pub company_name: Option<String>,
        pub department: Option<String>,
        pub job_title: Option<String>,
        pub profession: Option<String>,
        pub office_location: Option<String>,
        pub manager: Option<String>,
        pub assistant_name: Option<String>,
        pub email_addresses: Option<Vec<EmailAddress>>,
        pub business_phones: Option<Vec<String>>,
        pub home_phones: Option<Vec<String>>,
        pub mobile_phone: Option<String>,
        pub im_addresses: Option<Vec<String>>,
        pub business_address: Option<PhysicalAddress>,
        pub home_address: Option<PhysicalAddress>,
        pub other_address: Option<PhysicalAddress>,
        pub business_home_page: Option<String>,
        pub birthday: Option<String>,
        pub personal_notes: Option<String>,
        pub spouse_name: Option<String>,
        pub children: Option<Vec<String>>,
        pub single_value_extended_properties: Option<Vec<SingleValueExtendedProperty>>,
    }
}

model! {
    /// A contact folder. The default "Contacts" folder is not a child folder; address it with
    /// `/users/{id}/contacts`.
    pub struct ContactFolder {
        pub id: String,
        pub display_name: Option<String>,
        pub parent_folder_id: Option<String>,
    }
}
