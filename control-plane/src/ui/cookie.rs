//! Cookies of the web UI, as pure functions: reading one from a `Cookie` header, writing `Set-Cookie`.

/// The signed-in browser's cookie: an opaque random value whose digest is the `ui_sessions` key.
pub const SESSION: &str = "agentctl_session";
/// The sign-in form's double-submit token (the form is posted before there is a session).
pub const SIGN_IN: &str = "agentctl_sign_in";

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`), if present and not empty.
pub fn read<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

/// How a cookie is sent: `HttpOnly` and `SameSite=Strict` always; `Secure` when the UI is served over HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    pub path: &'static str,
    pub max_age_s: u64,
    pub secure: bool,
}

/// A `Set-Cookie` value; `value` must be a cookie-safe token (this module only writes hex).
pub fn set(name: &str, value: &str, attributes: Attributes) -> String {
    let Attributes {
        path,
        max_age_s,
        secure,
    } = attributes;
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear(name: &str, path: &'static str, secure: bool) -> String {
    set(
        name,
        "gone",
        Attributes {
            path,
            max_age_s: 0,
            secure,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_finds_one_cookie_among_several() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("agentctl_session=abc", SESSION, Some("abc")),
            ("a=1; agentctl_session=abc; b=2", SESSION, Some("abc")),
            ("a=1;agentctl_session=abc", SESSION, Some("abc")),
            ("xagentctl_session=abc", SESSION, None),
            ("agentctl_session=", SESSION, None),
            ("agentctl_session", SESSION, None),
            ("", SESSION, None),
            ("agentctl_sign_in=s; agentctl_session=t", SIGN_IN, Some("s")),
        ];
        for (header, name, want) in cases {
            assert_eq!(read(header, name), *want, "{header:?} {name}");
        }
    }

    #[test]
    fn set_is_http_only_and_same_site_strict() {
        let plain = Attributes {
            path: "/",
            max_age_s: 60,
            secure: false,
        };
        assert_eq!(
            set(SESSION, "ab12", plain),
            "agentctl_session=ab12; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            set(
                SESSION,
                "ab12",
                Attributes {
                    secure: true,
                    ..plain
                }
            ),
            "agentctl_session=ab12; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            clear(SIGN_IN, "/sign-in", false),
            "agentctl_sign_in=gone; Path=/sign-in; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }
}
