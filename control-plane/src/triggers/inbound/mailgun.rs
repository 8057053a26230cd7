//! Mailgun's inbound routes: a form (URL-encoded, or multipart with `attachment-1..N`) of parsed fields,
//! or the raw mail as `body-mime` when the route's URL asks for MIME.

use super::attachment::Incoming;
use super::form::Form;
use super::headers::{self, HeaderList};
use super::mail::Email;
use super::{Invalid, mime};

/// Headers Mailgun also posts as top-level fields; those win over `message-headers`.
const TOP_LEVEL_HEADERS: [&str; 6] = [
    "Message-Id",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
];

pub(crate) fn recognises(form: &Form) -> bool {
    ["body-plain", "body-mime", "recipient"]
        .iter()
        .any(|name| form.has(name))
}

pub(crate) fn read(form: Form) -> Result<Email, Invalid> {
    let mut email = match form.field("body-mime") {
        Some(raw) => mime::read(&raw.data, "body-mime")?,
        None => parsed(&form)?,
    };
    for name in TOP_LEVEL_HEADERS {
        if let Some(value) = form.text(name).or_else(|| form.text(&name.to_ascii_lowercase())) {
            set(&mut email.headers, name, value);
        }
    }
    match form.text("recipient") {
        Some(recipient) => email.recipients = mime::addresses(&recipient),
        None if email.recipients.is_empty() => return Err(Invalid::new("missing field `recipient`")),
        None => {}
    }
    if email.recipients.is_empty() {
        return Err(Invalid::new("field `recipient` holds no address"));
    }
    if let Some(sender) = form.text("sender") {
        email.return_path = Some(sender);
    }
    Ok(email)
}

/// The parsed-fields variant.
fn parsed(form: &Form) -> Result<Email, Invalid> {
    let from = form.required("from")?;
    let header_list = match form.text("message-headers") {
        Some(raw) => headers::parse_message_headers(&raw)?,
        None => HeaderList::new(),
    };
    let mut email = Email::from_headers(header_list, from, Vec::new());
    email.subject = form.text("subject").unwrap_or_default();
    email.text = form.text("body-plain");
    email.stripped_text = form.text("stripped-text");
    email.html = form.text("body-html");
    email.attachments = attachments(form)?;
    Ok(email)
}

/// `attachment-1..N`, as many as `attachment-count` says (every such file part when it says nothing).
fn attachments(form: &Form) -> Result<Vec<Incoming>, Invalid> {
    let count = match form.text("attachment-count") {
        Some(count) => count
            .trim()
            .parse::<usize>()
            .map_err(|_| Invalid::new("attachment-count is not a number"))?,
        None => form
            .fields
            .iter()
            .filter(|field| {
                field
                    .name
                    .strip_prefix("attachment-")
                    .is_some_and(|n| n.parse::<usize>().is_ok())
            })
            .count(),
    };
    (1..=count)
        .map(|n| {
            let name = format!("attachment-{n}");
            let field = form
                .field(&name)
                .ok_or_else(|| Invalid(format!("attachment-count is {count} but `{name}` is missing")))?;
            Ok(Incoming {
                filename: field.filename.clone().unwrap_or_default(),
                content_type: field
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                data: field.data.clone(),
            })
        })
        .collect()
}

/// Replaces the first header of this name (in any case), or appends it.
fn set(list: &mut HeaderList, name: &str, value: String) {
    match list
        .iter_mut()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
    {
        Some(slot) => slot.1 = value,
        None => list.push((name.to_owned(), value)),
    }
}
