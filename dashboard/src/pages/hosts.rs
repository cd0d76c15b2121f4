//! Host bans (needs `server.manage`): addresses and networks kept from hosting game servers;
//! filter, ban, lift.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{BanStateFilter, ErrorLine, ask, confirm, local_to_rfc3339, run, short_time},
};

#[component]
pub fn HostBanList() -> impl IntoView {
    let session = expect_context::<Session>();
    let state = RwSignal::new(Some(true));
    let rows = RwSignal::new(Vec::<api::host_bans::HostBansHostBans>::new());
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let variables = api::host_bans::Variables {
            active: state.get_untracked(),
        };
        run::<api::HostBans>(session, variables, error, move |data| {
            rows.set(data.host_bans)
        });
    };
    Effect::new(move |_| {
        state.track();
        load();
    });
    let lift_error = RwSignal::new(None::<Failure>);
    let lift = move |id: String, network: String| {
        if !confirm(&format!("Lift the host ban on {network}?")) {
            return;
        }
        let reason = ask("Why is the ban lifted?");
        run::<api::LiftHostBan>(
            session,
            api::lift_host_ban::Variables { id, reason },
            lift_error,
            move |_| load(),
        );
    };
    let address = RwSignal::new(String::new());
    let user = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let create_error = RwSignal::new(None::<Failure>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let target = address.get_untracked();
        if !confirm(&format!("Ban {target} from hosting?")) {
            return;
        }
        let input = api::ban_host::HostBanInput {
            address: target,
            user_id: Some(user.get_untracked()).filter(|u| !u.trim().is_empty()),
            reason: reason.get_untracked(),
            expires_at: local_to_rfc3339(&expires.get_untracked()),
        };
        run::<api::BanHost>(
            session,
            api::ban_host::Variables { input },
            create_error,
            move |_| {
                address.set(String::new());
                reason.set(String::new());
                load();
            },
        );
    };
    view! {
        <h1>"Host bans"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <BanStateFilter name="host-state" active=state/>
        </form>
        <ErrorLine error=error/>
        <ErrorLine error=lift_error/>
        <p class="muted">{move || format!("{} host bans", rows.with(Vec::len))}</p>
        <div class="scroll">
            <table class="host-bans">
                <thead><tr><th>"Network"</th><th>"User"</th><th>"Reason"</th><th>"Placed"</th><th>"Until"</th><th>"By"</th><th></th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|b| {
                        let (id, network) = (b.id.clone(), b.network.clone());
                        let live = b.lifted_at.is_none();
                        view! {
                            <tr>
                                <td>{b.network.clone()}</td>
                                <td>{b.user.map(|u| view! { <A href=format!("/admin/users/{}", u.id)>{u.username}</A> })}</td>
                                <td>{b.reason}{b.lift_reason.map(|r| format!(" (lifted: {r})"))}</td>
                                <td>{short_time(&b.created_at)}</td>
                                <td>{b.expires_at.map(|t| short_time(&t)).unwrap_or_else(|| "permanent".into())}</td>
                                <td>{b.admin.map(|a| a.username).unwrap_or_default()}</td>
                                <td>{live.then(|| view! {
                                    <button class="danger" on:click=move |_| lift(id.clone(), network.clone())>"Lift"</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <section class="card">
            <h2>"Ban an address or network from hosting"</h2>
            <form class="host-ban" on:submit=create>
                <label>"IP or CIDR range" <input name="host-address" required placeholder="203.0.113.0/24" prop:value=move || address.get() on:input=move |ev| address.set(event_target_value(&ev))/></label>
                <label>"User behind it (id, optional)" <input name="host-user" prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev))/></label>
                <label>"Reason" <input name="host-reason" required prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/></label>
                <label>"Until (UTC, empty for permanent)" <input name="host-expires" type="datetime-local" prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev))/></label>
                <ErrorLine error=create_error/>
                <button type="submit" class="danger">"Ban host"</button>
            </form>
        </section>
    }
}
