//! Events: calendarView delta, instances, CRUD.

use reqwest::Method;
use serde::Serialize;

use crate::client::{GraphClient, qv, seg};
use crate::error::{GraphError, ResourceKind};
use crate::models::Event;
use crate::paging::{DeltaItem, PageStream};

fn user(mailbox: &str) -> String {
    format!("/users/{}", seg(mailbox))
}

fn window(start: jiff::Timestamp, end: jiff::Timestamp) -> String {
    let fmt = |t: jiff::Timestamp| qv(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    format!("startDateTime={}&endDateTime={}", fmt(start), fmt(end))
}

impl GraphClient {
    /// Start a calendarView delta round on the default calendar for the window
    /// `[start, end)`. Occurrences and exceptions come expanded; times arrive in UTC.
    pub fn event_delta(
        &self,
        mailbox: &str,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    ) -> PageStream<DeltaItem<Event>> {
        self.delta(
            Some(mailbox),
            ResourceKind::Calendar,
            &format!(
                "{}/calendarView/delta?{}",
                user(mailbox),
                window(start, end)
            ),
        )
    }

    /// Continue an event delta from a stored nextLink or deltaLink.
    pub fn resume_event_delta(&self, mailbox: &str, link: &str) -> PageStream<DeltaItem<Event>> {
        self.resume(Some(mailbox), link)
    }

    /// calendarView listing (expanded occurrences) of the window.
    pub fn calendar_view(
        &self,
        mailbox: &str,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    ) -> PageStream<Event> {
        self.list(
            Some(mailbox),
            ResourceKind::Calendar,
            &format!(
                "{}/calendarView?{}&$top=100",
                user(mailbox),
                window(start, end)
            ),
        )
    }

    /// Occurrences and exceptions of a series in the window.
    pub fn event_instances(
        &self,
        mailbox: &str,
        series_master_id: &str,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    ) -> PageStream<Event> {
        self.list(
            Some(mailbox),
            ResourceKind::Calendar,
            &format!(
                "{}/events/{}/instances?{}&$top=100",
                user(mailbox),
                seg(series_master_id),
                window(start, end)
            ),
        )
    }

    /// The events of the mailbox that carry the single-value extended property `property`
    /// with `value`, the property expanded (the connector's own events, found again).
    pub async fn events_with_property(
        &self,
        mailbox: &str,
        property: &str,
        value: &str,
    ) -> Result<Vec<Event>, GraphError> {
        let path = format!(
            "{}/events?{}",
            user(mailbox),
            crate::ops::property_query(property, value)
        );
        self.list(Some(mailbox), ResourceKind::Calendar, &path)
            .collect_ok()
            .await
    }

    /// One event (`expand`: e.g. an extended property filter).
    pub async fn get_event(
        &self,
        mailbox: &str,
        id: &str,
        expand: Option<&str>,
    ) -> Result<Event, GraphError> {
        let mut path = format!("{}/events/{}", user(mailbox), seg(id));
        if let Some(x) = expand {
            path.push_str("?$expand=");
            path.push_str(&qv(x));
        }
        self.get_json(Some(mailbox), ResourceKind::Calendar, &path)
            .await
    }

    /// Create an event in the default calendar. Set `transactionId` on the body so a retried
    /// create cannot duplicate it. Attendees receive invitations.
    pub async fn create_event<B: Serialize + ?Sized>(
        &self,
        mailbox: &str,
        event: &B,
    ) -> Result<Event, GraphError> {
        self.send_json(
            Method::POST,
            Some(mailbox),
            ResourceKind::Calendar,
            &format!("{}/events", user(mailbox)),
            event,
            false,
        )
        .await
    }

    /// PATCH an event (only the fields present in `patch` change).
    pub async fn update_event<B: Serialize + ?Sized>(
        &self,
        mailbox: &str,
        id: &str,
        patch: &B,
    ) -> Result<Event, GraphError> {
        self.send_json(
            Method::PATCH,
            Some(mailbox),
            ResourceKind::Calendar,
            &format!("{}/events/{}", user(mailbox), seg(id)),
            patch,
            true,
        )
        .await
    }

    /// Delete an event (as organizer this sends cancellations).
    pub async fn delete_event(&self, mailbox: &str, id: &str) -> Result<(), GraphError> {
        self.delete(
            Some(mailbox),
            ResourceKind::Calendar,
            &format!("{}/events/{}", user(mailbox), seg(id)),
        )
        .await
    }
}
