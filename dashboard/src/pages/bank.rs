//! One player's money: balances, ledger, mints, burns and refunds (needs `bank.mint`).

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, confirm, run, short_time},
};

/// The bank card of a user's page.
#[component]
pub fn UserBank(user_id: Signal<String>) -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<api::user_bank::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        let variables = api::user_bank::Variables {
            user_id: user_id.get_untracked(),
        };
        run::<api::UserBank>(session, variables, error, move |found| {
            data.set(Some(found))
        });
    };
    Effect::new(move |_| {
        user_id.track();
        load();
    });
    let refund_id = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let refund_error = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<String>);
    let refund = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = refund_id.get_untracked();
        if !confirm(&format!("Refund transaction {id}?")) {
            return;
        }
        let variables = api::refund::Variables {
            transaction_id: id.clone(),
            reason: reason.get_untracked(),
        };
        run::<api::Refund>(session, variables, refund_error, move |done| {
            notice.set(Some(format!(
                "Refunded transaction {id} by transaction {}.",
                done.refund.transaction.id
            )));
            refund_id.set(String::new());
            reason.set(String::new());
            load();
        });
    };
    // One key per intended issue: a double submit applies once; a success draws a new one.
    let issue_key = RwSignal::new(fresh_key());
    let issue_currency = RwSignal::new(String::new());
    let issue_amount = RwSignal::new(String::new());
    let issue_reason = RwSignal::new(String::new());
    let issue_error = RwSignal::new(None::<Failure>);
    let issue = move |burn: bool| {
        let Ok(amount) = issue_amount.get_untracked().trim().parse::<i64>() else {
            issue_error.set(Some(Failure::local("The amount is a whole number.")));
            return;
        };
        let currency_id = match issue_currency.get_untracked() {
            picked if !picked.is_empty() => picked,
            _ => match data.with_untracked(|d| {
                d.as_ref()
                    .and_then(|d| d.balances.first().map(|b| b.currency.id.clone()))
            }) {
                Some(first) => first,
                None => return,
            },
        };
        let verb = if burn { "Burn" } else { "Mint" };
        if !confirm(&format!("{verb} {amount}?")) {
            return;
        }
        let input = api::mint::IssueInput {
            user_id: user_id.get_untracked(),
            currency_id,
            amount,
            reason: issue_reason.get_untracked(),
            idempotency_key: issue_key.get_untracked(),
        };
        let done = move |id: String| {
            notice.set(Some(format!("{verb}ed {amount} by transaction {id}.")));
            issue_key.set(fresh_key());
            issue_amount.set(String::new());
            issue_reason.set(String::new());
            load();
        };
        if burn {
            let input = api::burn::IssueInput {
                user_id: input.user_id,
                currency_id: input.currency_id,
                amount: input.amount,
                reason: input.reason,
                idempotency_key: input.idempotency_key,
            };
            run::<api::Burn>(
                session,
                api::burn::Variables { input },
                issue_error,
                move |r| done(r.burn.transaction.id),
            );
        } else {
            run::<api::Mint>(
                session,
                api::mint::Variables { input },
                issue_error,
                move |r| done(r.mint.transaction.id),
            );
        }
    };
    view! {
        <section class="card bank">
            <h2>"Bank"</h2>
            <ErrorLine error=error/>
            {move || data.get().map(|d| view! {
                <p class="balances">
                    {d.balances.into_iter().map(|b| format!("{}: {}", b.currency.name, b.amount)).collect::<Vec<_>>().join(" · ")}
                </p>
                <p class="muted">{format!("{} transactions", d.ledger.total_count)}</p>
                <div class="scroll">
                    <table class="ledger">
                        <thead><tr><th>"#"</th><th>"When"</th><th>"Kind"</th><th>"Amount"</th><th>"From"</th><th>"To"</th><th>"Note"</th><th></th></tr></thead>
                        <tbody>
                            {d.ledger.edges.into_iter().map(|e| {
                                let t = e.node;
                                let id = t.id.clone();
                                let refundable = t.kind != api::user_bank::TransactionType::REFUND;
                                view! {
                                    <tr>
                                        <td>{t.id.clone()}</td>
                                        <td>{short_time(&t.created_at)}</td>
                                        <td>{format!("{:?}", t.kind)}</td>
                                        <td>{format!("{} {}", t.amount, t.currency.map(|c| c.name).unwrap_or_default())}</td>
                                        <td>{t.payer.map(|u| u.username).unwrap_or_else(|| "platform".into())}</td>
                                        <td>{t.recipient.map(|u| u.username).unwrap_or_else(|| "platform".into())}</td>
                                        <td>{t.description.unwrap_or_default()}{t.previous_transaction_id.map(|p| format!(" (undoes {p})"))}</td>
                                        <td>{refundable.then(|| view! {
                                            <button type="button" class="link" on:click=move |_| refund_id.set(id.clone())>"Refund…"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            <Show when=move || notice.with(Option::is_some)>
                <p class="notice">{move || notice.get().unwrap_or_default()}</p>
            </Show>
            <form class="issue" on:submit=move |ev: leptos::ev::SubmitEvent| ev.prevent_default()>
                <label>"Currency"
                    <select name="issue-currency" on:change=move |ev| issue_currency.set(event_target_value(&ev))>
                        {move || data.get().map(|d| d.balances.into_iter().map(|b| view! {
                            <option value=b.currency.id.clone()>{b.currency.name.clone()}</option>
                        }).collect_view())}
                    </select>
                </label>
                <label>"Amount"
                    <input name="issue-amount" inputmode="numeric" required prop:value=move || issue_amount.get() on:input=move |ev| issue_amount.set(event_target_value(&ev))/>
                </label>
                <label>"Reason (kept in the audit log)"
                    <input name="issue-reason" required prop:value=move || issue_reason.get() on:input=move |ev| issue_reason.set(event_target_value(&ev))/>
                </label>
                <ErrorLine error=issue_error/>
                <button type="button" name="mint" on:click=move |_| issue(false)>"Mint"</button>
                <button type="button" name="burn" class="danger" on:click=move |_| issue(true)>"Burn"</button>
            </form>
            <form class="refund" on:submit=refund>
                <label>"Transaction"
                    <input name="refund-id" required prop:value=move || refund_id.get() on:input=move |ev| refund_id.set(event_target_value(&ev))/>
                </label>
                <label>"Reason (kept in the audit log)"
                    <input name="refund-reason" required prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                </label>
                <ErrorLine error=refund_error/>
                <button type="submit" class="danger">"Refund"</button>
            </form>
        </section>
    }
}

/// A new idempotency key for one action from this page.
fn fresh_key() -> String {
    format!(
        "dashboard-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e9) as u64
    )
}
