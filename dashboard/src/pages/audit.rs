//! The audit log: filter by actor, action, target and time; paginated.

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, local_to_rfc3339, run, short_time},
};

/// The filter fields, as typed.
#[derive(Clone, Copy)]
pub struct AuditFilters {
    action: RwSignal<String>,
    actor: RwSignal<String>,
    target: RwSignal<String>,
    since: RwSignal<String>,
    until: RwSignal<String>,
}

impl Default for AuditFilters {
    fn default() -> Self {
        Self {
            action: RwSignal::new(String::new()),
            actor: RwSignal::new(String::new()),
            target: RwSignal::new(String::new()),
            since: RwSignal::new(String::new()),
            until: RwSignal::new(String::new()),
        }
    }
}

fn given(value: String) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A page of audit entries under `filters`, with a "more" button.
#[component]
pub fn AuditTable(filters: AuditFilters, page_size: i64) -> impl IntoView {
    let session = expect_context::<Session>();
    let rows = RwSignal::new(Vec::<api::audit::AuditAuditLogEdgesNode>::new());
    let total = RwSignal::new(0_i64);
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<Failure>);
    let load = move |after: Option<String>| {
        let variables = api::audit::Variables {
            action: given(filters.action.get_untracked()),
            actor_id: given(filters.actor.get_untracked()),
            target_id: given(filters.target.get_untracked()),
            since: local_to_rfc3339(&filters.since.get_untracked()),
            until: local_to_rfc3339(&filters.until.get_untracked()),
            first: Some(page_size),
            after: after.clone(),
        };
        run::<api::Audit>(session, variables, error, move |data| {
            let log = data.audit_log;
            total.set(log.total_count);
            next.set(
                log.page_info
                    .end_cursor
                    .filter(|_| log.page_info.has_next_page),
            );
            let nodes = log.edges.into_iter().map(|e| e.node);
            if after.is_some() {
                rows.update(|r| r.extend(nodes));
            } else {
                rows.set(nodes.collect());
            }
        });
    };
    // Reloads from the first page whenever a filter changes.
    Effect::new(move |_| {
        filters.action.track();
        filters.actor.track();
        filters.target.track();
        filters.since.track();
        filters.until.track();
        load(None);
    });
    view! {
        <ErrorLine error=error/>
        <p class="muted">{move || format!("{} entries", total.get())}</p>
        <div class="scroll">
            <table class="audit">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Reason"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|entry| view! {
                        <tr>
                            <td>{short_time(&entry.created_at)}</td>
                            <td>{entry.actor.map(|a| a.username).unwrap_or_else(|| "system".into())}</td>
                            <td class="action">{entry.action}</td>
                            <td>{format!("{} {}", entry.target_type, entry.target_id.unwrap_or_default())}</td>
                            <td>{entry.reason.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <Show when=move || next.with(Option::is_some)>
            <button on:click=move |_| load(next.get_untracked())>"More"</button>
        </Show>
    }
}

#[component]
pub fn AuditLog() -> impl IntoView {
    let filters = AuditFilters::default();
    let field = |label: &'static str,
                 name: &'static str,
                 kind: &'static str,
                 signal: RwSignal<String>| {
        view! {
            <label>{label}
                <input name=name type=kind prop:value=move || signal.get() on:change=move |ev| signal.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <h1>"Audit log"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            {field("Action", "action", "text", filters.action)}
            {field("Actor id", "actor", "text", filters.actor)}
            {field("Target id", "target", "text", filters.target)}
            {field("Since (UTC)", "since", "datetime-local", filters.since)}
            {field("Until (UTC)", "until", "datetime-local", filters.until)}
        </form>
        <AuditTable filters=filters page_size=25/>
    }
}
