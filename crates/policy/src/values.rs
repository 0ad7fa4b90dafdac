//! Parsers for typed condition values: numbers, dates, booleans, CIDR blocks and base64.
//! They are used both at compile time (policy values, rejected if invalid) and at evaluation
//! time (request values, which make the comparison false if invalid). None of them allocates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `-?digits(.digits)?` (a leading `+` is accepted too). AWS documents integers and decimals;
/// exponents, `inf` and `NaN` are not numbers here.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// `true`/`false`, case-insensitive (reference §4.6: stsd accepts any case).
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An instant as (seconds since the Unix epoch, nanoseconds).
pub(crate) type Instant = (i64, u32);

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = *self.b.get(self.i)?;
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
            self.i += 1;
        }
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// W3C ISO 8601 profiles (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss[.s+]]TZD`)
/// or epoch seconds (reference §4.6). A missing time-zone designator is read as UTC.
pub(crate) fn parse_date(s: &str) -> Option<Instant> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() != 4 {
        return s.parse::<i64>().ok().map(|v| (v, 0));
    }
    if let Some(rest) = s.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return rest.parse::<i64>().ok().map(|v| (-v, 0));
    }
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    let year = i64::from(c.digits(4)?);
    let (mut month, mut day) = (1, 1);
    let (mut hh, mut mm, mut ss, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut offset: i64 = 0;
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
            if c.eat(b'T') || c.eat(b't') {
                hh = c.digits(2)?;
                if !c.eat(b':') {
                    return None;
                }
                mm = c.digits(2)?;
                if c.eat(b':') {
                    ss = c.digits(2)?;
                    if c.eat(b'.') {
                        let start = c.i;
                        let mut scale = 100_000_000u32;
                        while let Some(d) = c.b.get(c.i).filter(|d| d.is_ascii_digit()) {
                            nanos += u32::from(d - b'0') * scale;
                            scale /= 10;
                            c.i += 1;
                        }
                        if c.i == start {
                            return None;
                        }
                    }
                }
                let utc = c.eat(b'Z') || c.eat(b'z') || c.done();
                if !utc {
                    let sign = if c.eat(b'+') {
                        1
                    } else if c.eat(b'-') {
                        -1
                    } else {
                        return None;
                    };
                    let oh = c.digits(2)?;
                    c.eat(b':');
                    let om = c.digits(2)?;
                    if oh > 23 || om > 59 {
                        return None;
                    }
                    offset = sign * i64::from(oh * 3600 + om * 60);
                }
            }
        }
    }
    if !c.done()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss) - offset;
    Some((secs, nanos))
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4(u32, u8),
    V6(u128, u8),
}

impl Cidr {
    /// `a.b.c.d/n`, `a.b.c.d` (= /32), `x::y/n`, `x::y` (= /128).
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a, Some(l.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let len = len.unwrap_or(32);
                (len <= 32).then_some(Cidr::V4(u32::from(a), len))
            }
            IpAddr::V6(a) => {
                let len = len.unwrap_or(128);
                (len <= 128).then_some(Cidr::V6(u128::from(a), len))
            }
        }
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        };
        match (*self, ip) {
            (Cidr::V4(net, len), IpAddr::V4(a)) => {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                (u32::from(a) & mask) == (net & mask)
            }
            (Cidr::V6(net, len), IpAddr::V6(a)) => {
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                (u128::from(a) & mask) == (net & mask)
            }
            _ => false,
        }
    }
}

/// Request-side IP: a bare address (a `/32` or `/128` suffix is tolerated).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let a = match s.split_once('/') {
        Some((a, l)) if l == "32" || l == "128" => a,
        Some(_) => return None,
        None => s,
    };
    a.parse::<IpAddr>().ok().or_else(|| {
        a.parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .or_else(|_| a.parse::<Ipv6Addr>().map(IpAddr::V6))
            .ok()
    })
}

fn b64_val(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    }))
}

/// Decodes standard or URL-safe base64 (padding optional) into `out`.
pub(crate) fn decode_base64(s: &str, out: &mut impl Extend<u8>) -> Option<()> {
    let s = s.trim().trim_end_matches('=');
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut n = 0usize;
    for c in s.bytes() {
        acc = (acc << 6) | b64_val(c)?;
        bits += 6;
        n += 1;
        if bits >= 8 {
            bits -= 8;
            out.extend([((acc >> bits) & 0xFF) as u8]);
        }
    }
    if n % 4 == 1 {
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("3600"), Some(3600.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("1e3"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("1."), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_date("2020"), parse_date("2020-01-01T00:00:00Z"));
        assert_eq!(parse_date("2020-02"), parse_date("2020-02-01T00:00Z"));
        assert_eq!(
            parse_date("2020-01-01T01:00+01:00"),
            parse_date("2020-01-01T00:00:00Z")
        );
        assert_eq!(parse_date("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_date("2025-03-15T12:00:00Z").unwrap().0, 1_742_040_000);
        assert_eq!(
            parse_date("2020-01-01T00:00:00.5Z"),
            Some((1_577_836_800, 500_000_000))
        );
        assert_eq!(parse_date("2021-02-29"), None);
        assert_eq!(parse_date("2020-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2020-01-01T00"), None);
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains(parse_ip("203.0.113.9").unwrap()));
        assert!(!c.contains(parse_ip("203.0.114.9").unwrap()));
        assert!(c.contains(parse_ip("::ffff:203.0.113.9").unwrap()));
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains(parse_ip("2001:db8::1").unwrap()));
        assert!(!c.contains(parse_ip("203.0.113.9").unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0/8").is_none());
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(parse_ip("1.2.3.4").unwrap())
        );
    }

    #[test]
    fn base64() {
        let mut v = Vec::new();
        decode_base64("aGVsbG8=", &mut v).unwrap();
        assert_eq!(v, b"hello");
        assert!(decode_base64("a", &mut Vec::new()).is_none());
        assert!(decode_base64("a$==", &mut Vec::new()).is_none());
    }
}
