//! The UI's static files, embedded in the binary (`include_bytes!`: present whatever directory `agentctl`
//! runs from) and served from `/assets/{name}`. Vendored scripts carry their version in the name and are
//! cached for good; the project's own stylesheet and script are revalidated by their ETag.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

struct Asset {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
    /// Versioned in its name: never changes under that name.
    immutable: bool,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx-2.0.11.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
        immutable: true,
    },
    Asset {
        name: "htmx-ext-sse-2.2.4.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-ext-sse-2.2.4.min.js"),
        immutable: true,
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
        immutable: false,
    },
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
        immutable: false,
    },
];

/// A quoted ETag per asset, computed once.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    &TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.bytes);
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })[index]
}

pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let asset = &ASSETS[index];
    let tag = etag(index);
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.mime)], asset.bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_static(tag));
    response
}
