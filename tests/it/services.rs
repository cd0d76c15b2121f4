//! The shape every write service has: a body on `&impl ConnectionTrait` that other domains
//! run inside their own transaction, a wrapper that commits and then publishes, rows locked
//! in one order, and constraint violations mapped in one place.

use std::net::IpAddr;

use arena_api::{
    auth::{
        bans::{BanTarget, NewBan, place_ban_in},
        viewer,
    },
    db::lock_rows,
    error::{ApiError, Violation},
};
use arena_entity::auth::{ban, ban_privilege, privilege, role};
use arena_tests::{Backend, TestApp, UserBuilder, on_both_backends};
use chrono::Utc;
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::json;

const ME: &str = "{ me { id } }";

on_both_backends! {
    async fn a_ban_placed_inside_another_write_is_undone_with_it_and_lands_with_it(app) {
        let admin = UserBuilder::new("root").with_role("admin").create(&app).await;
        let ivo = UserBuilder::new("ivo").create(&app).await;
        app.gql_as(&ivo.access, ME, json!({})).await.data();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let acting = viewer::resolve(&app.ctx.db, &app.ctx.auth, Some(&admin.access), local)
            .await
            .unwrap();
        let ban = || NewBan {
            target: BanTarget::User(ivo.id.parse().unwrap()),
            reason: "cheating".into(),
            expires_at: None,
            privileges: None,
        };

        // The ban is written, then the caller's own work fails: nothing of it remains.
        let failed = app
            .ctx
            .write(async |db, changes| {
                place_ban_in(db, &acting, ban(), changes).await?;
                Err::<(), _>(ApiError::Conflict("the purchase failed".into()))
            })
            .await;
        assert!(matches!(failed, Err(ApiError::Conflict(_))));
        assert_eq!(ban::Entity::find().count(&app.ctx.db).await.unwrap(), 0);
        app.gql_as(&ivo.access, ME, json!({})).await.data();

        // The same write succeeding: committed, then published, so the next request sees it.
        app.ctx
            .write(async |db, changes| place_ban_in(db, &acting, ban(), changes).await)
            .await
            .unwrap();
        assert_eq!(app.gql_as(&ivo.access, ME, json!({})).await.codes(), ["BANNED"]);
    }
}

#[tokio::test]
async fn writers_locking_the_same_rows_in_any_order_never_deadlock() {
    let app = TestApp::spawn_on(Backend::Postgres).await;
    let ids: Vec<i32> = role::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(ids.len() >= 3);
    let writers = (0..24).map(|n| {
        let (ctx, mut ids) = (app.ctx.clone(), ids.clone());
        // Half ask for the rows in one order, half in the other.
        if n % 2 == 1 {
            ids.reverse();
        }
        async move {
            ctx.write(async |db, _| {
                let locked = lock_rows::<role::Entity, _>(db, role::Column::Id, ids).await?;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                Ok(locked.len())
            })
            .await
        }
    });
    for locked in join_all(writers).await {
        assert_eq!(locked.unwrap(), ids.len());
    }
}

on_both_backends! {
    async fn constraint_violations_are_told_apart_on_both_backends(app) {
        let db = &app.ctx.db;
        let unique = privilege::ActiveModel {
            privilege: Set("user.ban".into()),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap_err();
        assert_eq!(Violation::of(&unique), Some(Violation::Unique), "{unique}");

        let foreign = ban_privilege::ActiveModel {
            ban_id: Set(999_999),
            privilege_id: Set(1),
        }
        .insert(db)
        .await
        .unwrap_err();
        assert_eq!(Violation::of(&foreign), Some(Violation::ForeignKey), "{foreign}");

        // A ban names an account or an address.
        let admin = UserBuilder::new("root").with_role("admin").create(&app).await;
        let check = ban::ActiveModel {
            reason: Set("nobody".into()),
            admin_id: Set(admin.id.parse().unwrap()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap_err();
        assert_eq!(Violation::of(&check), Some(Violation::Check), "{check}");
    }
}
