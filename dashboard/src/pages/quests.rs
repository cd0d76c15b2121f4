//! Quests (needs `quest.manage`): every quest with how often it was started, completed and
//! paid; create one, change its words, reward or window, turn it on or off.

use leptos::prelude::*;

use crate::{
    api::{self, Failure},
    session::Session,
    widgets::{ErrorLine, ask, confirm, local_to_rfc3339, run, short_time},
};

#[component]
pub fn QuestList() -> impl IntoView {
    let session = expect_context::<Session>();
    let data = RwSignal::new(None::<api::quest_list::ResponseData>);
    let error = RwSignal::new(None::<Failure>);
    let load = move || {
        run::<api::QuestList>(session, api::quest_list::Variables {}, error, move |d| {
            data.set(Some(d))
        });
    };
    load();
    let set_active = move |id: String, active: bool| {
        let what = if active { "Turn on" } else { "Turn off" };
        if !confirm(&format!("{what} quest {id}?")) {
            return;
        }
        let variables = api::set_quest_active::Variables { id, active };
        run::<api::SetQuestActive>(session, variables, error, move |_| load());
    };
    let change_reward = move |id: String| {
        let Ok(amount) = ask("New reward (for completions from now on)")
            .trim()
            .parse::<i64>()
        else {
            return;
        };
        let input = api::update_quest::QuestUpdateInput {
            name: None,
            description: None,
            reward_amount: Some(amount),
            starts_at: None,
            ends_at: None,
        };
        run::<api::UpdateQuest>(
            session,
            api::update_quest::Variables { id, input },
            error,
            move |_| load(),
        );
    };
    let rename = move |id: String| {
        let name = ask("New name");
        if name.trim().is_empty() {
            return;
        }
        let input = api::update_quest::QuestUpdateInput {
            name: Some(name),
            description: None,
            reward_amount: None,
            starts_at: None,
            ends_at: None,
        };
        run::<api::UpdateQuest>(
            session,
            api::update_quest::Variables { id, input },
            error,
            move |_| load(),
        );
    };
    let set_window = move |id: String| {
        // `YYYY-MM-DD HH:MM` in UTC; empty for none.
        let when = |question: &str| local_to_rfc3339(&ask(question).trim().replace(' ', "T"));
        let starts_at = when("From (UTC, YYYY-MM-DD HH:MM; empty for none)");
        let ends_at = when("Until (UTC, YYYY-MM-DD HH:MM; empty for none)");
        let variables = api::set_quest_window::Variables {
            id,
            starts_at,
            ends_at,
        };
        run::<api::SetQuestWindow>(session, variables, error, move |_| load());
    };
    view! {
        <h1>"Quests"</h1>
        <ErrorLine error=error/>
        {move || data.get().map(|d| {
            let currencies = d.currencies.clone();
            let currency = move |id: &str| currencies.iter().find(|c| c.id == id).map(|c| c.name.clone()).unwrap_or_else(|| id.to_owned());
            let rows = d.quests.into_iter().map(|q| {
                let (id, id2, id3, id4) = (q.id.clone(), q.id.clone(), q.id.clone(), q.id.clone());
                let active = q.active;
                let trigger = format!("{}{}{}", q.trigger_type,
                    q.trigger_game_id.as_ref().map(|g| format!(" in game {g}")).unwrap_or_default(),
                    q.trigger_name.as_ref().map(|n| format!(" named {n}")).unwrap_or_default());
                let rule = format!("{} {} {}, up to {} times{}", q.streak, if q.daily { "days in a row" } else { "times" },
                    if q.auto_claim { "(paid at once)" } else { "(claimed)" }, q.duplication,
                    match (&q.starts_at, &q.ends_at) {
                        (None, None) => String::new(),
                        (s, e) => format!(", {} to {}", s.as_deref().map(short_time).unwrap_or_else(|| "…".into()), e.as_deref().map(short_time).unwrap_or_else(|| "…".into())),
                    });
                let f = q.figures;
                let rate = if f.started > 0 { f.players * 100 / f.started } else { 0 };
                view! {
                    <tr class=if active { "" } else { "inactive" }>
                        <td class="name">{q.name.clone()}<br/><span class="muted">{q.description.clone()}</span></td>
                        <td>{trigger}</td>
                        <td>{rule}</td>
                        <td class="reward">{format!("{} {}", q.reward_amount, currency(&q.reward_currency_id))}</td>
                        <td class="figures">{format!("{} started, {} completed ({rate}%), {} completions, {} paid", f.started, f.players, f.completions, f.claimed)}</td>
                        <td>
                            <button class="rename" on:click=move |_| rename(id.clone())>"Rename"</button>
                            <button on:click=move |_| change_reward(id2.clone())>"Reward"</button>
                            <button class="window" on:click=move |_| set_window(id4.clone())>"Window"</button>
                            <button class=if active { "danger toggle" } else { "toggle" } on:click=move |_| set_active(id3.clone(), !active)>
                                {if active { "Turn off" } else { "Turn on" }}
                            </button>
                        </td>
                    </tr>
                }
            }).collect_view();
            view! {
                <table class="quests">
                    <thead><tr><th>"Quest"</th><th>"Trigger"</th><th>"Completes after"</th><th>"Reward"</th><th>"Figures"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                <NewQuest currencies=d.currencies reload=load/>
            }
        })}
    }
}

#[component]
fn NewQuest(
    currencies: Vec<api::quest_list::QuestListCurrencies>,
    reload: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let error = RwSignal::new(None::<Failure>);
    let first_currency = currencies.first().map(|c| c.id.clone()).unwrap_or_default();
    let (
        name,
        description,
        trigger,
        game,
        streak,
        duplication,
        auto_claim,
        daily,
        currency,
        amount,
        starts,
        ends,
    ) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("sign_in".to_owned()),
        RwSignal::new(String::new()),
        RwSignal::new("3".to_owned()),
        RwSignal::new("1".to_owned()),
        RwSignal::new(true),
        RwSignal::new(false),
        RwSignal::new(first_currency),
        RwSignal::new("10".to_owned()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |text: String| text.trim().parse::<i64>().ok();
        let (Some(streak), Some(duplication), Some(reward_amount)) = (
            number(streak.get_untracked()),
            number(duplication.get_untracked()),
            number(amount.get_untracked()),
        ) else {
            error.set(Some(Failure::local(
                "Streak, times and reward are whole numbers.",
            )));
            return;
        };
        let input = api::create_quest::QuestInput {
            name: name.get_untracked(),
            description: description.get_untracked(),
            trigger_type: trigger.get_untracked(),
            trigger_game_id: Some(game.get_untracked()).filter(|g| !g.trim().is_empty()),
            trigger_name: None,
            streak,
            duplication,
            auto_claim: auto_claim.get_untracked(),
            daily: daily.get_untracked(),
            reward_currency_id: currency.get_untracked(),
            reward_amount,
            starts_at: local_to_rfc3339(&starts.get_untracked()),
            ends_at: local_to_rfc3339(&ends.get_untracked()),
        };
        run::<api::CreateQuest>(
            session,
            api::create_quest::Variables { input },
            error,
            move |_| {
                name.set(String::new());
                reload();
            },
        );
    };
    view! {
        <section class="card">
            <h2>"New quest"</h2>
            <form class="create-quest filters" on:submit=create>
                <label>"Name" <input name="quest-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label>"Description" <input name="quest-description" on:input=move |ev| description.set(event_target_value(&ev))/></label>
                <label>"Trigger"
                    <select name="quest-trigger" on:change=move |ev| trigger.set(event_target_value(&ev))>
                        {["sign_in", "game_over", "gameplay", "state_change", "purchase", "trade.confirmed", "session.started", "session.ended", "quest.completed"]
                            .map(|t| view! { <option value=t>{t}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Only game" <input name="quest-game" placeholder="any" on:input=move |ev| game.set(event_target_value(&ev))/></label>
                <label>"Streak" <input name="quest-streak" type="number" min="1" prop:value=move || streak.get() on:input=move |ev| streak.set(event_target_value(&ev))/></label>
                <label>"Times" <input name="quest-duplication" type="number" min="1" prop:value=move || duplication.get() on:input=move |ev| duplication.set(event_target_value(&ev))/></label>
                <label class="check"><input type="checkbox" name="quest-auto" checked on:change=move |ev| auto_claim.set(event_target_checked(&ev))/>" paid at once"</label>
                <label class="check"><input type="checkbox" name="quest-daily" on:change=move |ev| daily.set(event_target_checked(&ev))/>" one a day, days in a row"</label>
                <label>"Reward" <input name="quest-amount" type="number" min="1" prop:value=move || amount.get() on:input=move |ev| amount.set(event_target_value(&ev))/></label>
                <label>"Currency"
                    <select name="quest-currency" on:change=move |ev| currency.set(event_target_value(&ev))>
                        {currencies.into_iter().map(|c| view! { <option value=c.id.clone()>{c.name.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"From (UTC)" <input name="quest-starts" type="datetime-local" on:input=move |ev| starts.set(event_target_value(&ev))/></label>
                <label>"Until (UTC)" <input name="quest-ends" type="datetime-local" on:input=move |ev| ends.set(event_target_value(&ev))/></label>
                <button type="submit">"Create quest"</button>
            </form>
            <ErrorLine error=error/>
        </section>
    }
}
