//! Account fixtures: registered and signed in through the API, as a client would.

use serde_json::{Value, json};

use crate::TestApp;

const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { id } }";
const LOGIN: &str = "mutation($input: LoginInput!) {
    login(input: $input) { accessToken refreshToken user { id } }
}";

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Account id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Access token of the sign-in.
    pub access: String,
    /// Refresh token of the sign-in.
    pub refresh: String,
}

impl TestUser {
    /// The account id as a UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.id.parse().expect("a user id is a UUID")
    }
}

/// Builds an account: `UserBuilder::new("ann").with_role("moderator").create(&app)`.
pub struct UserBuilder {
    username: String,
    roles: Vec<String>,
}

impl UserBuilder {
    /// An account named `username` (email `username@example.com`).
    pub fn new(username: &str) -> Self {
        Self {
            username: username.to_owned(),
            roles: Vec::new(),
        }
    }

    /// Also gives it the role `role`.
    pub fn with_role(mut self, role: &str) -> Self {
        self.roles.push(role.to_owned());
        self
    }

    /// Registers, grants the roles, and signs in.
    pub async fn create(self, app: &TestApp) -> TestUser {
        let email = format!("{}@example.com", self.username);
        let password = format!("{}-pass-word", self.username);
        let registered = app
            .gql(
                REGISTER,
                json!({ "input": { "username": self.username, "email": email, "password": password } }),
            )
            .await;
        let id = registered.data()["register"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let uuid = uuid::Uuid::parse_str(&id).expect("uuid");
        for role in &self.roles {
            arena_api::auth::assign_role_by_name(&app.ctx.db, uuid, role)
                .await
                .expect("role exists");
        }
        let session = login(app, &self.username, &password).await;
        TestUser {
            id,
            username: self.username,
            email,
            password,
            access: session["accessToken"].as_str().expect("token").to_owned(),
            refresh: session["refreshToken"].as_str().expect("token").to_owned(),
        }
    }
}

/// Signs in and returns the `login` payload, failing the test on errors.
pub async fn login(app: &TestApp, login: &str, password: &str) -> Value {
    app.gql(
        LOGIN,
        json!({ "input": { "login": login, "password": password } }),
    )
    .await
    .data()["login"]
        .clone()
}
