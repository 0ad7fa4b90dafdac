//! Identity provider APIs (being written).

use super::Handler;

pub fn handler(_action: &str) -> Option<Handler> {
    None
}
