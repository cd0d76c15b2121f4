//! Assets: uploads by GraphQL multipart and by signed upload address, the checks that refuse
//! a file and leave nothing behind, private files behind signed addresses, thumbnails of
//! images and meshes made by background jobs that survive restarts and corrupt files, their
//! `visual` relations, moderation's deletion of files, and the same on a real S3 server.

use std::time::Duration;

use arena_api::settings::Settings;
use arena_entity::assets::{asset, job};
use arena_tests::{Backend, S3Server, TestApp, TestUser, UserBuilder, files_under};
use image::{ImageFormat, Rgba, RgbaImage};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

const ASSET: &str = "id kind tag originalName mimeType size public deleted url \
                     render { status reason } thumbnails { mimeType url }";

/// A file to send: name, content type, bytes.
type File<'a> = (&'a str, &'a str, Vec<u8>);

fn trusting(settings: &mut Settings) {
    settings.trusted_creator_approvals = 0;
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x * 255 / width) as u8, (y * 255 / height) as u8, 128, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small PNG whose header claims 60000×60000 pixels: a decompression bomb.
fn bomb() -> Vec<u8> {
    let mut bytes = png(1, 1);
    // IHDR's data starts after the signature (8), length (4) and type (4).
    bytes[16..20].copy_from_slice(&60_000_u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&60_000_u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

const CUBE: &str = "# a cube\nv -1 -1 -1\nv 1 -1 -1\nv 1 1 -1\nv -1 1 -1\nv -1 -1 1\nv 1 -1 1\nv 1 1 1\nv -1 1 1\n\
    f 1 2 3 4\nf 5 8 7 6\nf 1 5 6 2\nf 2 6 7 3\nf 3 7 8 4\nf 5 1 4 8\n";

/// A GLB holding one triangle.
fn glb() -> Vec<u8> {
    let mut json = br#"{"asset":{"version":"2.0"},"scene":0,"scenes":[{"nodes":[0]}],"nodes":[{"mesh":0}],"meshes":[{"primitives":[{"attributes":{"POSITION":0}}]}],"buffers":[{"byteLength":36}],"bufferViews":[{"buffer":0,"byteOffset":0,"byteLength":36}],"accessors":[{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3","min":[0,0,0],"max":[1,1,0]}]}"#.to_vec();
    while !json.len().is_multiple_of(4) {
        json.push(b' ');
    }
    let bin: Vec<u8> = [0.0_f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    let total = 12 + 8 + json.len() + 8 + bin.len();
    let mut out = Vec::new();
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2_u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

async fn upload(
    app: &TestApp,
    who: &TestUser,
    kind: &str,
    public: bool,
    file: (&str, &str, Vec<u8>),
) -> arena_tests::GqlResponse {
    app.upload(
        &who.access,
        &format!("mutation($file: Upload!, $i: AssetInput!) {{ uploadAsset(file: $file, input: $i) {{ {ASSET} }} }}"),
        json!({ "i": { "kind": kind, "public": public, "tag": "test" } }),
        file,
    )
    .await
}

async fn uploaded(
    app: &TestApp,
    who: &TestUser,
    kind: &str,
    public: bool,
    file: (&str, &str, Vec<u8>),
) -> Value {
    upload(app, who, kind, public, file).await.data()["uploadAsset"].clone()
}

/// The asset once its render job is no longer queued.
async fn rendered(app: &TestApp, who: &TestUser, id: &str) -> Value {
    for _ in 0..300 {
        let found = app
            .gql_as(
                &who.access,
                &format!("query($id: ID!) {{ asset(id: $id) {{ {ASSET} }} }}"),
                json!({ "id": id }),
            )
            .await;
        let asset = found.data()["asset"].clone();
        if asset["render"]["status"] != "QUEUED" {
            return asset;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("asset {id} was not rendered in 30 s");
}

async fn item(app: &TestApp, who: &TestUser, name: &str, privacy: &str) -> String {
    app.published_item(
        &who.access,
        json!({ "type": "HAT", "name": name, "privacy": privacy }),
    )
    .await
}

async fn attach(
    app: &TestApp,
    who: &TestUser,
    content: &str,
    asset: &str,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        "mutation($i: AttachAssetInput!) { attachAsset(input: $i) { id assets { typeName index asset { id } } } }",
        json!({ "i": { "contentId": content, "assetId": asset, "typeName": "preview" } }),
    )
    .await
}

const SHOWN: &str = "query($id: ID!) { content(id: $id) { name assets { type typeName asset { id url mimeType } } \
    thumbnail { url mimeType } webp: thumbnail(format: WEBP) { url mimeType } \
    relations(kind: VISUAL) { relationName other { id name type } } } }";

async fn fetch(app: &TestApp, url: &str) -> (u16, String, Vec<u8>) {
    let response = app.http.get(app.url(url)).send().await.unwrap();
    let status = response.status().as_u16();
    let mime = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, mime, response.bytes().await.unwrap().to_vec())
}

async fn stored_rows(app: &TestApp) -> u64 {
    asset::Entity::find().count(&app.ctx.db).await.unwrap()
}

mod images_become_thumbnails_linked_as_visual_relations {
    use super::*;

    async fn run(app: TestApp, files: impl Fn() -> usize) {
        let ann = UserBuilder::new("ann").create(&app).await;
        let hat = item(&app, &ann, "Blue hat", "PUBLIC").await;
        let picture = uploaded(
            &app,
            &ann,
            "IMAGE",
            true,
            ("hat.png", "image/png", png(640, 320)),
        )
        .await;
        assert_eq!(picture["mimeType"], "image/png");
        assert_eq!(picture["originalName"], "hat.png");
        let id = picture["id"].as_str().unwrap();
        attach(&app, &ann, &hat, id).await.data();
        let done = rendered(&app, &ann, id).await;
        assert_eq!(done["render"]["status"], "DONE", "{done:#}");
        let thumbs: Vec<&str> = done["thumbnails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["mimeType"].as_str().unwrap())
            .collect();
        assert_eq!(thumbs, ["image/png", "image/webp"]);

        // Anyone sees the item's file, its thumbnail in both formats and the relation.
        let shown = app.gql(SHOWN, json!({ "id": hat })).await;
        let content = &shown.data()["content"];
        assert_eq!(content["assets"][0]["asset"]["id"], id);
        assert_eq!(content["assets"][0]["typeName"], "preview");
        assert_eq!(content["relations"][0]["relationName"], "thumbnail");
        assert_eq!(content["relations"][0]["other"]["type"], "TEXTURE");
        let (status, mime, bytes) =
            fetch(&app, content["thumbnail"]["url"].as_str().unwrap()).await;
        assert_eq!((status, mime.as_str()), (200, "image/png"));
        let thumb = image::load_from_memory(&bytes).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (256, 128));
        let (status, mime, bytes) = fetch(&app, content["webp"]["url"].as_str().unwrap()).await;
        assert_eq!((status, mime.as_str()), (200, "image/webp"));
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 256);
        let (status, _, original) =
            fetch(&app, content["assets"][0]["asset"]["url"].as_str().unwrap()).await;
        assert_eq!((status, original), (200, png(640, 320)));

        // Thumbnail items are never listed and follow the item they show.
        let listed = app
            .gql(
                "{ contents(filter: { types: [TEXTURE] }) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(listed.data()["contents"]["totalCount"], 0);
        let own = app
            .gql_as(
                &ann.access,
                "query($me: ID!) { contents(filter: { creatorId: $me }) { edges { node { name } } } }",
                json!({ "me": ann.id }),
            )
            .await;
        assert_eq!(
            own.data()["contents"]["edges"],
            json!([{ "node": { "name": "Blue hat" } }]),
            "the creator's own listing leaves thumbnails out"
        );
        let thumb_item = content["relations"][0]["other"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.gql_as(
            &ann.access,
            "mutation($id: ID!) { updateContent(id: $id, input: { privacy: PRIVATE }) { id } }",
            json!({ "id": hat }),
        )
        .await
        .data();
        let hidden = app
            .gql(
                "query($id: ID!) { content(id: $id) { id } }",
                json!({ "id": thumb_item }),
            )
            .await;
        assert_eq!(hidden.codes(), ["NOT_FOUND"]);

        // Taking the file out takes its thumbnail item with it.
        app.gql_as(
            &ann.access,
            "mutation($c: ID!, $a: ID!) { detachAsset(contentId: $c, assetId: $a) { id } }",
            json!({ "c": hat, "a": id }),
        )
        .await
        .data();
        let mine = app.gql_as(&ann.access, SHOWN, json!({ "id": hat })).await;
        assert_eq!(mine.data()["content"]["assets"], json!([]));
        assert_eq!(mine.data()["content"]["relations"], json!([]));
        assert_eq!(mine.data()["content"]["thumbnail"], Value::Null);
        // The original and its two thumbnails are stored.
        assert_eq!(files(), 3);
    }

    #[tokio::test]
    async fn postgres() {
        let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
        let dir = app.settings.assets_dir.clone();
        run(app, move || files_under(&dir).len()).await;
    }

    #[tokio::test]
    async fn sqlite() {
        let app = TestApp::spawn_with(Backend::Sqlite, trusting).await;
        let dir = app.settings.assets_dir.clone();
        run(app, move || files_under(&dir).len()).await;
    }

    #[tokio::test]
    async fn on_s3() {
        let s3 = S3Server::start().await;
        let app = TestApp::spawn_with(Backend::Postgres, |s| {
            trusting(s);
            s3.configure(s);
        })
        .await;
        let local = app.settings.assets_dir.clone();
        run(app, || s3.objects().len()).await;
        assert_eq!(
            files_under(&local).len(),
            0,
            "nothing was kept on the local disk"
        );
    }
}

#[tokio::test]
async fn refused_files_leave_nothing_behind() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let cases: Vec<(&str, File<'_>, &str)> = vec![
        (
            "IMAGE",
            ("hat.jpg", "image/jpeg", png(8, 8)),
            "but its bytes are image/png",
        ),
        (
            "IMAGE",
            (
                "hat.png",
                "application/octet-stream",
                b"not a picture at all".to_vec(),
            ),
            "no known type",
        ),
        ("MESH", ("hat.png", "image/png", png(8, 8)), "not image/png"),
        ("IMAGE", ("bomb.png", "image/png", bomb()), "60000×60000"),
        (
            "IMAGE",
            ("../../etc/passwd.png", "image/png", png(8, 8)),
            "slashes",
        ),
        (
            "MESH",
            (
                "broken.glb",
                "model/gltf-binary",
                b"glTF\x02\0\0\0garbage".to_vec(),
            ),
            "malformed glTF",
        ),
        (
            "MESH",
            ("broken.obj", "model/obj", b"v 0 0 0\nf 1 2 3\n".to_vec()),
            "malformed OBJ",
        ),
        ("IMAGE", ("empty.png", "image/png", Vec::new()), "empty"),
        (
            "IMAGE",
            ("huge.png", "image/png", vec![0; 17 * 1024 * 1024]),
            "at most 16777216 bytes",
        ),
    ];
    for (kind, file, why) in cases {
        let name = file.0.to_owned();
        let refused = upload(&app, &ann, kind, false, file).await;
        assert_eq!(
            refused.codes(),
            ["BAD_USER_INPUT"],
            "{name}: {:#}",
            refused.body
        );
        let message = refused.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(why), "{name}: {message}");
    }
    let unknown = app
        .upload(
            &ann.access,
            "mutation($file: Upload!) { uploadAsset(file: $file, input: { kind: PICTURE }) { id } }",
            json!({}),
            ("a.png", "image/png", png(4, 4)),
        )
        .await;
    assert_eq!(unknown.codes(), ["BAD_USER_INPUT"], "{:#}", unknown.body);
    let anonymous = app
        .http
        .post(app.url("/graphql"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("operations", json!({ "query": "mutation($file: Upload!) { uploadAsset(file: $file, input: { kind: IMAGE }) { id } }", "variables": { "file": null } }).to_string())
                .text("map", json!({ "0": ["variables.file"] }).to_string())
                .part("0", reqwest::multipart::Part::bytes(png(4, 4)).file_name("a.png")),
        )
        .send()
        .await
        .unwrap();
    let anonymous = TestApp::read(anonymous).await;
    assert_eq!(anonymous.codes(), ["UNAUTHENTICATED"]);
    assert_eq!(stored_rows(&app).await, 0);
    assert_eq!(
        files_under(&app.settings.assets_dir),
        Vec::<std::path::PathBuf>::new()
    );
    // A JSON body stays under the ordinary limit on the route that takes files.
    let big = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let response = app.post_raw("application/json", &big).await;
    assert_eq!(response.status, 413);
}

#[tokio::test]
async fn private_files_are_served_only_by_fresh_signed_addresses() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        trusting(s);
        s.asset_url_seconds = 2;
    })
    .await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let secret = uploaded(
        &app,
        &ann,
        "TEXTURE",
        false,
        ("skin.png", "image/png", png(32, 32)),
    )
    .await;
    let id = secret["id"].as_str().unwrap();
    let signed = secret["url"].as_str().unwrap().to_owned();
    assert!(signed.contains("signature="), "{signed}");
    assert_eq!(fetch(&app, &signed).await.0, 200);
    assert_eq!(fetch(&app, &format!("/assets/{id}")).await.0, 403);
    assert_eq!(
        fetch(&app, &signed.replace("signature=", "signature=x"))
            .await
            .0,
        403
    );
    let other = signed.replace(id, &uuid::Uuid::now_v7().to_string());
    assert_eq!(fetch(&app, &other).await.0, 404);
    // Someone else can neither find the file nor reach it through a private item.
    let found = app
        .gql_as(
            &bob.access,
            "query($id: ID!) { asset(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(found.data()["asset"], Value::Null);
    let private = item(&app, &ann, "Secret skin", "PRIVATE").await;
    attach(&app, &ann, &private, id).await.data();
    let through = app
        .gql_as(&bob.access, SHOWN, json!({ "id": private }))
        .await;
    assert_eq!(through.codes(), ["NOT_FOUND"]);
    let refused = attach(&app, &bob, &item(&app, &bob, "Bob's", "PUBLIC").await, id).await;
    assert_eq!(refused.codes(), ["NOT_FOUND"]);
    // Addresses expire.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fetch(&app, &signed).await.0, 403);
    // A deleted file is served to nobody.
    let public = uploaded(
        &app,
        &ann,
        "IMAGE",
        true,
        ("open.png", "image/png", png(8, 8)),
    )
    .await;
    let url = public["url"].as_str().unwrap();
    assert_eq!(url, format!("/assets/{}", public["id"].as_str().unwrap()));
    assert_eq!(fetch(&app, url).await.0, 200);
    app.gql_as(
        &ann.access,
        "mutation($id: ID!) { deleteAsset(id: $id) }",
        json!({ "id": public["id"] }),
    )
    .await
    .data();
    assert_eq!(fetch(&app, url).await.0, 404);
}

#[tokio::test]
async fn an_upload_address_takes_one_file_once() {
    let app = TestApp::spawn_with(Backend::Sqlite, trusting).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let ask = |name: &str| {
        let (app, token) = (&app, ann.access.clone());
        let name = name.to_owned();
        async move {
            let made = app
                .gql_as(&token, "mutation($i: AssetUploadInput!) { createAssetUpload(input: $i) { url assetId expiresAt } }",
                    json!({ "i": { "kind": "MESH", "fileName": name, "public": true } }))
                .await;
            made.data()["createAssetUpload"].clone()
        }
    };
    let put = |url: String, body: Vec<u8>| {
        let app = &app;
        async move {
            let response = app.http.put(app.url(&url)).body(body).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let ticket = ask("cube.obj").await;
    let url = ticket["url"].as_str().unwrap().to_owned();
    let (status, body) = put(url.clone(), CUBE.as_bytes().to_vec()).await;
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["id"], ticket["assetId"]);
    assert_eq!(body["mimeType"], "model/obj");
    let (status, body) = put(url.clone(), CUBE.as_bytes().to_vec()).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    let forged = format!("{}x", &url[..url.len() - 1]);
    assert_eq!(put(forged, CUBE.as_bytes().to_vec()).await.0, 403);
    let wrong = ask("cube.obj").await;
    let (status, body) = put(wrong["url"].as_str().unwrap().to_owned(), png(4, 4)).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("BAD_USER_INPUT"))
    );
    for name in ["../x.obj", "a\u{7}.obj", "dir/x.obj", ""] {
        let refused = app
            .gql_as(&ann.access, "mutation($n: String!) { createAssetUpload(input: { kind: MESH, fileName: $n }) { url } }", json!({ "n": name }))
            .await;
        assert_eq!(refused.codes(), ["BAD_USER_INPUT"], "{name:?}");
    }
    assert_eq!(stored_rows(&app).await, 1);
    assert_eq!(files_under(&app.settings.assets_dir).len(), 1);
    let done = rendered(&app, &ann, ticket["assetId"].as_str().unwrap()).await;
    assert_eq!(done["render"]["status"], "DONE", "{done:#}");
}

#[tokio::test]
async fn meshes_are_drawn_and_corrupt_files_fail_their_job_only() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    for (name, mime, bytes) in [
        ("cube.obj", "model/obj", CUBE.as_bytes().to_vec()),
        ("triangle.glb", "model/gltf-binary", glb()),
    ] {
        let mesh = uploaded(&app, &ann, "MESH", true, (name, mime, bytes)).await;
        assert_eq!(mesh["mimeType"], mime);
        let done = rendered(&app, &ann, mesh["id"].as_str().unwrap()).await;
        assert_eq!(done["render"]["status"], "DONE", "{name}: {done:#}");
        let (status, _, bytes) = fetch(&app, done["thumbnails"][0]["url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        let picture = image::load_from_memory(&bytes).unwrap().to_rgba8();
        assert_eq!(picture.dimensions(), (256, 256));
        assert_eq!(
            picture.get_pixel(0, 0)[3],
            0,
            "{name}: the background is clear"
        );
        let drawn = picture.pixels().filter(|p| p[3] == 255).count();
        assert!(drawn > 2000, "{name}: {drawn} pixels drawn");
    }
    // A glTF whose buffer is outside the file is stored, and its job fails with the reason.
    let outside = br#"{"asset":{"version":"2.0"},"buffers":[{"byteLength":36,"uri":"mesh.bin"}],"bufferViews":[{"buffer":0,"byteLength":36}],"accessors":[{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3","min":[0,0,0],"max":[1,1,0]}],"meshes":[{"primitives":[{"attributes":{"POSITION":0}}]}],"nodes":[{"mesh":0}],"scenes":[{"nodes":[0]}]}"#;
    let broken = uploaded(
        &app,
        &ann,
        "MESH",
        true,
        ("scene.gltf", "model/gltf+json", outside.to_vec()),
    )
    .await;
    let failed = rendered(&app, &ann, broken["id"].as_str().unwrap()).await;
    assert_eq!(failed["render"]["status"], "FAILED");
    assert!(
        failed["render"]["reason"]
            .as_str()
            .unwrap()
            .contains("outside the file"),
        "{failed:#}"
    );
    assert_eq!(failed["thumbnails"], json!([]));
    // The worker goes on.
    let after = uploaded(
        &app,
        &ann,
        "IMAGE",
        true,
        ("after.png", "image/png", png(16, 16)),
    )
    .await;
    assert_eq!(
        rendered(&app, &ann, after["id"].as_str().unwrap()).await["render"]["status"],
        "DONE"
    );
}

#[tokio::test]
async fn render_jobs_wait_for_a_worker_across_restarts() {
    let first = TestApp::spawn_with(Backend::Postgres, |s| {
        trusting(s);
        s.render_workers = 0;
    })
    .await;
    let ann = UserBuilder::new("ann").create(&first).await;
    let picture = uploaded(
        &first,
        &ann,
        "IMAGE",
        true,
        ("a.png", "image/png", png(64, 64)),
    )
    .await;
    assert_eq!(picture["render"]["status"], "QUEUED");
    // A job a worker took and never finished (the process died) is taken again once its
    // lease ends.
    let jobs = job::Entity::find().all(&first.ctx.db).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let mut taken: job::ActiveModel = jobs[0].clone().into();
    taken.attempts = sea_orm::ActiveValue::Set(1);
    taken.next_attempt_at =
        sea_orm::ActiveValue::Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    sea_orm::ActiveModelTrait::update(taken, &first.ctx.db)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rendered_now(&first, &ann, &picture).await, "QUEUED");
    let second = first.another_instance_with(|s| s.render_workers = 2).await;
    let done = rendered(&second, &ann, picture["id"].as_str().unwrap()).await;
    assert_eq!(done["render"]["status"], "DONE", "{done:#}");
    let jobs = job::Entity::find().all(&first.ctx.db).await.unwrap();
    assert_eq!(jobs[0].attempts, 2);
}

async fn rendered_now(app: &TestApp, who: &TestUser, picture: &Value) -> String {
    let found = app
        .gql_as(
            &who.access,
            "query($id: ID!) { asset(id: $id) { render { status } } }",
            json!({ "id": picture["id"] }),
        )
        .await;
    found.data()["asset"]["render"]["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_moderator_sees_new_files_before_readers_and_can_purge_them() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| s.trusted_creator_approvals = 1).await;
    let modo = UserBuilder::new("modo")
        .with_role("moderator")
        .create(&app)
        .await;
    // Dan has no approved revision yet, so his changes wait for review.
    let dan = UserBuilder::new("dan").create(&app).await;
    let dans = item(&app, &dan, "Dan hat", "PUBLIC").await;
    let picture = uploaded(
        &app,
        &dan,
        "IMAGE",
        false,
        ("bad.png", "image/png", png(48, 48)),
    )
    .await;
    let id = picture["id"].as_str().unwrap();
    attach(&app, &dan, &dans, id).await.data();
    assert_eq!(rendered(&app, &dan, id).await["render"]["status"], "DONE");
    // Readers see neither the file nor a thumbnail: the item was never approved.
    let reader = app.gql(SHOWN, json!({ "id": dans })).await;
    assert_eq!(reader.codes(), ["NOT_FOUND"]);
    // The moderator's preview shows the revision's file and its thumbnails.
    let claimed = app
        .gql_as(&modo.access, "mutation { claimModeration { id content { id } revision { assets { asset { id url thumbnails { url } } } } } }", json!({}))
        .await;
    let queued = claimed.data()["claimModeration"].clone();
    assert_eq!(queued["content"]["id"], dans);
    let files = &queued["revision"]["assets"];
    assert_eq!(files[0]["asset"]["id"], id);
    assert_eq!(files[0]["asset"]["thumbnails"].as_array().unwrap().len(), 2);
    let preview = files[0]["asset"]["thumbnails"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fetch(&app, &preview).await.0, 200);
    let original = files[0]["asset"]["url"].as_str().unwrap().to_owned();
    // Rejecting with deleteAssets deletes the file and its thumbnails and purges the bytes.
    let decided = app
        .gql_as(&modo.access, "mutation($i: DecideModerationInput!) { decideModeration(input: $i) { id assetDelete } }",
            json!({ "i": { "itemId": queued["id"], "decision": "REJECT", "rejectionReason": "TOS", "deleteAssets": true } }))
        .await;
    assert_eq!(decided.data()["decideModeration"]["assetDelete"], true);
    assert_eq!(fetch(&app, &original).await.0, 404);
    assert_eq!(fetch(&app, &preview).await.0, 404);
    let before = files_under(&app.settings.assets_dir).len();
    for _ in 0..100 {
        if files_under(&app.settings.assets_dir).len() + 3 == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = asset::Entity::find().all(&app.ctx.db).await.unwrap();
    let purged: Vec<_> = rows.iter().filter(|a| a.deleted_at.is_some()).collect();
    assert_eq!(purged.len(), 3);
    for gone in purged {
        let key = gone.source_uri.as_deref().unwrap();
        assert!(
            !app.settings.assets_dir.join(key).exists(),
            "{key} was purged"
        );
    }
    let approving = app
        .gql_as(
            &modo.access,
            "mutation($i: DecideModerationInput!) { decideModeration(input: $i) { id } }",
            json!({ "i": { "itemId": "1", "decision": "APPROVE", "deleteAssets": true } }),
        )
        .await;
    assert_eq!(approving.codes(), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn a_page_of_thumbnails_costs_constant_statements() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let mut pictures = Vec::new();
    for i in 0..20 {
        let hat = item(&app, &ann, &format!("hat {i}"), "PUBLIC").await;
        let picture = uploaded(
            &app,
            &ann,
            "IMAGE",
            i % 2 == 0,
            (&format!("{i}.png"), "image/png", png(8 + i, 8)),
        )
        .await;
        let id = picture["id"].as_str().unwrap().to_owned();
        attach(&app, &ann, &hat, &id).await.data();
        pictures.push(id);
    }
    for id in &pictures {
        assert_eq!(rendered(&app, &ann, id).await["render"]["status"], "DONE");
    }
    let page = |n: usize| {
        format!(
            "{{ contents(first: {n}) {{ edges {{ node {{ name thumbnail {{ url }} assets {{ asset {{ url thumbnails {{ url }} render {{ status }} }} }} \
                 relations(kind: VISUAL) {{ other {{ name }} }} }} }} }} }}"
        )
    };
    let run = |n: usize| {
        let query = page(n);
        let app = &app;
        async move {
            let response = app.gql(&query, json!({})).await;
            let edges = response.data()["contents"]["edges"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(edges.len(), n);
            assert!(
                edges
                    .iter()
                    .all(|e| e["node"]["thumbnail"]["url"].is_string()),
                "{edges:#?}"
            );
        }
    };
    run(2).await;
    let (small, ()) = app.least_statements(|| run(5)).await;
    let (large, ()) = app.least_statements(|| run(20)).await;
    assert_eq!(
        small, large,
        "5 items: {small} statements, 20 items: {large}"
    );
}
