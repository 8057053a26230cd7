//! A provider's form body, `application/x-www-form-urlencoded` or `multipart/form-data`, as a list of
//! named fields. The URL encoding is decoded strictly (a bad escape or bytes that are not UTF-8 are
//! refused, not guessed at); multipart bodies are read with `multer` from the bytes we already hold.

use std::convert::Infallible;

use bytes::Bytes;

use super::{Invalid, Limits, Request};

/// One field of a form: a text value, or a file part with its name and type as the sender gave them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Bytes,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Form {
    pub(crate) fields: Vec<Field>,
}

impl Form {
    /// Reads the body by its content type; anything but the two form encodings is refused.
    pub(crate) async fn read(request: &Request<'_>, limits: &Limits) -> Result<Self, Invalid> {
        let content_type = request.content_type.unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => parse_urlencoded(request.body),
            "multipart/form-data" => parse_multipart(request.body, content_type, limits).await,
            "" => Err(Invalid::new(
                "no Content-Type: expected application/x-www-form-urlencoded or multipart/form-data",
            )),
            other => Err(Invalid(format!(
                "Content-Type {other} is not application/x-www-form-urlencoded or multipart/form-data"
            ))),
        }
    }

    /// Whether a field of this name was sent (even empty).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|field| field.name == name)
    }

    /// The first field of this name, as text (lossy: providers pass mail bodies through in their charsets).
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.field(name)
            .map(|field| String::from_utf8_lossy(&field.data).into_owned())
    }

    /// A field that must be present.
    pub(crate) fn required(&self, name: &str) -> Result<String, Invalid> {
        self.text(name)
            .ok_or_else(|| Invalid(format!("missing field `{name}`")))
    }

    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// `a=1&b=x+y%21`: `+` is a space, every `%` is followed by two hex digits, the result is UTF-8.
pub(crate) fn parse_urlencoded(body: &[u8]) -> Result<Form, Invalid> {
    let mut fields = Vec::new();
    for (index, pair) in body.split(|&b| b == b'&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let name =
            decode(name).ok_or_else(|| Invalid(format!("form field {} has a malformed name", index + 1)))?;
        let value =
            decode(value).ok_or_else(|| Invalid(format!("form field `{name}` is not valid URL encoding")))?;
        fields.push(Field {
            name,
            filename: None,
            content_type: None,
            data: Bytes::from(value.into_bytes()),
        });
    }
    Ok(Form { fields })
}

fn decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex(*bytes.next()?)?;
                let low = hex(*bytes.next()?)?;
                out.push(high << 4 | low);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Fields a provider sends beside its files: Mailgun and SendGrid send a few dozen at most.
const MAX_TEXT_FIELDS: usize = 200;

async fn parse_multipart(body: &[u8], content_type: &str, limits: &Limits) -> Result<Form, Invalid> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| Invalid::new("multipart/form-data without a boundary in its Content-Type"))?;
    let body = Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(multipart_error(fields.last(), &error)),
        };
        // A provider names every field; an unnamed part is read (to keep the stream going) and dropped.
        let name = field.name().map(str::to_owned);
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|mime| mime.essence_str().to_owned());
        let data = field.bytes().await.map_err(|error| {
            Invalid(format!(
                "multipart field `{}` is malformed: {error}",
                name.as_deref().unwrap_or("(unnamed)")
            ))
        })?;
        if let Some(name) = name {
            fields.push(Field {
                name,
                filename,
                content_type,
                data,
            });
        }
        // Files beyond the limit are refused later, by name; this only stops a body of countless parts.
        let max_fields = limits.max_attachments + MAX_TEXT_FIELDS;
        if fields.len() > max_fields {
            return Err(Invalid(format!(
                "multipart body has more than {max_fields} fields"
            )));
        }
    }
    Ok(Form { fields })
}

fn multipart_error(after: Option<&Field>, error: &multer::Error) -> Invalid {
    match after {
        Some(field) => Invalid(format!(
            "multipart body is malformed after field `{}`: {error}",
            field.name
        )),
        None => Invalid(format!("multipart body is malformed: {error}")),
    }
}
