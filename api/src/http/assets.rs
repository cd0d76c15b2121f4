//! Files over plain HTTP: `GET /assets/{id}` serves a public file, or a private one with a
//! valid signature; `PUT /assets/uploads/{ticket}` stores one file under a signed upload
//! ticket. Errors have the GraphQL shape, with the same codes.

use std::net::SocketAddr;

use arena_entity::assets::asset;
use async_graphql::Response as GqlResponse;
use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::EntityTrait;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::HttpState;
use crate::{
    assets::{self, Upload},
    auth::viewer,
    error::{ApiError, ErrorCode},
};

fn failure(state: &HttpState, err: ApiError) -> Response {
    let code = err.code();
    state.ctx.metrics.observe_error(code.as_str());
    let status = match code {
        ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Forbidden | ErrorCode::Unauthenticated => StatusCode::FORBIDDEN,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let error = async_graphql::Error::from(err).into_server_error(Default::default());
    (status, Json(GqlResponse::from_errors(vec![error]))).into_response()
}

/// A private file's signature.
#[derive(Deserialize)]
pub(super) struct Signed {
    expires: Option<i64>,
    signature: Option<String>,
}

/// `GET /assets/{id}`.
pub(super) async fn download(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return failure(&state, ApiError::NotFound("asset"));
    };
    let row = match asset::Entity::find_by_id(id).one(&state.ctx.db).await {
        Ok(Some(row)) if row.deleted_at.is_none() => row,
        Ok(_) => return failure(&state, ApiError::NotFound("asset")),
        Err(err) => return failure(&state, err.into()),
    };
    let signer = &state.ctx.assets.signer;
    if !row.public {
        let genuine = match (signed.expires, signed.signature.as_deref()) {
            (Some(expires), Some(signature)) => signer.check_download(id, expires, signature),
            _ => false,
        };
        if !genuine {
            return failure(&state, ApiError::Forbidden);
        }
    }
    let Some(key) = &row.source_uri else {
        return failure(&state, ApiError::NotFound("asset"));
    };
    let bytes = match state.ctx.assets.store.get(key).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return failure(
                &state,
                ApiError::Internal(anyhow::anyhow!("reading {key}: {err}")),
            );
        }
    };
    let mut headers = HeaderMap::new();
    let mime = HeaderValue::from_str(&row.mimetype)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, mime);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Whatever a file holds, a browser runs nothing of it.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if !row.mimetype.starts_with("image/") {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    let cache = if row.public {
        "public, max-age=86400".to_owned()
    } else {
        format!("private, max-age={}", signer.ttl.as_secs())
    };
    if let Ok(cache) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, cache);
    }
    (headers, bytes).into_response()
}

/// `PUT /assets/uploads/{ticket}` with the file as the body.
pub(super) async fn upload(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(ticket) = state.ctx.assets.signer.check_upload(&token) else {
        return failure(&state, ApiError::Forbidden);
    };
    let Some(kind) = ticket.kind() else {
        return failure(&state, ApiError::Forbidden);
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let limit = assets::check::limits(kind).1;
            let message = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                format!("a {kind:?} asset is at most {limit} bytes")
            } else {
                format!("could not read the file: {rejection}")
            };
            return failure(&state, ApiError::bad_input("file", message));
        }
    };
    let ip = viewer::client_ip(peer.ip(), &headers, &state.ctx.auth.trusted_proxies);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let stored = assets::upload(
        &state.ctx,
        ticket.user,
        ip,
        Upload {
            kind,
            tag: ticket.tag,
            public: ticket.public,
            name: ticket.name,
            content_type,
            bytes: body.to_vec(),
            source: "upload-url",
            id: Some(ticket.asset),
        },
    )
    .await;
    match stored {
        Ok(row) => (
            StatusCode::CREATED,
            Json(json!({
                "id": row.id,
                "mimeType": row.mimetype,
                "size": row.filesize,
            })),
        )
            .into_response(),
        Err(err) => failure(&state, err),
    }
}
