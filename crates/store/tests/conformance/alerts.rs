//! Alerts: rate-limited per key, listed newest first, delivery recorded.

use super::*;

/// Alerts: rate-limited per key, listed newest first, delivery recorded.
pub(crate) async fn alerts(s: &dyn StateStore) {
    let alert = |key: &str| NewAlert {
        key: key.into(),
        kind: "mailbox_excluded".into(),
        mailbox: Some("r1".into()),
        subject: format!("alert {key}"),
        body: "the mailbox is excluded".into(),
    };
    let hour = Duration::from_secs(3600);
    let a = s
        .raise_alert(&alert("excluded/r1"), hour)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.delivery, AlertDelivery::Pending);
    assert_eq!(a.mailbox.as_deref(), Some("r1"));
    // Same key within the interval: suppressed. Another key: raised.
    assert!(
        s.raise_alert(&alert("excluded/r1"), hour)
            .await
            .unwrap()
            .is_none()
    );
    let b = s
        .raise_alert(&alert("excluded/r2"), hour)
        .await
        .unwrap()
        .unwrap();
    assert!(b.id > a.id);
    // A short interval lets it through again once elapsed.
    let short = Duration::from_millis(50);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        s.raise_alert(&alert("excluded/r1"), short)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.raise_alert(&alert("excluded/r1"), short)
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        s.raise_alert(&alert("excluded/r1"), short)
            .await
            .unwrap()
            .is_some()
    );

    s.set_alert_delivery(a.id, AlertDelivery::Sent, None)
        .await
        .unwrap();
    s.set_alert_delivery(b.id, AlertDelivery::Failed, Some("HTTP 403"))
        .await
        .unwrap();
    let listed = s.list_alerts(10).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let a2 = listed.iter().find(|x| x.id == a.id).unwrap();
    assert_eq!(a2.delivery, AlertDelivery::Sent);
    assert!(a2.delivered_at.is_some());
    let b2 = listed.iter().find(|x| x.id == b.id).unwrap();
    assert_eq!(b2.delivery, AlertDelivery::Failed);
    assert_eq!(b2.delivery_error.as_deref(), Some("HTTP 403"));
    assert!(b2.delivered_at.is_none());
    assert_eq!(s.list_alerts(2).await.unwrap().len(), 2);
    assert!(matches!(
        s.set_alert_delivery(999_999, AlertDelivery::Sent, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.purge_alerts_older_than(hour).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        s.purge_alerts_older_than(Duration::from_millis(1))
            .await
            .unwrap(),
        4
    );
    assert!(s.list_alerts(10).await.unwrap().is_empty());

    // Raised at once from several connections: exactly one gets through.
    let tenant = alert("tenant");
    let raced = futures::future::join_all((0..8).map(|_| s.raise_alert(&tenant, hour))).await;
    assert_eq!(
        raced
            .into_iter()
            .filter(|r| r.as_ref().unwrap().is_some())
            .count(),
        1
    );
}
