//! Users: search, and one user's profile, roles, privileges, sessions and bans.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, confirm, list, local_to_rfc3339, run, short_time},
};

const PAGE: i64 = 20;

#[component]
pub fn UserList() -> impl IntoView {
    let session = expect_context::<Session>();
    let search = RwSignal::new(String::new());
    let page = RwSignal::new(None::<api::users::UsersUsers>);
    let error = RwSignal::new(None::<Failure>);
    let load = move |after: Option<String>, before: Option<String>| {
        let backwards = before.is_some();
        let variables = api::users::Variables {
            search: Some(search.get_untracked()).filter(|s| !s.trim().is_empty()),
            first: (!backwards).then_some(PAGE),
            last: backwards.then_some(PAGE),
            after,
            before,
        };
        run::<api::Users>(session, variables, error, move |data| {
            page.set(Some(data.users));
        });
    };
    Effect::new(move |_| {
        search.track();
        load(None, None);
    });
    view! {
        <h1>"Users"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <label>"Search by name, email or id"
                <input name="search" type="search" prop:value=move || search.get()
                    on:change=move |ev| search.set(event_target_value(&ev))/>
            </label>
        </form>
        <ErrorLine error=error/>
        {move || page.get().map(|users| {
            let info = users.page_info.clone();
            let (prev, next) = (info.start_cursor.clone(), info.end_cursor.clone());
            view! {
                <p class="muted">{format!("{} accounts", users.total_count)}</p>
                <div class="scroll">
                    <table class="users">
                        <thead><tr><th>"Username"</th><th>"Display name"</th><th>"Email"</th><th>"Joined"</th><th>"Last sign-in"</th></tr></thead>
                        <tbody>
                            {users.edges.into_iter().map(|edge| {
                                let user = edge.node;
                                view! {
                                    <tr>
                                        <td><A href=format!("/admin/users/{}", user.id)>{user.username.clone()}</A></td>
                                        <td>{user.display_name}</td>
                                        <td>{user.email.unwrap_or_default()}</td>
                                        <td>{short_time(&user.created_at)}</td>
                                        <td>{user.login_at.map(|t| short_time(&t)).unwrap_or_default()}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <div class="pager">
                    <Show when=move || info.has_previous_page>
                        <button on:click={let prev = prev.clone(); move |_| load(None, prev.clone())}>"Previous"</button>
                    </Show>
                    <Show when=move || info.has_next_page>
                        <button on:click={let next = next.clone(); move |_| load(next.clone(), None)}>"Next"</button>
                    </Show>
                </div>
            }
        })}
    }
}

#[component]
pub fn UserPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = RwSignal::new(None::<api::user_detail::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    let action_error = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<String>);
    let load = move || {
        let variables = api::user_detail::Variables { id: id() };
        run::<api::UserDetail>(session, variables, error, move |data| {
            detail.set(Some(data))
        });
    };
    Effect::new(move |_| load());

    let reason = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let privileges = RwSignal::new(String::new());
    let ban = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = detail
            .with_untracked(|d| {
                d.as_ref()
                    .and_then(|d| d.user.as_ref())
                    .map(|u| u.username.clone())
            })
            .unwrap_or_default();
        if !confirm(&format!("Ban {name}?")) {
            return;
        }
        let only = list(&privileges.get_untracked());
        let variables = api::ban_user::Variables {
            user_id: id(),
            reason: reason.get_untracked(),
            expires_at: local_to_rfc3339(&expires.get_untracked()),
            privileges: (!only.is_empty()).then_some(only),
        };
        run::<api::BanUser>(session, variables, action_error, move |_| {
            notice.set(Some(format!("{name} is banned.")));
            reason.set(String::new());
            load();
        });
    };
    let logout_reason = RwSignal::new(String::new());
    let logout_error = RwSignal::new(None::<Failure>);
    let sign_out_everywhere = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !confirm("Sign this user out on every device?") {
            return;
        }
        let variables = api::logout_user::Variables {
            id: id(),
            reason: logout_reason.get_untracked(),
        };
        run::<api::LogoutUser>(session, variables, logout_error, move |data| {
            notice.set(Some(format!(
                "Signed out of {} sessions.",
                data.logout_user
            )));
            load();
        });
    };
    view! {
        <ErrorLine error=error/>
        <Show when=move || notice.with(Option::is_some)>
            <p class="notice" role="status">{move || notice.get().unwrap_or_default()}</p>
        </Show>
        {move || detail.get().map(|data| match data.user {
            None => view! { <p>"There is no such user."</p> }.into_any(),
            Some(user) => view! {
                <h1>{user.username.clone()}</h1>
                <section class="card">
                    <dl class="profile">
                        <dt>"Id"</dt><dd>{user.id.clone()}</dd>
                        <dt>"Display name"</dt><dd>{user.display_name.clone()}</dd>
                        <dt>"Email"</dt><dd>{user.email.clone().unwrap_or_default()}{if user.verified { " (verified)" } else { "" }}</dd>
                        <dt>"Phone"</dt><dd>{user.phone.clone().unwrap_or_default()}</dd>
                        <dt>"Country, language"</dt><dd>{format!("{} {}", user.country.clone().unwrap_or_default(), user.language)}</dd>
                        <dt>"Joined"</dt><dd>{short_time(&user.created_at)}</dd>
                        <dt>"Last sign-in"</dt><dd>{user.login_at.as_deref().map(short_time).unwrap_or_default()}</dd>
                        <dt>"Two-factor"</dt><dd>{if user.two_factor_enabled == Some(true) { "on" } else { "off" }}</dd>
                        <dt>"Roles"</dt><dd class="roles">{user.roles.clone().unwrap_or_default().join(", ")}</dd>
                        <dt>"Privileges"</dt><dd>{user.privileges.clone().unwrap_or_default().join(", ")}</dd>
                    </dl>
                </section>
                <section class="card">
                    <h2>"Active sessions"</h2>
                    <ul class="sessions">
                        {data.sessions.into_iter().map(|s| view! {
                            <li>{format!("since {}, last refreshed {}, ends {}", short_time(&s.started_at), short_time(&s.last_refreshed_at),
                                s.expires_at.as_deref().map(short_time).unwrap_or_default())}</li>
                        }).collect_view()}
                    </ul>
                </section>
                <section class="card">
                    <h2>"Bans"</h2>
                    <ul class="bans">
                        {data.bans.edges.into_iter().map(|edge| {
                            let b = edge.node;
                            view! {
                                <li class=if b.active { "active" } else { "inactive" }>
                                    {format!("{} — {}{}{}", short_time(&b.created_at), b.reason,
                                        b.expires_at.map(|t| format!(", until {}", short_time(&t))).unwrap_or_default(),
                                        if b.active { "" } else { " (not in force)" })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            }.into_any(),
        })}
        <Show when=move || session.can("user.ban")>
            <section class="card">
                <h2>"Ban this user"</h2>
                <form class="ban" on:submit=ban>
                    <label>"Reason (shown to the user)"
                        <input name="reason" required prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                    </label>
                    <label>"Until (UTC, empty for permanent)"
                        <input name="expires" type="datetime-local" prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev))/>
                    </label>
                    <label>"Only these privileges (comma-separated, empty for a full ban)"
                        <input name="privileges" prop:value=move || privileges.get() on:input=move |ev| privileges.set(event_target_value(&ev))/>
                    </label>
                    <ErrorLine error=action_error/>
                    <button type="submit" class="danger">"Ban"</button>
                </form>
            </section>
        </Show>
        <Show when=move || session.can("bank.mint")>
            <super::bank::UserBank user_id=Signal::derive(id)/>
        </Show>
        <Show when=move || session.can("role.manage")>
            <UserAccess user_id=Signal::derive(id) reload=Callback::new(move |()| load())/>
        </Show>
        <Show when=move || session.can("user.logout")>
            <section class="card">
                <h2>"Sign out everywhere"</h2>
                <form on:submit=sign_out_everywhere>
                    <label>"Reason"
                        <input name="logout-reason" required prop:value=move || logout_reason.get() on:input=move |ev| logout_reason.set(event_target_value(&ev))/>
                    </label>
                    <ErrorLine error=logout_error/>
                    <button type="submit" class="danger">"Sign out everywhere"</button>
                </form>
            </section>
        </Show>
    }
}

/// Assigning roles and direct privileges to one user (needs `role.manage`).
#[component]
fn UserAccess(user_id: Signal<String>, reload: Callback<()>) -> impl IntoView {
    let session = expect_context::<Session>();
    let names = RwSignal::new(None::<api::role_names::ResponseData>);
    let load_error = RwSignal::new(None::<Failure>);
    run::<api::RoleNames>(
        session,
        api::role_names::Variables {},
        load_error,
        move |data| names.set(Some(data)),
    );
    let role = RwSignal::new(String::new());
    let privilege = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let reason_given = move || Some(reason.get_untracked()).filter(|r| !r.trim().is_empty());
    let set_role = move |assign: bool| {
        if !assign && !confirm("Take this role from the user?") {
            return;
        }
        let (user_id, role_id, reason) = (
            user_id.get_untracked(),
            role.get_untracked(),
            reason_given(),
        );
        if assign {
            run::<api::AssignRole>(
                session,
                api::assign_role::Variables {
                    user_id,
                    role_id,
                    reason,
                },
                error,
                move |_| reload.run(()),
            );
        } else {
            run::<api::RemoveRole>(
                session,
                api::remove_role::Variables {
                    user_id,
                    role_id,
                    reason,
                },
                error,
                move |_| reload.run(()),
            );
        }
    };
    let set_privilege = move |grant: bool| {
        if !grant && !confirm("Revoke this privilege from the user?") {
            return;
        }
        let (user_id, privilege, reason) = (
            Some(user_id.get_untracked()),
            privilege.get_untracked(),
            reason_given(),
        );
        if grant {
            run::<api::GrantPrivilege>(
                session,
                api::grant_privilege::Variables {
                    privilege,
                    role_id: None,
                    user_id,
                    reason,
                },
                error,
                move |_| reload.run(()),
            );
        } else {
            run::<api::RevokePrivilege>(
                session,
                api::revoke_privilege::Variables {
                    privilege,
                    role_id: None,
                    user_id,
                    reason,
                },
                error,
                move |_| reload.run(()),
            );
        }
    };
    view! {
        <section class="card">
            <h2>"Roles and direct privileges"</h2>
            <ErrorLine error=load_error/>
            <form class="access" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
                <label>"Role"
                    <select name="user-role" on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="">"—"</option>
                        {move || names.get().map(|n| n.roles.into_iter().map(|r| view! { <option value=r.id>{r.name}</option> }).collect_view())}
                    </select>
                </label>
                <button type="button" on:click=move |_| set_role(true)>"Assign role"</button>
                <button type="button" class="danger" on:click=move |_| set_role(false)>"Remove role"</button>
                <label>"Privilege"
                    <select name="user-privilege" on:change=move |ev| privilege.set(event_target_value(&ev))>
                        <option value="">"—"</option>
                        {move || names.get().map(|n| n.privileges.into_iter().map(|p| { let label = p.clone(); view! { <option value=p>{label}</option> } }).collect_view())}
                    </select>
                </label>
                <button type="button" on:click=move |_| set_privilege(true)>"Grant privilege"</button>
                <button type="button" class="danger" on:click=move |_| set_privilege(false)>"Revoke privilege"</button>
                <label>"Reason" <input name="access-reason" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/></label>
                <ErrorLine error=error/>
            </form>
        </section>
    }
}
