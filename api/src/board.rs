//! The live board page: a small HTML page and hand-written script, embedded
//! in the binary and served beside the gRPC services on the same port, so
//! its gRPC-Web calls are same-origin and need no CORS. Nothing it uses is
//! fetched from anywhere else.
//!
//! A bearer token is injected into the page only when seatd runs with
//! `--demo` (the demo passenger's); otherwise the page asks for one
//! (a field, or `?token=`).

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::routing::get;

/// Where the page is served.
pub const BOARD_PATH: &str = "/board";
const BOARD_SCRIPT_PATH: &str = "/board.js";

const BOARD_HTML: &str = include_str!("../board/board.html");
const BOARD_JS: &str = include_str!("../board/board.js");
const TOKEN_PLACEHOLDER: &str = "{{DEMO_TOKEN}}";

/// Scripts and calls to this origin only: a page holding a token must not
/// be able to send it, or load code, anywhere else.
const CONTENT_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// Adds the page and its script to `router`; `demo_token` is written into
/// the page (only ever the demo passenger's token, only with `--demo`).
pub fn routes(router: axum::Router, demo_token: Option<&str>) -> axum::Router {
    let page = BOARD_HTML.replace(TOKEN_PLACEHOLDER, demo_token.unwrap_or_default());
    router
        .route(
            BOARD_PATH,
            get(move || {
                let page = page.clone();
                async move {
                    (
                        [
                            (CONTENT_TYPE, "text/html; charset=utf-8"),
                            (CACHE_CONTROL, "no-store"),
                            (CONTENT_SECURITY_POLICY, CONTENT_POLICY),
                        ],
                        page,
                    )
                }
            }),
        )
        .route(
            BOARD_SCRIPT_PATH,
            get(|| async {
                ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "no-cache")], BOARD_JS)
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_demo_page_carries_a_token_and_the_placeholder_is_unique() {
        assert_eq!(BOARD_HTML.matches(TOKEN_PLACEHOLDER).count(), 1);
        assert!(
            !BOARD_JS.contains("http://") && !BOARD_JS.contains("https://"),
            "the script fetches nothing elsewhere"
        );
    }
}
