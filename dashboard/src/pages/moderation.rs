//! The moderation queue and the reports: claim the next item, look at the revision, its live
//! text, thumbnails and reports, and decide it with a reason and, for a rejection, a ban.

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, confirm, run, short_time},
};

type Claimed = api::claim_moderation::QueueItem;

/// The claimed item and the form that decides it.
#[component]
fn ClaimedItem(item: Claimed, done: Callback<String>) -> impl IntoView {
    use api::decide_moderation::{
        DecideModerationInput, ModerationRejection, ModerationVerdict, PenaltyInput,
    };
    let session = expect_context::<Session>();
    let decision = RwSignal::new("APPROVE".to_owned());
    let reason = RwSignal::new("TOS".to_owned());
    let description = RwSignal::new(String::new());
    let penalty = RwSignal::new(false);
    let delete_files = RwSignal::new(false);
    let penalty_reason = RwSignal::new(String::new());
    let penalty_days = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let id = item.id.clone();
    let decide = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let verdict = match decision.get_untracked().as_str() {
                "REJECT" => ModerationVerdict::REJECT,
                "FORWARD" => ModerationVerdict::FORWARD,
                _ => ModerationVerdict::APPROVE,
            };
            let rejecting = verdict == ModerationVerdict::REJECT;
            let rejection_reason = rejecting.then(|| match reason.get_untracked().as_str() {
                "ILLEGAL" => ModerationRejection::ILLEGAL,
                "DMCA" => ModerationRejection::DMCA,
                "OTHER" => ModerationRejection::OTHER,
                _ => ModerationRejection::TOS,
            });
            let penalty = (rejecting && penalty.get_untracked()).then(|| PenaltyInput {
                reason: penalty_reason.get_untracked(),
                days: penalty_days.get_untracked().trim().parse().ok(),
            });
            let delete_assets = rejecting && delete_files.get_untracked();
            if penalty.is_some() && !confirm("Reject and ban the creator?") {
                return;
            }
            if delete_assets && !confirm("Reject and delete the revision's files for good?") {
                return;
            }
            let text = description.get_untracked();
            let input = DecideModerationInput {
                item_id: id.clone(),
                decision: verdict,
                rejection_reason,
                description: Some(text).filter(|t| !t.trim().is_empty()),
                penalty,
                delete_assets,
            };
            let verdict_name = decision.get_untracked();
            run::<api::DecideModeration>(
                session,
                api::decide_moderation::Variables { input },
                error,
                move |data| {
                    let bans = data.decide_moderation.ban_ids.len();
                    let banned = if bans > 0 { ", creator banned" } else { "" };
                    let deleted = if data.decide_moderation.asset_delete {
                        ", files deleted"
                    } else {
                        ""
                    };
                    done.run(format!(
                        "Decided: {}{banned}{deleted}.",
                        verdict_name.to_lowercase()
                    ));
                },
            );
        }
    };
    let release = move |_| {
        let id = id.clone();
        run::<api::ReleaseModeration>(
            session,
            api::release_moderation::Variables { item_id: id },
            error,
            move |_| done.run("Given back to the queue.".to_owned()),
        );
    };
    let content = item.content.clone();
    let live = content.as_ref().and_then(|c| c.live_revision.clone());
    let thumbnails = content
        .as_ref()
        .map(|c| c.thumbnails.clone())
        .unwrap_or_default();
    let revision = item.revision.clone();
    let files = revision
        .as_ref()
        .map(|r| r.assets.clone())
        .unwrap_or_default();
    view! {
        <section class="card claimed">
            <h2>{content.as_ref().map(|c| format!("{} ({:?})", c.name, c.type_)).unwrap_or_default()}</h2>
            <p class="muted">
                {format!(
                    "by {} · {} reports · due {}",
                    content.as_ref().and_then(|c| c.creator.as_ref()).map(|u| u.username.clone()).unwrap_or_else(|| "a deleted account".into()),
                    item.report_count,
                    short_time(&item.due_at),
                )}
                {item.overdue.then(|| view! { <strong class="overdue">" overdue"</strong> })}
                {item.forwarded.then(|| view! { <strong>" forwarded to admins"</strong> })}
            </p>
            {revision.map(|r| view! {
                <h3>{format!("Revision {} ({:?})", r.id, r.status)}</h3>
                <p class="revision-name"><strong>{r.name}</strong></p>
                <pre class="revision-text">{r.description}</pre>
            })}
            {live.map(|l| view! {
                <h3>"Live now"</h3>
                <p><strong>{l.name}</strong></p>
                <pre>{l.description}</pre>
            })}
            <h3>"Files of this revision"</h3>
            <ul class="files">
                {if files.is_empty() {
                    view! { <li class="muted">"none"</li> }.into_any()
                } else {
                    files.into_iter().map(|f| {
                        let Some(asset) = f.asset else {
                            return view! { <li class="muted">"a file no longer stored"</li> }.into_any();
                        };
                        let label = format!(
                            "{:?} {} · {} · {}",
                            f.type_,
                            f.type_name.unwrap_or_default(),
                            asset.original_name.unwrap_or_default(),
                            asset.mime_type,
                        );
                        let thumbnail = asset.thumbnails.iter().find(|t| t.mime_type == "image/png").and_then(|t| t.url.clone());
                        let render = asset.render.map(|r| match r.reason {
                            Some(reason) => format!("render {:?}: {reason}", r.status),
                            None => format!("render {:?}", r.status),
                        });
                        view! {
                            <li>
                                {thumbnail.map(|src| view! { <img class="thumb" src=src alt=label.clone()/> })}
                                <span>{label.clone()}</span>
                                {render.map(|r| view! { <span class="muted">{format!(" ({r})")}</span> })}
                                {asset.url.map(|url| view! { " " <a href=url target="_blank" rel="noopener">"open"</a> })}
                            </li>
                        }.into_any()
                    }).collect_view().into_any()
                }}
            </ul>
            <h3>"Thumbnails"</h3>
            <ul class="thumbnails">
                {if thumbnails.is_empty() {
                    view! { <li class="muted">"none"</li> }.into_any()
                } else {
                    thumbnails.into_iter().map(|t| view! {
                        <li>{format!("{} ({})", t.other.name, t.relation_name.unwrap_or_default())}</li>
                    }).collect_view().into_any()
                }}
            </ul>
            <h3>"Reports"</h3>
            <ul class="reports">
                {item.reports.into_iter().map(|r| view! {
                    <li>{format!(
                        "{:?} by {}: {}",
                        r.reason,
                        r.reporter.map(|u| u.username).unwrap_or_default(),
                        r.description
                    )}</li>
                }).collect_view()}
            </ul>
            <form class="decide" on:submit=decide>
                <label>"Decision"
                    <select name="decision" on:change=move |ev| decision.set(event_target_value(&ev))>
                        <option value="APPROVE" selected>"Approve"</option>
                        <option value="REJECT">"Reject"</option>
                        <option value="FORWARD">"Forward to admins"</option>
                    </select>
                </label>
                <Show when=move || decision.get() == "REJECT">
                    <label>"Rejection reason"
                        <select name="rejection-reason" on:change=move |ev| reason.set(event_target_value(&ev))>
                            <option value="TOS" selected>"Terms of service"</option>
                            <option value="ILLEGAL">"Illegal"</option>
                            <option value="DMCA">"Copyright (DMCA)"</option>
                            <option value="OTHER">"Other"</option>
                        </select>
                    </label>
                    <label class="check">
                        <input type="checkbox" name="penalty" on:change=move |ev| penalty.set(event_target_checked(&ev))/>
                        "Ban the creator"
                    </label>
                    <label class="check">
                        <input type="checkbox" name="delete-assets" on:change=move |ev| delete_files.set(event_target_checked(&ev))/>
                        "Delete its files"
                    </label>
                    <Show when=move || penalty.get()>
                        <label>"Ban reason" <input name="penalty-reason" on:input=move |ev| penalty_reason.set(event_target_value(&ev))/></label>
                        <label>"Days (empty for permanent)" <input name="penalty-days" type="number" min="1" on:input=move |ev| penalty_days.set(event_target_value(&ev))/></label>
                    </Show>
                </Show>
                <label>"Note" <textarea name="description" on:input=move |ev| description.set(event_target_value(&ev))></textarea></label>
                <ErrorLine error=error/>
                <button type="submit">"Decide"</button>
                <button type="button" class="link" on:click=release>"Give back"</button>
            </form>
        </section>
    }
}

#[component]
pub fn ModerationQueue() -> impl IntoView {
    let session = expect_context::<Session>();
    let rows = RwSignal::new(Vec::<api::moderation_queue::QueueItem>::new());
    let total = RwSignal::new(0_i64);
    let error = RwSignal::new(None::<Failure>);
    let claimed = RwSignal::new(None::<Claimed>);
    let message = RwSignal::new(String::new());
    let load = move || {
        let variables = api::moderation_queue::Variables { first: Some(100) };
        run::<api::ModerationQueue>(session, variables, error, move |data| {
            total.set(data.moderation_queue.total_count);
            rows.set(
                data.moderation_queue
                    .edges
                    .into_iter()
                    .map(|e| e.node)
                    .collect(),
            );
        });
    };
    load();
    let claim = move |_| {
        run::<api::ClaimModeration>(
            session,
            api::claim_moderation::Variables {},
            error,
            move |data| {
                message.set(if data.claim_moderation.is_some() {
                    String::new()
                } else {
                    "Nothing waits for you.".to_owned()
                });
                claimed.set(data.claim_moderation);
                load();
            },
        );
    };
    let done = Callback::new(move |said: String| {
        claimed.set(None);
        message.set(said);
        load();
    });
    view! {
        <h1>"Moderation queue"</h1>
        <p class="muted"><span id="queue-count">{move || total.get()}</span>" items waiting"</p>
        <ErrorLine error=error/>
        <p class="message">{move || message.get()}</p>
        <Show when=move || claimed.with(Option::is_none)>
            <button id="claim" on:click=claim>"Claim next"</button>
        </Show>
        {move || claimed.get().map(|item| view! { <ClaimedItem item=item done=done/> })}
        <div class="scroll">
            <table class="queue">
                <thead><tr><th>"Item"</th><th>"Creator"</th><th>"Revision"</th><th>"Reports"</th><th>"Due"</th><th>"Held by"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|item| {
                        let content = item.content.clone();
                        view! {
                            <tr class=if item.overdue { "overdue" } else { "" }>
                                <td>{content.as_ref().map(|c| c.name.clone()).unwrap_or_default()}</td>
                                <td>{content.and_then(|c| c.creator).map(|u| u.username).unwrap_or_default()}</td>
                                <td>{item.revision.map(|r| format!("{:?}", r.status)).unwrap_or_default()}</td>
                                <td>{item.report_count}</td>
                                <td>{format!("{}{}", short_time(&item.due_at), if item.overdue { " (overdue)" } else { "" })}</td>
                                <td>{item.moderator.filter(|_| item.claimed_until.is_some()).map(|u| u.username).unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn ReportList() -> impl IntoView {
    use api::content_reports::ContentReportStatus;
    let session = expect_context::<Session>();
    let status = RwSignal::new("OPEN".to_owned());
    let rows = RwSignal::new(Vec::<
        api::content_reports::ContentReportsContentReportsEdgesNode,
    >::new());
    let total = RwSignal::new(0_i64);
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        let wanted = match status.get().as_str() {
            "OPEN" => Some(ContentReportStatus::OPEN),
            "RESOLVED" => Some(ContentReportStatus::RESOLVED),
            "INVALID" => Some(ContentReportStatus::INVALID),
            "CLOSED" => Some(ContentReportStatus::CLOSED),
            _ => None,
        };
        let variables = api::content_reports::Variables {
            status: wanted,
            first: Some(100),
            after: None,
        };
        run::<api::ContentReports>(session, variables, error, move |data| {
            total.set(data.content_reports.total_count);
            rows.set(
                data.content_reports
                    .edges
                    .into_iter()
                    .map(|e| e.node)
                    .collect(),
            );
        });
    });
    view! {
        <h1>"Reports"</h1>
        <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <label>"Show"
                <select name="status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="OPEN" selected>"Open"</option>
                    <option value="RESOLVED">"Resolved (rejected)"</option>
                    <option value="INVALID">"Invalid (approved)"</option>
                    <option value="CLOSED">"Closed"</option>
                    <option value="ALL">"All"</option>
                </select>
            </label>
        </form>
        <ErrorLine error=error/>
        <p class="muted">{move || format!("{} reports", total.get())}</p>
        <div class="scroll">
            <table class="reports">
                <thead><tr><th>"Filed"</th><th>"Item"</th><th>"Reason"</th><th>"Says"</th><th>"By"</th><th>"Status"</th><th>"Notes"</th></tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|r| view! {
                        <tr>
                            <td>{short_time(&r.created_at)}</td>
                            <td>{r.content.map(|c| c.name).unwrap_or_default()}</td>
                            <td>{format!("{:?}", r.reason)}</td>
                            <td>{r.description}</td>
                            <td>{r.reporter.map(|u| u.username).unwrap_or_default()}</td>
                            <td>{format!("{:?}", r.status)}</td>
                            <td>{r.notes.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
