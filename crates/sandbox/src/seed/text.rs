//! The seed's text: subjects and sentences, a subject template filled, an HTML body (with
//! Outlook's conditional comments, a large body, an inline image's `cid:`), a text body, an
//! `internetMessageId`. Apart from the messages because lazy mailboxes and delivered messages
//! use them too.

use crate::people::Person;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;

pub(crate) const SUBJECTS: &[&str] = &[
    "Quote request for {company}",
    "Delivery schedule for order {n}",
    "Invoice {n}",
    "Proposal for {company}",
    "Follow-up on our call",
    "Price list 2027",
    "Contract renewal {company}",
    "Support ticket #{n}",
    "Meeting notes: kickoff with {company}",
    "Questions about the offer",
    "New contact at {company}",
    "Order confirmation #{n}",
];

const SENTENCES: &[&str] = &[
    "Thank you for the quick reply.",
    "Please find the requested documents attached.",
    "Could you send us an updated quote by Friday?",
    "We would like to schedule a call next week to discuss the details.",
    "The delivery is planned for the end of the month.",
    "Our purchasing department has approved the budget.",
    "Let me know if you need anything else from our side.",
    "I have added my colleague in copy, who will take over from here.",
    "The prices include shipping but exclude VAT.",
    "As discussed on the phone, here is a summary of the open points.",
];

pub(crate) fn fill(template: &str, company: &str, n: u32) -> String {
    template
        .replace("{company}", company)
        .replace("{n}", &n.to_string())
}

pub(super) fn html_body(
    rng: &mut ChaCha20Rng,
    to_first: &str,
    from: &Person,
    comment: bool,
    inline_cid: Option<&str>,
    large: bool,
) -> String {
    let mut s = String::from(
        "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n<style type=\"text/css\">p { margin: 0; }</style></head><body>\r\n",
    );
    if comment {
        s.push_str("<!-- [if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml><![endif] -->\r\n");
    }
    s.push_str(&format!("<p>Hello {to_first},</p>\r\n"));
    let n = if large { 2500 } else { rng.random_range(2..5) };
    for _ in 0..n {
        let sentence = SENTENCES.choose(rng).copied().unwrap_or_default();
        s.push_str(&format!("<p>{sentence}</p>\r\n"));
    }
    if comment {
        s.push_str("<!-- internal note: do not forward -->\r\n");
    }
    s.push_str(&format!(
        "<p>Best regards,<br>{}<br>{}</p>\r\n",
        from.display_name, from.job_title
    ));
    if let Some(cid) = inline_cid {
        s.push_str(&format!(
            "<p><img src=\"cid:{cid}\" alt=\"logo\" width=\"120\" height=\"40\"></p>\r\n"
        ));
    }
    s.push_str("</body></html>");
    s
}

pub(crate) fn text_body(rng: &mut ChaCha20Rng, to_first: &str, from: &Person) -> String {
    let mut s = format!("Hi {to_first},\r\n\r\n");
    for _ in 0..rng.random_range(2..4) {
        s.push_str(SENTENCES.choose(rng).copied().unwrap_or_default());
        s.push_str("\r\n");
    }
    s.push_str(&format!("\r\nRegards,\r\n{}\r\n", from.display_name));
    s
}

pub(super) fn message_id(rng: &mut ChaCha20Rng, domain: &str) -> String {
    let mut b = [0u8; 12];
    rng.fill(&mut b);
    format!(
        "<{}{}@{}>",
        "AM6PR04MB",
        hex_upper(&b),
        domain
            .to_uppercase()
            .replace('.', "_")
            .to_lowercase()
            .replace('_', ".")
    )
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
