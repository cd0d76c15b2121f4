//! Accounts and access control (seed 001, Auth microservice).

pub mod ban;
pub mod ban_privilege;
pub mod privilege;
pub mod role;
pub mod role_privilege;
pub mod user;
pub mod user_privilege;
pub mod user_role;
pub mod user_token;
