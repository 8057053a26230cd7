//! The thread a message belongs to, and the conversation keys it may be filed under.

/// What a message says about the conversation it continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    /// A webhook: no thread of its own (a trigger's template may still name a key).
    None,
    /// An email, with its ids without angle brackets.
    Email {
        message_id: Option<String>,
        in_reply_to: Option<String>,
        references: Vec<String>,
        /// The `<token>` of every recipient written `local+<token>@domain`.
        reply_tokens: Vec<String>,
        /// The sender's address (the From header's, without its display name).
        from: String,
        /// The recipients' addresses.
        to: Vec<String>,
        subject: String,
    },
    /// An SMS: the sender's and the trigger's numbers.
    Sms { from: String, to: String },
}

impl Thread {
    /// The conversation keys to try, in priority order: the first one that names an existing
    /// conversation wins; when none does, the last one files a new conversation.
    ///
    /// An email is found by a reply token first (we minted it, so it cannot be mistaken), then by the
    /// message it answers, then by its references newest first, and is filed under its own id so the
    /// next reply finds it.
    pub fn default_keys(&self) -> Vec<String> {
        match self {
            Thread::None => Vec::new(),
            Thread::Sms { from, to } => vec![format!("sms:{to}:{from}")],
            Thread::Email {
                message_id,
                in_reply_to,
                references,
                reply_tokens,
                ..
            } => {
                let mut keys: Vec<String> = reply_tokens
                    .iter()
                    .map(|token| format!("token:{token}"))
                    .collect();
                keys.extend(in_reply_to.iter().map(|id| format!("msg:{id}")));
                keys.extend(references.iter().rev().map(|id| format!("msg:{id}")));
                // Each key once, at its first place, except the message's own: it stays last, where a
                // new conversation is filed.
                let own = message_id.as_ref().map(|id| format!("msg:{id}"));
                let mut seen = std::collections::HashSet::new();
                keys.retain(|key| Some(key) != own.as_ref() && seen.insert(key.clone()));
                keys.extend(own);
                keys
            }
        }
    }
}
