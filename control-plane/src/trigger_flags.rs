//! `agentctl serve`'s trigger flags (DESIGN §10): the URL providers call it at, the hook's body bound, and
//! where the reply worker sends answers. Boxed in `ServeFlags`: the command enum holds those flags, and these
//! inline would make it large.

use std::time::Duration;

use crate::http::hooks::HookSettings;
use crate::triggers::replier::ReplierSettings;
use crate::triggers::reply::Providers;

#[derive(Debug, Clone, clap::Args)]
pub struct TriggerFlags {
    /// The base URL providers call this server at (`https://hooks.example.com`), as they sign it (Twilio
    /// signs the URL); default `http://` and the request's Host.
    #[arg(long, env = "AGENTCTL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The largest body `POST /hooks/{id}` reads (bytes, or with KiB/MiB); a larger one is answered 413
    /// and recorded.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    pub hook_body_max: usize,
    #[command(flatten)]
    pub replies: ReplyFlags,
}

impl TriggerFlags {
    pub fn hook_settings(&self) -> HookSettings {
        HookSettings {
            public_url: self.public_url.clone(),
            body_max: self.hook_body_max,
        }
    }

    pub fn reply_settings(&self) -> ReplierSettings {
        ReplierSettings {
            providers: Providers {
                twilio: self.replies.twilio_api_url.clone(),
                mailgun: self.replies.mailgun_api_url.clone(),
                sendgrid: self.replies.sendgrid_api_url.clone(),
            },
            backoff_base: self.replies.reply_backoff_base,
        }
    }
}

/// The reply worker's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplyFlags {
    /// The base URL of Twilio's API that trigger replies by SMS are sent to.
    #[arg(long, env = "AGENTCTL_TWILIO_API_URL", default_value = "https://api.twilio.com", value_parser = parse_base_url)]
    pub twilio_api_url: url::Url,
    /// The base URL of Mailgun's API that trigger replies by Mailgun are sent to (`https://api.eu.mailgun.net`
    /// for an EU account).
    #[arg(long, env = "AGENTCTL_MAILGUN_API_URL", default_value = "https://api.mailgun.net", value_parser = parse_base_url)]
    pub mailgun_api_url: url::Url,
    /// The base URL of SendGrid's API that trigger replies by SendGrid are sent to.
    #[arg(long, env = "AGENTCTL_SENDGRID_API_URL", default_value = "https://api.sendgrid.com", value_parser = parse_base_url)]
    pub sendgrid_api_url: url::Url,
    /// The wait before a failed reply's first retry, doubling per attempt (tests lower it).
    #[arg(long, hide = true, default_value = "5s", value_parser = humantime::parse_duration)]
    pub reply_backoff_base: Duration,
}

/// An `http(s)` URL a provider's paths are appended to.
fn parse_base_url(text: &str) -> Result<url::Url, String> {
    url::Url::parse(text.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| format!("{text:?} is not an http(s) URL"))
}

/// `16MiB`, `512KiB` or a number of bytes.
fn parse_size(text: &str) -> Result<usize, String> {
    let (number, unit) = match text.trim() {
        t if t.ends_with("MiB") => (&t[..t.len() - 3], 1024 * 1024),
        t if t.ends_with("KiB") => (&t[..t.len() - 3], 1024),
        t => (t, 1),
    };
    number
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a size: give bytes, or a number with KiB or MiB"))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    #[test]
    fn a_hook_body_bound_is_bytes_or_a_number_of_kib_or_mib() {
        let sizes = ["16MiB", "512KiB", "1048576", " 2 MiB", "0", "16MB", "-1"].map(super::parse_size);
        expect![[r#"[Ok(16777216), Ok(524288), Ok(1048576), Ok(2097152), Err("\"0\" is not a size: give bytes, or a number with KiB or MiB"), Err("\"16MB\" is not a size: give bytes, or a number with KiB or MiB"), Err("\"-1\" is not a size: give bytes, or a number with KiB or MiB")]"#]]
            .assert_eq(&format!("{sizes:?}"));
    }
}
