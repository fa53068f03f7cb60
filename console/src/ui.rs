//! The web console: hand-written HTML, CSS and JavaScript modules compiled
//! into the binary (`include_str!`), so it works offline with no CDN. Every
//! console path answers the same `index.html`; `app.js` picks the page.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

/// Console paths that answer `index.html` (DESIGN.md fixes `/`,
/// `/workflows/{name}` and `/executions/{id}`).
pub const PAGES: [&str; 8] = [
    "/",
    "/workflows",
    "/workflows/{name}",
    "/executions",
    "/executions/{id}",
    "/functions",
    "/sources",
    "/login",
];

const INDEX: &str = include_str!("../assets/index.html");

/// (file name, content type, content) of every asset under `/ui/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css", include_str!("../assets/style.css")),
    ("app.js", JS, include_str!("../assets/app.js")),
    ("api.js", JS, include_str!("../assets/api.js")),
    ("ui.js", JS, include_str!("../assets/ui.js")),
    ("live.js", JS, include_str!("../assets/live.js")),
    (
        "graph-layout.js",
        JS,
        include_str!("../assets/graph-layout.js"),
    ),
    (
        "graph-render.js",
        JS,
        include_str!("../assets/graph-render.js"),
    ),
    ("exec-model.js", JS, include_str!("../assets/exec-model.js")),
    (
        "page-overview.js",
        JS,
        include_str!("../assets/page-overview.js"),
    ),
    (
        "page-workflows.js",
        JS,
        include_str!("../assets/page-workflows.js"),
    ),
    (
        "page-workflow.js",
        JS,
        include_str!("../assets/page-workflow.js"),
    ),
    (
        "page-executions.js",
        JS,
        include_str!("../assets/page-executions.js"),
    ),
    (
        "page-execution.js",
        JS,
        include_str!("../assets/page-execution.js"),
    ),
    (
        "page-functions.js",
        JS,
        include_str!("../assets/page-functions.js"),
    ),
    (
        "page-sources.js",
        JS,
        include_str!("../assets/page-sources.js"),
    ),
    ("page-login.js", JS, include_str!("../assets/page-login.js")),
];

const JS: &str = "text/javascript";

/// Scripts only from this origin; nothing inline, no eval.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/// Any console page; `<body data-auth="on">` when sign-in is required
/// (the log-out button shows only then).
pub async fn page(State(state): State<AppState>) -> Response {
    let html = if state.auth.is_some() {
        INDEX.replacen("<body>", "<body data-auth=\"on\">", 1)
    } else {
        INDEX.to_string()
    };
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (axum::http::header::CONTENT_SECURITY_POLICY, CSP),
        ],
        html,
    )
        .into_response()
}

/// `GET /ui/{file}`.
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, kind, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::not_found(format!("no console asset named '{file}'")))?;
    Ok((
        [
            (CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (CACHE_CONTROL, "no-cache".to_string()),
        ],
        *body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_pages_import_is_served() {
        for (_, _, body) in ASSETS {
            for (i, _) in body.match_indices("'./") {
                let rest = &body[i + 3..];
                let name = &rest[..rest.find('\'').unwrap()];
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "{name} is imported but not served"
                );
            }
        }
        for line in INDEX.lines().filter(|l| l.contains("/ui/")) {
            let i = line.find("/ui/").unwrap() + 4;
            let name: String = line[i..].chars().take_while(|c| *c != '"').collect();
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name}");
        }
    }
}
