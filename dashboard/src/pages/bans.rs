//! Bans: filter, lift, and ban an address or range.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{BanStateFilter, ErrorLine, ask, confirm, list, local_to_rfc3339, run, short_time},
};

const PAGE: i64 = 50;

#[component]
pub fn BanList() -> impl IntoView {
    let session = expect_context::<Session>();
    let state = RwSignal::new(Some(true));
    let user = RwSignal::new(String::new());
    let address = RwSignal::new(String::new());
    let rows = RwSignal::new(Vec::<api::bans::BansBansEdgesNode>::new());
    let total = RwSignal::new(0_i64);
    let error = RwSignal::new(None::<Failure>);
    let next = RwSignal::new(None::<String>);
    let load_page = move |after: Option<String>| {
        let more = after.is_some();
        let variables = api::bans::Variables {
            active: state.get_untracked(),
            user_id: Some(user.get_untracked()).filter(|u| !u.trim().is_empty()),
            address: Some(address.get_untracked()).filter(|a| !a.trim().is_empty()),
            first: Some(PAGE),
            after,
        };
        run::<api::Bans>(session, variables, error, move |data| {
            let bans = data.bans;
            total.set(bans.total_count);
            next.set(
                bans.page_info
                    .end_cursor
                    .filter(|_| bans.page_info.has_next_page),
            );
            let nodes = bans.edges.into_iter().map(|e| e.node);
            if more {
                rows.update(|r| r.extend(nodes));
            } else {
                rows.set(nodes.collect());
            }
        });
    };
    let load = move || load_page(None);
    Effect::new(move |_| {
        state.track();
        user.track();
        address.track();
        load();
    });
    let lift_error = RwSignal::new(None::<Failure>);
    let lift = move |id: String, who: String| {
        if !confirm(&format!("Lift the ban on {who}?")) {
            return;
        }
        let reason = ask("Why is the ban lifted?");
        leptos::task::spawn_local(async move {
            match api::call::<api::LiftBan>(session, api::lift_ban::Variables { id, reason }).await
            {
                Ok(_) => {
                    lift_error.set(None);
                    load();
                }
                Err(failure) => lift_error.set(Some(failure)),
            }
        });
    };

    let new_address = RwSignal::new(String::new());
    let new_reason = RwSignal::new(String::new());
    let new_expires = RwSignal::new(String::new());
    let new_privileges = RwSignal::new(String::new());
    let create_error = RwSignal::new(None::<Failure>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let target = new_address.get_untracked();
        if !confirm(&format!("Ban {target}?")) {
            return;
        }
        let only = list(&new_privileges.get_untracked());
        let variables = api::ban_address::Variables {
            address: target,
            reason: new_reason.get_untracked(),
            expires_at: local_to_rfc3339(&new_expires.get_untracked()),
            privileges: (!only.is_empty()).then_some(only),
        };
        run::<api::BanAddress>(session, variables, create_error, move |_| {
            new_address.set(String::new());
            new_reason.set(String::new());
            load();
        });
    };
    view! {
        <h1>"Bans"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <BanStateFilter name="state" active=state/>
            <label>"User id" <input name="user" on:change=move |ev| user.set(event_target_value(&ev))/></label>
            <label>"Covering address" <input name="address" on:change=move |ev| address.set(event_target_value(&ev))/></label>
        </form>
        <ErrorLine error=error/>
        <ErrorLine error=lift_error/>
        <p class="muted">{move || format!("{} bans", total.get())}</p>
        <div class="scroll">
            <table class="bans">
                <thead><tr><th>"Who"</th><th>"Reason"</th><th>"Placed"</th><th>"Until"</th><th>"Privileges"</th><th>"By"</th><th></th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|b| {
                        let who = b.user.as_ref().map(|u| u.username.clone()).or(b.address.clone()).unwrap_or_default();
                        let link = b.user.as_ref().map(|u| format!("/admin/users/{}", u.id));
                        let (id, label) = (b.id.clone(), who.clone());
                        view! {
                            <tr class=if b.active { "active" } else { "inactive" }>
                                <td>{match link {
                                    Some(href) => view! { <A href=href>{who}</A> }.into_any(),
                                    None => view! { <span>{who}</span> }.into_any(),
                                }}</td>
                                <td>{b.reason}</td>
                                <td>{short_time(&b.created_at)}</td>
                                <td>{b.expires_at.map(|t| short_time(&t)).unwrap_or_else(|| "permanent".into())}</td>
                                <td>{b.privileges.map(|p| p.join(", ")).unwrap_or_else(|| "all".into())}</td>
                                <td>{b.admin.map(|a| a.username).unwrap_or_default()}</td>
                                <td>
                                    <Show when=move || b.active>
                                        <button class="danger" on:click={let (id, label) = (id.clone(), label.clone()); move |_| lift(id.clone(), label.clone())}>"Lift"</button>
                                    </Show>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <Show when=move || next.with(Option::is_some)>
            <button on:click=move |_| load_page(next.get_untracked())>"More"</button>
        </Show>
        <section class="card">
            <h2>"Ban an address or range"</h2>
            <form class="ban" on:submit=create>
                <label>"IP or CIDR range" <input name="new-address" required placeholder="203.0.113.0/24" prop:value=move || new_address.get() on:input=move |ev| new_address.set(event_target_value(&ev))/></label>
                <label>"Reason" <input name="new-reason" required prop:value=move || new_reason.get() on:input=move |ev| new_reason.set(event_target_value(&ev))/></label>
                <label>"Until (UTC, empty for permanent)" <input name="new-expires" type="datetime-local" prop:value=move || new_expires.get() on:input=move |ev| new_expires.set(event_target_value(&ev))/></label>
                <label>"Only these privileges (comma-separated)" <input name="new-privileges" prop:value=move || new_privileges.get() on:input=move |ev| new_privileges.set(event_target_value(&ev))/></label>
                <ErrorLine error=create_error/>
                <button type="submit" class="danger">"Ban address"</button>
            </form>
        </section>
    }
}
