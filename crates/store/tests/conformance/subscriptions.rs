//! Change-notification subscriptions.

use super::*;

pub(crate) async fn subscriptions(s: &dyn StateStore) {
    let at = |sec: i64| Timestamp::from_second(sec).unwrap();
    let sub = |mailbox: &str, kind: Kind, id: &str, expires: i64| SubscriptionRecord {
        mailbox: mailbox.into(),
        kind,
        subscription_id: id.into(),
        resource: format!("users/{mailbox}/events"),
        client_state: format!("secret-{id}"),
        expires_at: at(expires),
    };
    assert!(s.list_subscriptions().await.unwrap().is_empty());
    let a = sub("r1", Kind::Email, "sub-a", 2_000_000_000);
    let b = sub("r1", Kind::Appointment, "sub-b", 2_000_000_100);
    s.put_subscription(&a).await.unwrap();
    s.put_subscription(&b).await.unwrap();
    assert_eq!(
        s.list_subscriptions().await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    // One per mailbox and kind: a new one replaces the old.
    let a2 = sub("r1", Kind::Email, "sub-a2", 2_000_000_200);
    s.put_subscription(&a2).await.unwrap();
    assert_eq!(
        s.list_subscriptions().await.unwrap(),
        vec![b.clone(), a2.clone()]
    );
    // Renewed: same id, later expiry.
    let renewed = SubscriptionRecord {
        expires_at: at(2_000_000_900),
        ..a2.clone()
    };
    s.put_subscription(&renewed).await.unwrap();
    assert_eq!(
        s.list_subscriptions().await.unwrap(),
        vec![b.clone(), renewed.clone()]
    );
    assert!(!format!("{renewed:?}").contains("secret"));
    // Looked up by id: the renewed record; a replaced or unknown id is not there.
    assert_eq!(
        s.get_subscription("sub-a2").await.unwrap(),
        Some(renewed.clone())
    );
    assert_eq!(s.get_subscription("sub-a").await.unwrap(), None);
    assert_eq!(s.get_subscription("").await.unwrap(), None);
    assert!(s.delete_subscription("sub-b").await.unwrap());
    assert!(!s.delete_subscription("sub-b").await.unwrap());
    assert_eq!(s.list_subscriptions().await.unwrap(), vec![renewed.clone()]);
    s.delete_subscription("sub-a2").await.unwrap();
}
