//! The built page (`portal/dist`, made by `node portal/build.mjs`), embedded in the binary: served with an ETag
//! (its SHA-256) so browsers revalidate instead of re-downloading.

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// An embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: LazyLock<String>,
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../../portal/dist/", $name)),
            etag: LazyLock::new(|| {
                format!(
                    "\"{}\"",
                    alloy::hex::encode(
                        &Sha256::digest(include_bytes!(concat!("../../../portal/dist/", $name)))
                            [..16]
                    )
                )
            }),
        }
    };
}

static ASSETS: [Asset; 3] = [
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("licenses.txt", "text/plain; charset=utf-8"),
];

static INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

fn serve(asset: &Asset, status: StatusCode, headers: &HeaderMap) -> Response {
    let etag = asset.etag.as_str();
    if status == StatusCode::OK
        && headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.to_owned())]).into_response();
    }
    let mut response = (status, asset.bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// `GET /assets/{file}`.
pub(crate) async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => serve(a, StatusCode::OK, &headers),
        None => crate::error(StatusCode::NOT_FOUND, format!("no asset {file:?}")),
    }
}

/// Whether `path` is one of the page's routes (else the page answers 404 and shows its not-found view).
fn is_page(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    matches!(
        parts.as_slice(),
        [] | [""] | ["markets"] | ["markets", _] | ["asks", _] | ["generators", _]
    )
}

/// Any other GET: the page, which routes in the browser (404 for a path that is none of its routes).
pub(crate) async fn page(uri: Uri, headers: HeaderMap) -> Response {
    let status = if is_page(uri.path()) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    serve(&INDEX, status, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_routes() {
        for p in [
            "/",
            "/markets",
            "/markets/1",
            "/asks/7",
            "/asks/new",
            "/generators/0xab",
            "/markets/1/",
        ] {
            assert!(is_page(p), "{p}");
        }
        for p in ["/nope", "/markets/1/x", "/asks", "/generators"] {
            assert!(!is_page(p), "{p}");
        }
    }
}
