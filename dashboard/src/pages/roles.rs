//! Roles and privileges: the tree, creating and moving roles, granting and revoking.

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, confirm, run},
};

type Role = api::roles::RolesRoles;

/// Roles in tree order with their depth.
fn tree_order(roles: &[Role]) -> Vec<(usize, Role)> {
    fn walk(roles: &[Role], parent: Option<&str>, depth: usize, out: &mut Vec<(usize, Role)>) {
        for role in roles
            .iter()
            .filter(|r| r.parent.as_ref().map(|p| p.id.as_str()) == parent)
        {
            out.push((depth, role.clone()));
            walk(roles, Some(&role.id), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(roles, None, 0, &mut out);
    out
}

#[component]
pub fn RoleTree() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<api::roles::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        run::<api::Roles>(session, api::roles::Variables {}, error, move |fresh| {
            data.set(Some(fresh))
        });
    };
    Effect::new(move |_| load());
    let roles = move || data.with(|d| d.as_ref().map(|d| d.roles.clone()).unwrap_or_default());
    let privileges =
        move || data.with(|d| d.as_ref().map(|d| d.privileges.clone()).unwrap_or_default());
    let options = move || {
        roles()
            .into_iter()
            .map(|r| view! { <option value=r.id.clone()>{r.name}</option> })
            .collect_view()
    };

    let name = RwSignal::new(String::new());
    let parent = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let create_error = RwSignal::new(None::<Failure>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let variables = api::create_role::Variables {
            name: name.get_untracked(),
            parent_id: Some(parent.get_untracked()).filter(|p| !p.is_empty()),
            reason: Some(reason.get_untracked()).filter(|r| !r.is_empty()),
        };
        run::<api::CreateRole>(session, variables, create_error, move |_| {
            name.set(String::new());
            load();
        });
    };

    let moving = RwSignal::new(String::new());
    let new_parent = RwSignal::new(String::new());
    let move_reason = RwSignal::new(String::new());
    let move_error = RwSignal::new(None::<Failure>);
    let move_role = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !confirm("Move this role? Its holders gain or lose what the new parent holds.") {
            return;
        }
        let variables = api::move_role::Variables {
            id: moving.get_untracked(),
            parent_id: Some(new_parent.get_untracked()).filter(|p| !p.is_empty()),
            reason: Some(move_reason.get_untracked()).filter(|r| !r.is_empty()),
        };
        run::<api::MoveRole>(session, variables, move_error, move |_| {
            load();
        });
    };

    let grant_role = RwSignal::new(String::new());
    let grant_privilege = RwSignal::new(String::new());
    let grant_reason = RwSignal::new(String::new());
    let grant_error = RwSignal::new(None::<Failure>);
    let change = move |grant: bool| {
        if !grant && !confirm("Revoke this privilege from the role?") {
            return;
        }
        let (role, privilege, reason) = (
            grant_role.get_untracked(),
            grant_privilege.get_untracked(),
            grant_reason.get_untracked(),
        );
        let reason = Some(reason).filter(|r| !r.is_empty());
        leptos::task::spawn_local(async move {
            let result = if grant {
                api::call::<api::GrantPrivilege>(
                    session,
                    api::grant_privilege::Variables {
                        privilege,
                        role_id: Some(role),
                        user_id: None,
                        reason,
                    },
                )
                .await
                .map(|_| ())
            } else {
                api::call::<api::RevokePrivilege>(
                    session,
                    api::revoke_privilege::Variables {
                        privilege,
                        role_id: Some(role),
                        user_id: None,
                        reason,
                    },
                )
                .await
                .map(|_| ())
            };
            match result {
                Ok(()) => {
                    grant_error.set(None);
                    load();
                }
                Err(failure) => grant_error.set(Some(failure)),
            }
        });
    };

    view! {
        <h1>"Roles and privileges"</h1>
        <ErrorLine error=error/>
        <section class="card">
            <ul class="tree">
                {move || tree_order(&roles()).into_iter().map(|(depth, role)| view! {
                    <li style=format!("margin-left: {}rem", depth * 2)>
                        <strong class="role-name">{role.name}</strong>
                        <span class="muted">{format!(" — own: {}", if role.privileges.is_empty() { "none".into() } else { role.privileges.join(", ") })}</span>
                        <div class="muted small">{format!("effective: {}", role.effective_privileges.join(", "))}</div>
                    </li>
                }).collect_view()}
            </ul>
        </section>
        <div class="grid">
            <section class="card">
                <h2>"Create a role"</h2>
                <form on:submit=create>
                    <label>"Name" <input name="role-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                    <label>"Under" <select name="role-parent" on:change=move |ev| parent.set(event_target_value(&ev))><option value="">"(root)"</option>{options}</select></label>
                    <label>"Reason" <input name="role-reason" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/></label>
                    <ErrorLine error=create_error/>
                    <button type="submit">"Create"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Move a role"</h2>
                <form on:submit=move_role>
                    <label>"Role" <select name="move-role" required on:change=move |ev| moving.set(event_target_value(&ev))><option value="">"—"</option>{options}</select></label>
                    <label>"New parent" <select name="move-parent" on:change=move |ev| new_parent.set(event_target_value(&ev))><option value="">"(root)"</option>{options}</select></label>
                    <label>"Reason" <input name="move-reason" prop:value=move || move_reason.get() on:input=move |ev| move_reason.set(event_target_value(&ev))/></label>
                    <ErrorLine error=move_error/>
                    <button type="submit">"Move"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Grant or revoke a privilege"</h2>
                <form on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
                    <label>"Role" <select name="grant-role" on:change=move |ev| grant_role.set(event_target_value(&ev))><option value="">"—"</option>{options}</select></label>
                    <label>"Privilege" <select name="grant-privilege" on:change=move |ev| grant_privilege.set(event_target_value(&ev))>
                        <option value="">"—"</option>
                        {move || privileges().into_iter().map(|p| { let label = p.clone(); view! { <option value=p>{label}</option> } }).collect_view()}
                    </select></label>
                    <label>"Reason" <input name="grant-reason" prop:value=move || grant_reason.get() on:input=move |ev| grant_reason.set(event_target_value(&ev))/></label>
                    <ErrorLine error=grant_error/>
                    <button type="button" on:click=move |_| change(true)>"Grant"</button>
                    <button type="button" class="danger" on:click=move |_| change(false)>"Revoke"</button>
                </form>
            </section>
        </div>
    }
}
