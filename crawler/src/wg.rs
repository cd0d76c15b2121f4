//! The WG console API as the crawler meets it: `account/info` requests and responses,
//! typed players, and the API's error codes sorted into retryable and fatal.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// At most this many account ids go into one request.
pub const MAX_IDS: usize = 100;

/// The fields Arena stores; the crawler asks for these and nothing else.
pub const FIELDS: &[&str] = &[
    "account_id",
    "nickname",
    "created_at",
    "last_battle_time",
    "updated_at",
    "statistics.all.battles",
    "statistics.all.wins",
    "statistics.all.losses",
    "statistics.all.damage_dealt",
    "statistics.all.damage_received",
    "statistics.all.frags",
    "statistics.all.spotted",
    "statistics.all.xp",
    "statistics.all.survived_battles",
    "statistics.all.capture_points",
    "statistics.all.dropped_capture_points",
    "statistics.all.hits",
    "statistics.all.shots",
    "statistics.max_damage",
    "statistics.max_frags",
    "statistics.max_xp",
    "statistics.trees_cut",
];

/// Counters over all battles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllStats {
    pub battles: i64,
    pub wins: i64,
    pub losses: i64,
    pub damage_dealt: i64,
    pub damage_received: i64,
    pub frags: i64,
    pub spotted: i64,
    pub xp: i64,
    pub survived_battles: i64,
    pub capture_points: i64,
    pub dropped_capture_points: i64,
    pub hits: i64,
    pub shots: i64,
}

/// `statistics`: the `all` counters and the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Statistics {
    pub all: AllStats,
    pub max_damage: i64,
    pub max_frags: i64,
    pub max_xp: i64,
    pub trees_cut: i64,
}

/// One player as `account/info` returns it (times are Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Player {
    pub account_id: i64,
    pub nickname: String,
    pub created_at: i64,
    pub last_battle_time: i64,
    pub updated_at: i64,
    pub statistics: Statistics,
}

/// The `error` object of a failed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub field: Option<String>,
    pub message: String,
    pub code: u16,
    pub value: Option<String>,
}

/// A whole response: errors arrive with HTTP 200, and `status` decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Envelope {
    /// `data` maps each requested id to a player, or null when there is none.
    Ok {
        meta: Value,
        data: std::collections::BTreeMap<String, Option<Player>>,
    },
    /// The call failed.
    Error { error: ApiErrorBody },
}

/// Whether an API error is worth retrying.
pub fn is_retryable(error: &ApiErrorBody) -> bool {
    matches!(
        error.message.as_str(),
        "REQUEST_LIMIT_EXCEEDED" | "SOURCE_NOT_AVAILABLE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let body = r#"{"status":"ok","meta":{"count":2},
         "data":{"1001":{"account_id":1001,"nickname":"someone-x","created_at":1514764800,
                  "last_battle_time":1700000000,"updated_at":1700000100,
                  "statistics":{"all":{"battles":5321,"wins":2800,"losses":2400,
                    "damage_dealt":4100000,"damage_received":3900000,"frags":4100,
                    "spotted":5200,"xp":2900000,"survived_battles":1600,
                    "capture_points":3000,"dropped_capture_points":2500,
                    "hits":30000,"shots":36000},
                  "max_damage":7000,"max_frags":8,"max_xp":2300,"trees_cut":9000}},
         "1002":null}}"#;
        let Envelope::Ok { data, .. } = serde_json::from_str(body).expect("parses") else {
            panic!("not ok");
        };
        let player = data["1001"].as_ref().expect("a player");
        assert_eq!(player.statistics.all.battles, 5321);
        assert_eq!(player.statistics.trees_cut, 9000);
        assert!(data["1002"].is_none());
        let error = r#"{"status":"error","error":{"field":null,"message":"REQUEST_LIMIT_EXCEEDED","code":407,"value":null}}"#;
        let Envelope::Error { error } = serde_json::from_str(error).expect("parses") else {
            panic!("not an error");
        };
        assert!(is_retryable(&error));
    }
}
