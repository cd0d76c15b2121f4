//! The economy (needs `bank.mint`): currencies with their books, conversion rules, and the
//! store's items on sale with prices and copies sold.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, confirm, local_to_rfc3339, run, short_time},
};

#[component]
pub fn Economy() -> impl IntoView {
    view! {
        <h1>"Economy"</h1>
        <Currencies/>
        <Store/>
    }
}

/// Currencies, their totals, and the conversion rules between them.
#[component]
fn Currencies() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<api::economy::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        run::<api::Economy>(session, api::economy::Variables {}, error, move |found| {
            data.set(Some(found))
        });
    };
    load();

    let rename_error = RwSignal::new(None::<Failure>);
    let rename = move |id: String, old: String| {
        let name = web_sys::window()
            .and_then(|w| {
                w.prompt_with_message_and_default(&format!("New name for {old}"), &old)
                    .ok()
                    .flatten()
            })
            .unwrap_or_default();
        if name.trim().is_empty() || name == old {
            return;
        }
        let variables = api::rename_currency::Variables { id, name };
        run::<api::RenameCurrency>(session, variables, rename_error, move |_| load());
    };

    let source = RwSignal::new(String::new());
    let destination = RwSignal::new(String::new());
    let ratio = RwSignal::new(String::new());
    let volume = RwSignal::new(String::new());
    let valid_to = RwSignal::new(String::new());
    let rule_error = RwSignal::new(None::<Failure>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(ratio_value) = ratio.get_untracked().trim().parse::<i64>() else {
            rule_error.set(Some(Failure::local("The ratio is a whole number.")));
            return;
        };
        let volume_value = match volume.get_untracked().trim() {
            "" => None,
            given => match given.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    rule_error.set(Some(Failure::local("The volume is a whole number.")));
                    return;
                }
            },
        };
        let input = api::create_conversion::ConversionInput {
            source_id: source.get_untracked(),
            destination_id: destination.get_untracked(),
            ratio: ratio_value,
            volume: volume_value,
            valid_from: None,
            valid_to: local_to_rfc3339(&valid_to.get_untracked()),
        };
        run::<api::CreateConversion>(
            session,
            api::create_conversion::Variables { input },
            rule_error,
            move |_| {
                ratio.set(String::new());
                volume.set(String::new());
                valid_to.set(String::new());
                load();
            },
        );
    };
    let end = move |id: String| {
        if !confirm(&format!("End conversion rule {id} now?")) {
            return;
        }
        run::<api::EndConversion>(
            session,
            api::end_conversion::Variables { id },
            rule_error,
            move |_| load(),
        );
    };
    let options = move || {
        data.get()
            .map(|d| {
                d.currencies
                    .into_iter()
                    .map(|c| view! { <option value=c.id.clone()>{c.name.clone()}</option> })
                    .collect_view()
            })
            .unwrap_or_default()
    };

    view! {
        <section class="card currencies">
            <h2>"Currencies"</h2>
            <ErrorLine error=error/>
            <ErrorLine error=rename_error/>
            <table>
                <thead><tr><th>"Currency"</th><th>"Type"</th><th>"Circulating"</th><th>"Held"</th><th>"Minted"</th><th>"Burned"</th><th>"Books"</th><th></th></tr></thead>
                <tbody>
                    {move || data.get().map(|d| d.currencies.into_iter().map(|c| {
                        let totals = d.currency_totals.iter().find(|t| t.currency.id == c.id).cloned();
                        let (id, name) = (c.id.clone(), c.name.clone());
                        view! {
                            <tr>
                                <td class="name">{c.name.clone()}</td>
                                <td>{format!("{:?}", c.type_)}</td>
                                <td>{totals.as_ref().map(|t| t.circulating.to_string())}</td>
                                <td>{totals.as_ref().map(|t| t.held.to_string())}</td>
                                <td>{totals.as_ref().map(|t| t.minted.to_string())}</td>
                                <td>{totals.as_ref().map(|t| t.burned.to_string())}</td>
                                <td>{totals.as_ref().map(|t| if t.balanced { "balanced" } else { "OUT OF BALANCE" })}</td>
                                <td><button type="button" class="link" name=format!("rename-{id}") on:click=move |_| rename(id.clone(), name.clone())>"Rename…"</button></td>
                            </tr>
                        }
                    }).collect_view())}
                </tbody>
            </table>
        </section>
        <section class="card conversions">
            <h2>"Conversions"</h2>
            <table>
                <thead><tr><th>"#"</th><th>"From"</th><th>"To"</th><th>"Ratio"</th><th>"Volume"</th><th>"From"</th><th>"Until"</th><th></th></tr></thead>
                <tbody>
                    {move || data.get().map(|d| d.conversions.into_iter().map(|c| {
                        let id = c.id.clone();
                        let ended = c.valid_to.is_some();
                        view! {
                            <tr>
                                <td>{c.id.clone()}</td>
                                <td>{c.source.map(|s| s.name)}</td>
                                <td>{c.destination.map(|s| s.name)}</td>
                                <td>{c.ratio}</td>
                                <td>{c.volume.map_or_else(|| "unlimited".to_owned(), |v| v.to_string())}</td>
                                <td>{short_time(&c.valid_from)}</td>
                                <td>{c.valid_to.as_deref().map_or_else(|| "open".to_owned(), short_time)}</td>
                                <td>{(!ended).then(|| view! {
                                    <button type="button" class="link danger" name=format!("end-{id}") on:click=move |_| end(id.clone())>"End now"</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view())}
                </tbody>
            </table>
            <form class="conversion" on:submit=create>
                <label>"From"
                    <select name="source" required on:change=move |ev| source.set(event_target_value(&ev))>
                        <option value="">"—"</option>{options}
                    </select>
                </label>
                <label>"To"
                    <select name="destination" required on:change=move |ev| destination.set(event_target_value(&ev))>
                        <option value="">"—"</option>{options}
                    </select>
                </label>
                <label>"Ratio (units per unit)"
                    <input name="ratio" inputmode="numeric" required prop:value=move || ratio.get() on:input=move |ev| ratio.set(event_target_value(&ev))/>
                </label>
                <label>"Volume (empty: unlimited)"
                    <input name="volume" inputmode="numeric" prop:value=move || volume.get() on:input=move |ev| volume.set(event_target_value(&ev))/>
                </label>
                <label>"Until (UTC, empty: open)"
                    <input name="valid-to" type="datetime-local" prop:value=move || valid_to.get() on:input=move |ev| valid_to.set(event_target_value(&ev))/>
                </label>
                <ErrorLine error=rule_error/>
                <button type="submit">"Add rule"</button>
            </form>
        </section>
    }
}

/// Items on sale: prices, stock and copies sold.
#[component]
fn Store() -> impl IntoView {
    let session = expect_context::<Session>();
    let text = RwSignal::new(String::new());
    let data = RwSignal::new(None::<api::store_items::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    Effect::new(move |_| {
        let variables = api::store_items::Variables {
            text: Some(text.get()).filter(|t| !t.trim().is_empty()),
            first: Some(100),
        };
        run::<api::StoreItems>(session, variables, error, move |found| {
            data.set(Some(found))
        });
    });
    view! {
        <section class="card store">
            <h2>"Store"</h2>
            <label>"Search"
                <input name="store-text" type="search" on:change=move |ev| text.set(event_target_value(&ev))/>
            </label>
            <ErrorLine error=error/>
            {move || data.get().map(|d| view! {
                <p class="muted">{format!("{} items on sale", d.contents.total_count)}</p>
                <table>
                    <thead><tr><th>"Item"</th><th>"Type"</th><th>"Creator"</th><th>"Prices"</th><th>"Stock"</th><th>"Sold"</th></tr></thead>
                    <tbody>
                        {d.contents.edges.into_iter().map(|e| {
                            let item = e.node;
                            let prices = if item.prices.is_empty() {
                                "free".to_owned()
                            } else {
                                item.prices.iter().map(|p| format!("{} {:?}", p.price, p.currency)).collect::<Vec<_>>().join(" · ")
                            };
                            view! {
                                <tr>
                                    <td><A href=format!("/admin/content/{}", item.id)>{item.name.clone()}</A>{(!item.published).then_some(" (unpublished)")}</td>
                                    <td>{format!("{:?}", item.type_)}</td>
                                    <td>{item.creator.map(|c| c.username)}</td>
                                    <td>{prices}</td>
                                    <td>{item.stock.map_or_else(|| "unlimited".to_owned(), |s| s.to_string())}</td>
                                    <td class="sold">{item.sold}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}
