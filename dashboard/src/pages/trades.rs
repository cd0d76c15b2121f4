//! Trades (needs `bank.mint`): search every player's trades, and inspect one with its
//! history.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    api::{self, Failure, trades::TradeStatus},
    session::Session,
    widgets::{ErrorLine, run, short_time},
};

const PAGE: i64 = 50;

fn status_of(value: &str) -> Option<TradeStatus> {
    Some(match value {
        "SENT" => TradeStatus::SENT,
        "OPENED" => TradeStatus::OPENED,
        "REJECTED" => TradeStatus::REJECTED,
        "RETURN_TO_SENDER" => TradeStatus::RETURN_TO_SENDER,
        "CONFIRMED" => TradeStatus::CONFIRMED,
        "CANCELLED" => TradeStatus::CANCELLED,
        _ => return None,
    })
}

#[component]
pub fn TradeList() -> impl IntoView {
    let session = expect_context::<Session>();
    let user = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let data = RwSignal::new(None::<api::trades::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        let variables = api::trades::Variables {
            user_id: Some(user.get()).filter(|u| !u.trim().is_empty()),
            status: status_of(&status.get()),
            first: Some(PAGE),
        };
        run::<api::Trades>(session, variables, error, move |found| {
            data.set(Some(found))
        });
    });
    view! {
        <h1>"Trades"</h1>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| ev.prevent_default()>
            <label>"Player id"
                <input name="trade-user" on:change=move |ev| user.set(event_target_value(&ev))/>
            </label>
            <label>"Status"
                <select name="trade-status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"Any"</option>
                    <option value="SENT">"Sent"</option>
                    <option value="OPENED">"Opened"</option>
                    <option value="CONFIRMED">"Confirmed"</option>
                    <option value="REJECTED">"Rejected"</option>
                    <option value="CANCELLED">"Cancelled"</option>
                    <option value="RETURN_TO_SENDER">"Returned to sender"</option>
                </select>
            </label>
        </form>
        <ErrorLine error=error/>
        {move || data.get().map(|d| view! {
            <p class="muted">{format!("{} trades", d.all_trades.total_count)}</p>
            <table class="trades">
                <thead><tr><th>"#"</th><th>"Sent"</th><th>"From"</th><th>"To"</th><th>"Status"</th><th>"Closed"</th></tr></thead>
                <tbody>
                    {d.all_trades.edges.into_iter().map(|e| {
                        let t = e.node;
                        view! {
                            <tr>
                                <td><A href=format!("/admin/trades/{}", t.id)>{format!("Trade {}", t.id)}</A></td>
                                <td>{short_time(&t.created_at)}</td>
                                <td>{t.sender.map(|u| u.username)}</td>
                                <td>{t.recipient.map(|u| u.username)}</td>
                                <td>{format!("{:?}", t.status)}</td>
                                <td>{t.closed_at.as_deref().map(short_time)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

#[component]
pub fn TradePage() -> impl IntoView {
    let session = expect_context::<Session>();
    let params = use_params_map();
    let data = RwSignal::new(None::<api::trade_detail::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        let id = params.with(|p| p.get("id").unwrap_or_default());
        run::<api::TradeDetail>(
            session,
            api::trade_detail::Variables { id },
            error,
            move |found| data.set(Some(found)),
        );
    });
    // What one side gives: its copies and its money, or nothing.
    let side = |items: Vec<(String, Option<i64>)>, money: Option<(i64, String)>| {
        let mut parts: Vec<String> = items
            .into_iter()
            .map(|(name, serial)| match serial {
                Some(serial) => format!("{name} #{serial}"),
                None => name,
            })
            .collect();
        parts.extend(money.map(|(amount, currency)| format!("{amount} {currency}")));
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(", ")
        }
    };
    view! {
        <ErrorLine error=error/>
        {move || data.get().map(|d| {
            let t = d.trade;
            let copies = |items: Vec<api::trade_detail::TradeDetailTradeOfferedItems>| {
                items.into_iter().map(|o| (o.content.map(|c| c.name).unwrap_or_default(), o.serial)).collect::<Vec<_>>()
            };
            let wanted = |items: Vec<api::trade_detail::TradeDetailTradeRequestedItems>| {
                items.into_iter().map(|o| (o.content.map(|c| c.name).unwrap_or_default(), o.serial)).collect::<Vec<_>>()
            };
            let offered = side(
                copies(t.offered_items),
                t.offered_money.map(|m| (m.amount, m.currency.map(|c| c.name).unwrap_or_default())),
            );
            let requested = side(
                wanted(t.requested_items),
                t.requested_money.map(|m| (m.amount, m.currency.map(|c| c.name).unwrap_or_default())),
            );
            view! {
                <h1>{format!("Trade {}", t.id)}</h1>
                <section class="card trade">
                    <p class="terms">{format!(
                        "{} offers {} to {} for {}.",
                        t.sender.map(|u| u.username).unwrap_or_default(),
                        offered,
                        t.recipient.map(|u| u.username).unwrap_or_default(),
                        requested,
                    )}</p>
                    <p class="status">{format!("Status: {:?}", t.status)}{t.reason.map(|r| format!(" ({r})"))}</p>
                    <p class="muted">{format!("Sent {}, expires {}", short_time(&t.created_at), short_time(&t.expires_at))}</p>
                    {t.description.map(|text| view! { <p>{text}</p> })}
                </section>
                <section class="card history">
                    <h2>"History"</h2>
                    <table>
                        <thead><tr><th>"When"</th><th>"Status"</th><th>"By"</th><th>"Reason"</th></tr></thead>
                        <tbody>
                            {t.history.into_iter().map(|step| view! {
                                <tr>
                                    <td>{short_time(&step.created_at)}</td>
                                    <td>{format!("{:?}", step.status)}</td>
                                    <td>{step.actor.map_or_else(|| "Arena".to_owned(), |u| u.username)}</td>
                                    <td>{step.reason.unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }
        })}
    }
}
