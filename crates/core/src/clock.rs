//! The time source, injectable so tests can move time without sleeping.

/// Time source. Injectable so tests can move time without sleeping.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Option<i64>,
    /// Seconds added to the system time (`STSD_CLOCK_OFFSET_SECS`: lets end-to-end tests observe expiry
    /// without waiting).
    offset: i64,
}

impl Clock {
    pub fn fixed(at: i64) -> Clock {
        Clock {
            fixed: Some(at),
            offset: 0,
        }
    }
    pub fn with_offset(offset: i64) -> Clock {
        Clock {
            fixed: None,
            offset,
        }
    }
    pub fn now(&self) -> i64 {
        self.fixed
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp() + self.offset)
    }
}
