//! The sim's fault knobs (`hoist sim faults`) on its Kubernetes API too: throttling answered
//! as 429, server trouble as 503 or a 409 conflict before the request is served, and a write
//! whose answer is lost after the server applied it (what a dropped connection does to a
//! client: it cannot tell whether the write happened).

use rand::Rng;
use rusqlite::Connection;

use super::ApiError;
use crate::db;

/// What happens to one request.
pub(crate) enum Fault {
    None,
    /// Answered with this error without serving the request.
    Before(ApiError),
    /// Served, then answered with this error.
    After(ApiError),
}

/// Roll the dice for one request at the cloud's fault rates.
pub(crate) fn roll(conn: &Connection) -> Fault {
    let Ok((transient, throttle)) = db::faults(conn) else {
        return Fault::None;
    };
    if transient <= 0.0 && throttle <= 0.0 {
        return Fault::None;
    }
    let mut rng = rand::thread_rng();
    let x: f64 = rng.gen();
    if x < throttle {
        return Fault::Before(ApiError::too_many_requests());
    }
    if x < throttle + transient / 2.0 {
        return Fault::Before(match rng.gen_bool(0.5) {
            true => ApiError::unavailable("the server is currently unable to handle the request"),
            false => ApiError::conflict(
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
            ),
        });
    }
    if x < throttle + transient {
        return Fault::After(ApiError::unavailable(
            "connection reset before the response arrived",
        ));
    }
    Fault::None
}
