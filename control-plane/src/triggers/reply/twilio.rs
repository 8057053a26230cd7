//! SMS through Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, basic auth
//! with the account SID and its auth token, a form of `To`, `From`, `Body`.

use super::{Answer, Outgoing, OutgoingBody, ReplyConfig, Unsendable, basic, credential, endpoint, required};

/// Twilio refuses a `Body` longer than this many characters (error 21617), so a longer answer is cut.
const MAX_BODY_CHARS: usize = 1600;

pub(super) fn compose(
    config: &ReplyConfig,
    base: &url::Url,
    answer: &Answer<'_>,
) -> Result<Outgoing, Unsendable> {
    let account = credential(config, "accountSid")?;
    let token = credential(config, "authToken")?;
    let to = required(answer.context, &["sms", "from"])?;
    let from = match config.from.as_deref().filter(|from| !from.trim().is_empty()) {
        Some(from) => from,
        None => required(answer.context, &["sms", "to"])?,
    };
    let url = endpoint(base, &["2010-04-01", "Accounts", account, "Messages.json"])?;
    Ok(Outgoing {
        url,
        headers: vec![basic(account, token)],
        body: OutgoingBody::Form(vec![
            ("To".to_owned(), to.to_owned()),
            ("From".to_owned(), from.to_owned()),
            ("Body".to_owned(), body(answer.text)),
        ]),
        message_id: None,
    })
}

/// The answer, cut on a character boundary to Twilio's limit with "…" as its last character, so the
/// reader sees that something is missing; a refused message would leave them with nothing.
pub(super) fn body(text: &str) -> String {
    if text.chars().count() <= MAX_BODY_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_BODY_CHARS - 1).collect();
    cut.push('…');
    cut
}
