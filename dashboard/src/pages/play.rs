//! Play: game servers (live player counts, quarantine, deactivate), provisioning hosts
//! (capacity, last ping, register), live sessions (end one) and plays per game per day.
//! Lists of live things refresh every two seconds.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, ask, confirm, every_two_seconds, filled, run, short_time, utc_day},
};

#[component]
pub fn ServerList() -> impl IntoView {
    let session = expect_context::<Session>();
    let game = RwSignal::new(String::new());
    let quarantined = RwSignal::new(String::new());
    let shut_down = RwSignal::new(false);
    let rows = RwSignal::new(Vec::<api::all_servers::AllServersAllServers>::new());
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let filter = api::all_servers::ServerFilterInput {
            game_id: filled(game.get_untracked()),
            official: None,
            quarantined: match quarantined.get_untracked().as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
            include_shut_down: shut_down.get_untracked(),
        };
        let variables = api::all_servers::Variables {
            filter: Some(filter),
        };
        run::<api::AllServers>(session, variables, error, move |data| {
            rows.set(data.all_servers)
        });
    };
    Effect::new(move |_| {
        quarantined.track();
        shut_down.track();
        load();
    });
    every_two_seconds(load);
    let act_error = RwSignal::new(None::<Failure>);
    let quarantine = move |id: String, on: bool| {
        let what = if on { "Quarantine" } else { "Release" };
        if !confirm(&format!("{what} server {id}?")) {
            return;
        }
        let reason = ask("Why?");
        if on {
            let variables = api::quarantine_server::Variables { id, reason };
            run::<api::QuarantineServer>(session, variables, act_error, move |_| load());
        } else {
            let variables = api::release_server::Variables { id, reason };
            run::<api::ReleaseServer>(session, variables, act_error, move |_| load());
        }
    };
    let set_active = move |id: String, active: bool| {
        let what = if active { "Activate" } else { "Deactivate" };
        if !confirm(&format!("{what} server {id}?")) {
            return;
        }
        let reason = ask("Why?");
        let variables = api::set_server_active::Variables { id, active, reason };
        run::<api::SetServerActive>(session, variables, act_error, move |_| load());
    };
    let manage = move || session.can("server.manage");
    view! {
        <h1>"Game servers"</h1>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(); }>
            <label>"Game id" <input name="server-game" prop:value=move || game.get() on:input=move |ev| game.set(event_target_value(&ev))/></label>
            <label>"Quarantined"
                <select name="server-quarantined" on:change=move |ev| quarantined.set(event_target_value(&ev))>
                    <option value="">"any"</option>
                    <option value="yes">"yes"</option>
                    <option value="no">"no"</option>
                </select>
            </label>
            <label><input type="checkbox" name="server-shut-down" on:change=move |ev| shut_down.set(event_target_checked(&ev))/>" shut down too"</label>
            <button type="submit">"Filter"</button>
        </form>
        <ErrorLine error=error/>
        <ErrorLine error=act_error/>
        <p class="muted">{move || format!("{} servers", rows.with(Vec::len))}</p>
        <div class="scroll">
            <table class="servers">
                <thead><tr><th>"Id"</th><th>"State"</th><th>"Game"</th><th>"Players"</th><th>"Kind"</th><th>"Country"</th><th>"Address"</th><th>"Last ping"</th><th>"Owner"</th><th></th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|s| {
                        let (id, quarantined, active) = (s.id.clone(), s.quarantined, s.active);
                        let (id2, id3) = (id.clone(), id.clone());
                        let kind = if s.official { "official" } else if s.provisioned { "provisioned" } else { "player's" };
                        let live = !matches!(s.state, api::all_servers::ServerState::SHUT_DOWN);
                        view! {
                            <tr>
                                <td>{s.id.clone()}</td>
                                <td class="state">{format!("{:?}", s.state)}</td>
                                <td>{s.game.map(|g| view! { <A href=format!("/admin/content/{}", g.id)>{g.name}</A> })}</td>
                                <td class="players">{format!("{} / {}", s.players, s.slots)}{s.reported_players.map(|n| format!(" (says {n})"))}</td>
                                <td>{kind}</td>
                                <td>{s.country.unwrap_or_default()}</td>
                                <td>{s.socket_host.map(|h| format!("{h}:{}", s.socket_port.unwrap_or_default())).unwrap_or_default()}{s.address.map(|a| format!(" from {a}"))}</td>
                                <td>{s.pinged_at.map(|t| short_time(&t)).unwrap_or_else(|| "never".into())}{s.ping.map(|p| format!(", {p} ms"))}</td>
                                <td>{s.owner.map(|o| view! { <A href=format!("/admin/users/{}", o.id)>{o.username}</A> })}</td>
                                <td>
                                    {live.then(|| view! {
                                        <button class="danger quarantine" on:click=move |_| quarantine(id.clone(), !quarantined)>
                                            {if quarantined { "Release" } else { "Quarantine" }}
                                        </button>
                                    })}
                                    {(live && manage()).then(|| view! {
                                        <button class="activate" on:click=move |_| set_active(id2.clone(), !active)>
                                            {if active { "Deactivate" } else { "Activate" }}
                                        </button>
                                    })}
                                    <A href=format!("/admin/sessions?server={id3}")>"sessions"</A>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn HostList() -> impl IntoView {
    let session = expect_context::<Session>();
    let rows = RwSignal::new(Vec::<
        api::provisioning_hosts::ProvisioningHostsProvisioningHosts,
    >::new());
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        run::<api::ProvisioningHosts>(
            session,
            api::provisioning_hosts::Variables {},
            error,
            move |data| rows.set(data.provisioning_hosts),
        );
    };
    load();
    every_two_seconds(load);
    let toggle_error = RwSignal::new(None::<Failure>);
    let toggle = move |id: String, active: bool| {
        let what = if active { "Turn on" } else { "Turn off" };
        if !confirm(&format!("{what} host {id}?")) {
            return;
        }
        let variables = api::set_host_active::Variables { id, active };
        run::<api::SetHostActive>(session, variables, toggle_error, move |_| load());
    };
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let capacity = RwSignal::new(String::from("10"));
    let token = RwSignal::new(None::<String>);
    let create_error = RwSignal::new(None::<Failure>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(capacity) = capacity.get_untracked().trim().parse::<i64>() else {
            create_error.set(Some(Failure::local("the capacity is a whole number")));
            return;
        };
        let input = api::register_host::HostInput {
            name: name.get_untracked(),
            api_url: url.get_untracked(),
            capacity,
            official: true,
        };
        run::<api::RegisterHost>(
            session,
            api::register_host::Variables { input },
            create_error,
            move |data| {
                token.set(Some(data.register_provisioning_host.token));
                name.set(String::new());
                url.set(String::new());
                load();
            },
        );
    };
    view! {
        <h1>"Provisioning hosts"</h1>
        <ErrorLine error=error/>
        <ErrorLine error=toggle_error/>
        <div class="scroll">
            <table class="hosts">
                <thead><tr><th>"Id"</th><th>"Name"</th><th>"API"</th><th>"Servers left / capacity"</th><th>"Last ping"</th><th>"Online"</th><th></th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|h| {
                        let (id, active) = (h.id.clone(), h.active);
                        view! {
                            <tr>
                                <td>{h.id.clone()}</td>
                                <td>{h.name}{(!h.official).then_some(" (not official)")}</td>
                                <td>{h.api_url}</td>
                                <td>{format!("{} / {}", h.slots, h.capacity)}</td>
                                <td>{h.pinged_at.map(|t| short_time(&t)).unwrap_or_else(|| "never".into())}{h.address.map(|a| format!(" from {a}"))}</td>
                                <td>{if !h.active { "off" } else if h.online { "yes" } else { "silent" }}</td>
                                <td><button on:click=move |_| toggle(id.clone(), !active)>{if active { "Turn off" } else { "Turn on" }}</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <section class="card">
            <h2>"Register a provisioning host"</h2>
            <form class="host" on:submit=create>
                <label>"Name" <input name="host-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label>"API URL" <input name="host-url" required placeholder="https://rack1.example.com/servers" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/></label>
                <label>"Capacity (servers)" <input name="host-capacity" required prop:value=move || capacity.get() on:input=move |ev| capacity.set(event_target_value(&ev))/></label>
                <ErrorLine error=create_error/>
                <button type="submit">"Register"</button>
            </form>
            {move || token.get().map(|t| view! {
                <p class="token">"Its token, shown this once (the host sends it as "<code>"Authorization: Host <token>"</code>"): "<code id="host-token">{t}</code></p>
            })}
        </section>
    }
}

#[component]
pub fn SessionList() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = leptos_router::hooks::use_query_map();
    let server = move || query.with(|q| q.get("server"));
    let game = RwSignal::new(String::new());
    let rows = RwSignal::new(Vec::<api::live_sessions::LiveSessionsAllPlaySessions>::new());
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let variables = api::live_sessions::Variables {
            game_id: filled(game.get_untracked()),
        };
        run::<api::LiveSessions>(session, variables, error, move |data| {
            rows.set(data.all_play_sessions)
        });
    };
    load();
    every_two_seconds(load);
    let end_error = RwSignal::new(None::<Failure>);
    let end = move |id: String, who: String| {
        if !confirm(&format!("End {who}'s session {id}?")) {
            return;
        }
        run::<api::EndPlaySession>(
            session,
            api::end_play_session::Variables { id },
            end_error,
            move |_| load(),
        );
    };
    let shown = move || {
        let only = server();
        rows.get()
            .into_iter()
            .filter(|s| {
                only.as_ref()
                    .is_none_or(|id| s.server.as_ref().is_some_and(|v| &v.id == id))
            })
            .collect::<Vec<_>>()
    };
    view! {
        <h1>"Live sessions"</h1>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(); }>
            <label>"Game id" <input name="session-game" prop:value=move || game.get() on:input=move |ev| game.set(event_target_value(&ev))/></label>
            <button type="submit">"Filter"</button>
            {move || server().map(|id| view! { <span class="muted">{format!(" on server {id} ")}<A href="/admin/sessions">"(all servers)"</A></span> })}
        </form>
        <ErrorLine error=error/>
        <ErrorLine error=end_error/>
        <p class="muted">{move || format!("{} live sessions", shown().len())}</p>
        <div class="scroll">
            <table class="sessions">
                <thead><tr><th>"Id"</th><th>"Player"</th><th>"Game"</th><th>"Server"</th><th>"State"</th><th>"Started"</th><th>"Last ping"</th><th></th></tr></thead>
                <tbody>
                    {move || shown().into_iter().map(|s| {
                        let id = s.id.clone();
                        let who = s.player.as_ref().map(|p| p.username.clone()).unwrap_or_default();
                        view! {
                            <tr>
                                <td>{s.id.clone()}</td>
                                <td>{s.player.map(|p| view! { <A href=format!("/admin/users/{}", p.id)>{p.username}</A> })}</td>
                                <td>{s.game.map(|g| g.name)}</td>
                                <td>{s.server.map(|v| format!("{} ({}:{})", v.id, v.socket_host.unwrap_or_default(), v.socket_port.unwrap_or_default()))}</td>
                                <td>{format!("{:?}", s.state)}</td>
                                <td>{short_time(&s.created_at)}</td>
                                <td>{s.pinged_at.map(|t| short_time(&t)).unwrap_or_else(|| "never".into())}</td>
                                <td><button class="danger" on:click=move |_| end(id.clone(), who.clone())>"End"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn PlaysPerDay() -> impl IntoView {
    let session = expect_context::<Session>();
    let game = RwSignal::new(String::new());
    let from = RwSignal::new(utc_day(13.0));
    let to = RwSignal::new(utc_day(0.0));
    let rows = RwSignal::new(Vec::<api::plays_per_day::PlaysPerDayPlaysPerDay>::new());
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let variables = api::plays_per_day::Variables {
            game_id: filled(game.get_untracked()),
            from: from.get_untracked(),
            to: to.get_untracked(),
        };
        run::<api::PlaysPerDay>(session, variables, error, move |data| {
            rows.set(data.plays_per_day)
        });
    };
    load();
    view! {
        <h1>"Plays per day"</h1>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(); }>
            <label>"Game id (empty: every game)" <input name="plays-game" prop:value=move || game.get() on:input=move |ev| game.set(event_target_value(&ev))/></label>
            <label>"From" <input name="plays-from" type="date" prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev))/></label>
            <label>"To" <input name="plays-to" type="date" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev))/></label>
            <button type="submit">"Show"</button>
        </form>
        <ErrorLine error=error/>
        {move || {
            // One bar per day: the plays of every game shown.
            let mut days: BTreeMap<String, i64> = BTreeMap::new();
            for row in rows.get() {
                *days.entry(row.day).or_default() += row.plays;
            }
            let most = days.values().copied().max().unwrap_or(0).max(1);
            let bars = days.iter().enumerate().map(|(i, (day, plays))| {
                let height = plays * 100 / most;
                let x = i * 22;
                view! {
                    <g>
                        <title>{format!("{day}: {plays} plays")}</title>
                        <rect x=x.to_string() y=(110 - height).to_string() width="18" height=height.to_string() class="bar"/>
                        <text x=(x + 9).to_string() y="124" class="tick">{day.get(8..).unwrap_or_default().to_string()}</text>
                    </g>
                }
            }).collect_view();
            // At least two weeks wide, so a few days do not stretch into a wall.
            let width = (days.len().max(14) * 22).to_string();
            view! {
                <section class="card">
                    <h2>"Plays per day (UTC)"</h2>
                    <svg class="chart" id="plays-chart" viewBox=format!("0 0 {width} 130") role="img" aria-label="plays per day">{bars}</svg>
                </section>
            }
        }}
        <div class="scroll">
            <table class="plays">
                <thead><tr><th>"Day"</th><th>"Game"</th><th>"Plays"</th><th>"Players"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|r| view! {
                        <tr>
                            <td>{r.day}</td>
                            <td><A href=format!("/admin/content/{}", r.game_id)>{r.game_id.clone()}</A></td>
                            <td>{r.plays}</td>
                            <td>{r.players}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
