//! Talking to Arena: every call is a typed GraphQL operation checked against
//! `schema.graphql` at build time, sent with the signed-in moderator's own token.

use std::cell::RefCell;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use graphql_client::{GraphQLQuery, QueryBody, Response};
use serde::{Serialize, de::DeserializeOwned};

use crate::session::{Session, Tokens};

/// `DateTime` scalars travel as RFC 3339 strings.
pub type DateTime = String;
/// `JSON` scalars; graphql_client looks the type up by the scalar's name.
#[allow(clippy::upper_case_acronyms)]
pub type JSON = serde_json::Value;
/// `NaiveDate` scalars travel as `YYYY-MM-DD`.
pub type NaiveDate = String;

/// Declares typed operations of one `.graphql` file, each checked against the schema.
macro_rules! operations {
    ($path:tt: $($name:ident),* $(,)?) => {$(
        #[derive(GraphQLQuery)]
        #[graphql(
            schema_path = "../schema.graphql",
            query_path = $path,
            response_derives = "Debug, Clone, PartialEq",
            variables_derives = "Debug, Clone"
        )]
        pub struct $name;
    )*};
}

operations!("graphql/session.graphql": Login, Refresh, Logout, Me);
operations!("graphql/crawls.graphql": CrawlRuns, CrawlRunPage, CrawlRunLive, DailyActivity);
operations!("graphql/events.graphql": GameBoards, CreateBoard, BoardPage, BoardLive, ResetBoard, SetHandler, AddRule, DropRule, StatsOf, StatsLive, EventList, EventTail, RetryEvent, QuestList, CreateQuest, SetQuestWindow, SetQuestActive);

/// A quest's words or reward: fields left `None` are not sent, so they stay as they are (a
/// null `startsAt` or `endsAt` would clear the window).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/events.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none
)]
pub struct UpdateQuest;
operations!("graphql/home.graphql": Home);
operations!("graphql/users.graphql": Users, UserDetail, LogoutUser, RoleNames, AssignRole, RemoveRole);
operations!("graphql/bans.graphql": Bans, BanUser, BanAddress, LiftBan);
operations!("graphql/roles.graphql": Roles, CreateRole, MoveRole, GrantPrivilege, RevokePrivilege);
operations!("graphql/audit.graphql": Audit);
operations!("graphql/bank.graphql": UserBank, Refund, Mint, Burn, Economy, RenameCurrency, CreateConversion, EndConversion, StoreItems, Trades, TradeDetail);
operations!("graphql/servers.graphql": HostBans, BanHost, LiftHostBan);
operations!("graphql/play.graphql": AllServers, QuarantineServer, ReleaseServer, SetServerActive, ProvisioningHosts, RegisterHost, SetHostActive, LiveSessions, EndPlaySession, PlaysPerDay);
operations!("graphql/catalog.graphql": ModerationQueue, ClaimModeration, ReleaseModeration, DecideModeration, ContentReports, ContentSearch, ContentDetail, Categories, CreateCategory, Games);

/// A failed call, in words for the person at the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// `extensions.code`, or `NETWORK`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl Failure {
    /// A failure found before asking the API.
    pub fn local(message: &str) -> Self {
        Self {
            code: "BAD_USER_INPUT".into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn network(err: impl std::fmt::Display) -> Failure {
    Failure {
        code: "NETWORK".into(),
        message: format!("Arena could not be reached: {err}"),
    }
}

async fn post<V: Serialize, D: DeserializeOwned>(
    body: &QueryBody<V>,
    token: Option<&str>,
) -> Result<D, Failure> {
    let mut request = gloo_net::http::Request::post("/graphql");
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request
        .json(body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    let parsed: Response<D> = response.json().await.map_err(network)?;
    if let Some(error) = parsed.errors.as_ref().and_then(|errors| errors.first()) {
        let code = error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .and_then(|code| code.as_str())
            .unwrap_or("INTERNAL")
            .to_owned();
        let message = if code == "BANNED" {
            let reason = error
                .extensions
                .as_ref()
                .and_then(|e| e.get("reason"))
                .and_then(|r| r.as_str());
            format!("Banned: {}", reason.unwrap_or(&error.message))
        } else {
            error.message.clone()
        };
        return Err(Failure { code, message });
    }
    parsed.data.ok_or_else(|| Failure {
        code: "INTERNAL".into(),
        message: "Arena answered without data".into(),
    })
}

/// Runs `Q`; an expired access token is refreshed once, quietly.
pub async fn call<Q>(session: Session, variables: Q::Variables) -> Result<Q::ResponseData, Failure>
where
    Q: GraphQLQuery,
    Q::Variables: Clone,
{
    let body = Q::build_query(variables.clone());
    let token = session.access_token();
    match post(&body, token.as_deref()).await {
        Err(failure) if failure.code == "UNAUTHENTICATED" && token.is_some() => {
            // Another call may have refreshed meanwhile; its new token is the one to use.
            let fresh = session.access_token() != token || refresh(session).await;
            if fresh {
                let body = Q::build_query(variables);
                post(&body, session.access_token().as_deref()).await
            } else {
                session.clear();
                Err(failure)
            }
        }
        other => other,
    }
}

thread_local! {
    /// The refresh under way: a refresh token works once, so calls that find the access
    /// token expired at the same moment share one exchange instead of each presenting it
    /// (a second use is taken as theft and ends the sign-in).
    static REFRESHING: RefCell<Option<Shared<LocalBoxFuture<'static, bool>>>> =
        const { RefCell::new(None) };
}

/// Exchanges the refresh token, once for all callers at the same moment; false when the
/// sign-in is over.
pub async fn refresh(session: Session) -> bool {
    let under_way = REFRESHING.with(|slot| slot.borrow().clone());
    let flight = under_way.unwrap_or_else(|| {
        let flight = async move {
            let ok = exchange(session).await;
            REFRESHING.with(|slot| slot.borrow_mut().take());
            ok
        }
        .boxed_local()
        .shared();
        REFRESHING.with(|slot| *slot.borrow_mut() = Some(flight.clone()));
        flight
    });
    flight.await
}

async fn exchange(session: Session) -> bool {
    let Some(refresh_token) = session.refresh_token() else {
        return false;
    };
    let body = Refresh::build_query(refresh::Variables {
        token: refresh_token,
    });
    match post::<_, refresh::ResponseData>(&body, None).await {
        Ok(data) => {
            session.store(Tokens {
                access: data.refresh_token.access_token,
                refresh: data.refresh_token.refresh_token,
            });
            true
        }
        Err(_) => false,
    }
}
