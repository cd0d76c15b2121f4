//! The dashboard under `/admin`: its built files, and its page for every other path
//! (the dashboard routes in the browser).

use axum::{
    Router,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tower_http::{compression::CompressionLayer, services::ServeDir};

use super::HttpState;

/// Routes for `/admin`, serving files from `dir`.
pub(super) fn routes(dir: &std::path::Path) -> Router<HttpState> {
    let index = dir.join("index.html");
    let page = move || {
        let index = index.clone();
        async move {
            match tokio::fs::read_to_string(&index).await {
                Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
                Err(_) => not_built(&index),
            }
        }
    };
    Router::new()
        // The wasm is about 2 MB; gzip takes it to about a third.
        .nest_service(
            "/admin/assets",
            tower::ServiceBuilder::new()
                .layer(CompressionLayer::new())
                .service(ServeDir::new(dir)),
        )
        .route("/admin", get(page.clone()))
        .route("/admin/{*path}", get(page))
}

fn not_built(index: &std::path::Path) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "The dashboard is not built ({} is missing). Start Arena with ./run, or build it with dashboard/build.sh.\n",
            index.display()
        ),
    )
        .into_response()
}
