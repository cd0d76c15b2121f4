//! The schema extension every request passes: stable error codes, metrics and log fields.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextRequest, NextSubscribe, NextValidation,
    },
    futures_util::stream::BoxStream,
    parser::types::{ExecutableDocument, OperationType},
};
use futures_util::StreamExt;

use super::preflight::{Checked, Preflight, refuse_control_in_const, select_operation};
use crate::{
    Locked,
    auth::viewer::Viewer,
    error::{ErrorCode, RequestFault},
    metrics::{Metrics, fits_label},
};

/// A response carrying one request-level fault, for refusals before the schema runs.
pub fn fault_response(fault: RequestFault, message: impl Into<String>) -> Response {
    Response::from_errors(vec![tag(ServerError::new(message, None), fault)])
}

fn tag(mut err: ServerError, fault: RequestFault) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    ext.set("code", ErrorCode::BadUserInput.as_str());
    ext.set("reason", fault.as_str());
    err
}

fn code_of(err: &ServerError) -> Option<&str> {
    match err.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        _ => None,
    }
}

/// Resolvers always answer with an `ApiError`, which carries a code; the errors that reach
/// here without one are async-graphql's own refusals of argument values.
fn ensure_code(response: &mut Response) {
    for err in &mut response.errors {
        if code_of(err).is_none() {
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::BadUserInput.as_str());
        }
    }
}

/// What every request passes at the schema's edge: parse, validation, depth and complexity
/// errors get `code: BAD_USER_INPUT` and a `reason`, every error gets a code, and requests,
/// latency and error codes are counted per operation, which is also named in the log span.
pub struct Boundary {
    metrics: Arc<Metrics>,
    preflight: Arc<Preflight>,
}

impl Boundary {
    /// Reports into `metrics`; parses through `preflight`.
    pub fn new(metrics: Arc<Metrics>, preflight: Arc<Preflight>) -> Self {
        Self { metrics, preflight }
    }
}

impl ExtensionFactory for Boundary {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(BoundaryRequest {
            metrics: self.metrics.clone(),
            preflight: self.preflight.clone(),
            operations: Mutex::default(),
            chosen: Mutex::default(),
            signed_in: AtomicBool::new(false),
            operation_name: Mutex::default(),
        })
    }
}

type Operation = (Option<String>, &'static str);

struct BoundaryRequest {
    metrics: Arc<Metrics>,
    preflight: Arc<Preflight>,
    /// The operations the parsed document defines.
    operations: Mutex<Vec<Operation>>,
    /// The one being executed.
    chosen: Mutex<Option<Operation>>,
    /// Whether a signed-in caller sent it (known once the request's data is attached).
    signed_in: AtomicBool,
    /// The operation the request asks for.
    operation_name: Mutex<Option<String>>,
}

impl BoundaryRequest {
    /// Gives code-less errors a code, then counts every error by code.
    fn settle(metrics: &Metrics, response: &mut Response) {
        ensure_code(response);
        for err in &response.errors {
            metrics.observe_error(code_of(err).unwrap_or("INTERNAL"));
        }
    }
}

const fn kind_of(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for BoundaryRequest {
    /// Refuses control characters in the variables once, for every string input.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        for value in request.variables.values() {
            refuse_control_in_const(value)
                .map_err(|refusal| tag(ServerError::new(refusal.message, None), refusal.fault))?;
        }
        self.operation_name
            .locked()
            .clone_from(&request.operation_name);
        next.run(ctx, request).await
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let mut response = next.run(ctx).await;
        let signed_in = self.signed_in.load(Ordering::Relaxed);
        Self::settle(&self.metrics, &mut response);
        let (name, kind) = self
            .chosen
            .locked()
            .take()
            // Refused before execution: parse or validation failure.
            .unwrap_or((None, "invalid"));
        self.metrics
            .observe_request(name.as_deref(), signed_in, kind, started.elapsed());
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = self.metrics.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                Self::settle(&metrics, &mut response);
                response
            })
            .boxed()
    }

    /// Replaces async-graphql's parsing (and its recursion check, which expands fragments
    /// without bound) with the preflight's.
    async fn parse_query(
        &self,
        _ctx: &ExtensionContext<'_>,
        query: &str,
        _variables: &Variables,
        _next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = match self.preflight.check(query).await {
            Checked::Document(document) => {
                let name = self.operation_name.locked().take();
                match name {
                    Some(name) => select_operation(document, &name),
                    None => document,
                }
            }
            Checked::Refused(refusal) => {
                return Err(tag(ServerError::new(refusal.message, None), refusal.fault));
            }
            Checked::Busy(busy) => {
                return Err(async_graphql::Error::from(busy).into_server_error(Default::default()));
            }
        };
        *self.operations.locked() = document
            .operations
            .iter()
            .map(|(name, op)| (name.map(|n| n.to_string()), kind_of(op.node.ty)))
            .collect();
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|err| {
                    // async-graphql's fixed messages for its two limits (validation/mod.rs);
                    // the limit tests pin them.
                    let fault = match err.message.as_str() {
                        "Query is nested too deep." => RequestFault::DepthLimit,
                        "Query is too complex." => RequestFault::ComplexityLimit,
                        _ => RequestFault::ValidationFailed,
                    };
                    tag(err, fault)
                })
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let chosen = {
            let operations = self.operations.locked();
            match operation_name {
                Some(wanted) => operations
                    .iter()
                    .find(|(name, _)| name.as_deref() == Some(wanted))
                    .cloned(),
                None if operations.len() == 1 => operations.first().cloned(),
                None => None,
            }
        };
        if let Some((Some(name), _)) = &chosen {
            let name = if fits_label(name) { name } else { "other" };
            tracing::Span::current().record("graphql_operation", name);
        }
        *self.chosen.locked() = chosen;
        let signed_in = ctx
            .data_opt::<Viewer>()
            .is_some_and(|viewer| viewer.user().is_some());
        self.signed_in.store(signed_in, Ordering::Relaxed);
        next.run(ctx, operation_name).await
    }
}
