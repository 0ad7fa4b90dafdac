//! Federation (being written).

use super::UnsignedHandler;

pub fn handler(_action: &str) -> Option<UnsignedHandler> {
    None
}
