//! The Arena dashboard for moderators and admins. It runs in the browser (Leptos, client
//! side) and does everything through Arena's GraphQL API with the moderator's own token, so
//! it obeys the same rules as every other client.

mod api;
mod live;
mod pages;
mod session;
mod widgets;

use leptos::prelude::*;
use leptos_router::{
    components::{A, Route, Router, Routes},
    hooks::use_navigate,
    path,
};
use wasm_bindgen::prelude::wasm_bindgen;

use crate::session::{Moderator, Session};

/// Starts the dashboard in the page.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// Loads who is signed in; a caller without `dashboard.access` is signed out again.
pub(crate) async fn load_me(session: Session) -> Result<(), String> {
    let me = api::call::<api::Me>(session, api::me::Variables {})
        .await
        .map_err(|f| f.message)?
        .me;
    let privileges = me.privileges.unwrap_or_default();
    if !privileges.iter().any(|p| p == "dashboard.access") {
        let _ = api::call::<api::Logout>(session, api::logout::Variables {}).await;
        session.clear();
        return Err("This account may not use the dashboard.".into());
    }
    session.me.set(Some(Moderator {
        username: me.username,
        privileges,
    }));
    Ok(())
}

#[component]
fn App() -> impl IntoView {
    let session = Session::load();
    provide_context(session);
    if session.signed_in() {
        leptos::task::spawn_local(async move {
            let _ = load_me(session).await;
        });
    }
    view! {
        <Router>
            <Shell/>
        </Router>
    }
}

#[component]
fn Shell() -> impl IntoView {
    let session = expect_context::<Session>();
    let navigate = use_navigate();
    let sign_out = move |_| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let _ = api::call::<api::Logout>(session, api::logout::Variables {}).await;
            session.clear();
            navigate("/admin/signin", Default::default());
        });
    };
    view! {
        <header class="top">
            <span class="brand">"Arena"</span>
            <Show when=move || session.me.with(Option::is_some)>
                <nav>
                    <A href="/admin" exact=true>"Home"</A>
                    <Show when=move || session.can("user.search")><A href="/admin/users">"Users"</A></Show>
                    <Show when=move || session.can("user.ban")><A href="/admin/bans">"Bans"</A></Show>
                    <Show when=move || session.can("role.manage")><A href="/admin/roles">"Roles"</A></Show>
                    <Show when=move || session.can("audit.read")><A href="/admin/audit">"Audit log"</A></Show>
                    <Show when=move || session.can("crawler.read")><A href="/admin/crawls">"Crawls"</A></Show>
                    <Show when=move || session.can("content.moderate")><A href="/admin/moderation">"Moderation"</A></Show>
                    <Show when=move || session.can("content.moderate")><A href="/admin/reports">"Reports"</A></Show>
                    <Show when=move || session.can("content.moderate")><A href="/admin/content">"Content"</A></Show>
                    <Show when=move || session.can("content.moderate")><A href="/admin/categories">"Categories"</A></Show>
                    <Show when=move || session.can("content.moderate")><A href="/admin/games">"Games"</A></Show>
                    <Show when=move || session.can("bank.mint")><A href="/admin/economy">"Economy"</A></Show>
                    <Show when=move || session.can("bank.mint")><A href="/admin/trades">"Trades"</A></Show>
                    <Show when=move || session.can("server.quarantine")><A href="/admin/servers">"Servers"</A></Show>
                    <Show when=move || session.can("server.quarantine")><A href="/admin/sessions">"Sessions"</A></Show>
                    <Show when=move || session.can("server.manage")><A href="/admin/hosts">"Hosts"</A></Show>
                    <Show when=move || session.can("server.manage")><A href="/admin/host-bans">"Host bans"</A></Show>
                    <A href="/admin/plays">"Plays"</A>
                    <Show when=move || session.can("event.manage")><A href="/admin/leaderboards">"Scoring"</A></Show>
                    <Show when=move || session.can("event.manage")><A href="/admin/events">"Events"</A></Show>
                    <Show when=move || session.can("quest.manage")><A href="/admin/quests">"Quests"</A></Show>
                </nav>
                <span class="who">{move || session.me.with(|m| m.as_ref().map(|m| m.username.clone()).unwrap_or_default())}</span>
                <button class="link" on:click=sign_out.clone()>"Sign out"</button>
            </Show>
        </header>
        <main>
            <Routes fallback=|| view! { <p>"There is no such page."</p> }>
                <Route path=path!("/admin/signin") view=pages::signin::SignIn/>
                <Route path=path!("/admin") view=|| view! { <Guarded><pages::home::Home/></Guarded> }/>
                <Route path=path!("/admin/users") view=|| view! { <Guarded><pages::users::UserList/></Guarded> }/>
                <Route path=path!("/admin/users/:id") view=|| view! { <Guarded><pages::users::UserPage/></Guarded> }/>
                <Route path=path!("/admin/bans") view=|| view! { <Guarded><pages::bans::BanList/></Guarded> }/>
                <Route path=path!("/admin/roles") view=|| view! { <Guarded><pages::roles::RoleTree/></Guarded> }/>
                <Route path=path!("/admin/audit") view=|| view! { <Guarded><pages::audit::AuditLog/></Guarded> }/>
                <Route path=path!("/admin/crawls") view=|| view! { <Guarded><pages::crawls::CrawlList/></Guarded> }/>
                <Route path=path!("/admin/crawls/:id") view=|| view! { <Guarded><pages::crawls::CrawlPage/></Guarded> }/>
                <Route path=path!("/admin/moderation") view=|| view! { <Guarded><pages::moderation::ModerationQueue/></Guarded> }/>
                <Route path=path!("/admin/reports") view=|| view! { <Guarded><pages::moderation::ReportList/></Guarded> }/>
                <Route path=path!("/admin/content") view=|| view! { <Guarded><pages::catalog::ContentSearch/></Guarded> }/>
                <Route path=path!("/admin/content/:id") view=|| view! { <Guarded><pages::catalog::ContentPage/></Guarded> }/>
                <Route path=path!("/admin/categories") view=|| view! { <Guarded><pages::catalog::CategoryTree/></Guarded> }/>
                <Route path=path!("/admin/games") view=|| view! { <Guarded><pages::catalog::GameList/></Guarded> }/>
                <Route path=path!("/admin/economy") view=|| view! { <Guarded><pages::economy::Economy/></Guarded> }/>
                <Route path=path!("/admin/trades") view=|| view! { <Guarded><pages::trades::TradeList/></Guarded> }/>
                <Route path=path!("/admin/trades/:id") view=|| view! { <Guarded><pages::trades::TradePage/></Guarded> }/>
                <Route path=path!("/admin/host-bans") view=|| view! { <Guarded><pages::hosts::HostBanList/></Guarded> }/>
                <Route path=path!("/admin/servers") view=|| view! { <Guarded><pages::play::ServerList/></Guarded> }/>
                <Route path=path!("/admin/hosts") view=|| view! { <Guarded><pages::play::HostList/></Guarded> }/>
                <Route path=path!("/admin/sessions") view=|| view! { <Guarded><pages::play::SessionList/></Guarded> }/>
                <Route path=path!("/admin/plays") view=|| view! { <Guarded><pages::play::PlaysPerDay/></Guarded> }/>
                <Route path=path!("/admin/leaderboards") view=|| view! { <Guarded><pages::boards::Scoring/></Guarded> }/>
                <Route path=path!("/admin/leaderboards/:id") view=|| view! { <Guarded><pages::boards::BoardPage/></Guarded> }/>
                <Route path=path!("/admin/events") view=|| view! { <Guarded><pages::events::EventLog/></Guarded> }/>
                <Route path=path!("/admin/quests") view=|| view! { <Guarded><pages::quests::QuestList/></Guarded> }/>
            </Routes>
        </main>
    }
}

/// Shows its children to a signed-in moderator; sends anyone else to sign in.
#[component]
fn Guarded(children: ChildrenFn) -> impl IntoView {
    let session = expect_context::<Session>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if !session.signed_in() {
            navigate("/admin/signin", Default::default());
        }
    });
    view! {
        <Show when=move || session.me.with(Option::is_some) fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {children()}
        </Show>
    }
}
