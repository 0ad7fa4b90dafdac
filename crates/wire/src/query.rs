//! The AWS Query protocol decoder: form-encoded parameters with `X.member.N` lists, `X.entry.N.key/value` maps
//! and `X.Field` structs. Decoding is bounded: at most [`MAX_PARAMS`] parameters.

use std::collections::BTreeMap;

use crate::error::{ErrorCode, WireError, WireResult};

/// Hard cap on the number of parameters in one request (GetAccountAuthorizationDetails filters,
/// simulation context entries and tags stay far below it).
pub const MAX_PARAMS: usize = 10_000;
/// Cap on list indexes, so `X.member.999999999` cannot make us allocate.
pub const MAX_LIST_INDEX: usize = 1_000;

/// Decoded request parameters, keyed by their full dotted name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Decode the query string and (for form posts) the body. A name that appears in both places, or twice,
    /// is rejected: which of the two values a signer meant is ambiguous.
    pub fn decode(query: &str, body: &[u8]) -> WireResult<Params> {
        let mut map = BTreeMap::new();
        for part in [query.as_bytes(), body] {
            for (k, v) in form_urlencoded::parse(part) {
                if map.len() >= MAX_PARAMS {
                    return Err(WireError::new(
                        ErrorCode::MalformedQueryString,
                        "Too many parameters.",
                    ));
                }
                if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                    return Err(WireError::new(
                        ErrorCode::InvalidParameterCombination,
                        format!("The parameter {k} was given more than once."),
                    ));
                }
            }
        }
        Ok(Params { map })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        Params {
            map: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Required parameter; missing → `ValidationError` naming the lowerCamelCase member.
    pub fn required(&self, name: &str) -> WireResult<&str> {
        self.get(name)
            .ok_or_else(|| crate::validate::missing(lower_camel(name)))
    }

    /// Indexes N present under `prefix.member.N` (optionally followed by `.field`), sorted numerically.
    fn member_indexes(&self, prefix: &str) -> WireResult<Vec<usize>> {
        let head = format!("{prefix}.member.");
        let mut idx = Vec::new();
        for (key, rest) in self
            .map
            .range(head.clone()..)
            .map_while(|(k, _)| k.strip_prefix(head.as_str()).map(|rest| (k, rest)))
        {
            let num = rest.split('.').next().unwrap_or("");
            let n: usize = num.parse().map_err(|_| bad_index(key))?;
            if n == 0 || n > MAX_LIST_INDEX || num.starts_with('0') {
                return Err(bad_index(key));
            }
            idx.push(n);
        }
        idx.sort_unstable();
        idx.dedup();
        Ok(idx)
    }

    /// A list of scalars, `prefix.member.N`. `None` when absent; `Some(empty)` for the `prefix=` empty-list form.
    pub fn list(&self, prefix: &str) -> WireResult<Option<Vec<String>>> {
        let idx = self.member_indexes(prefix)?;
        if idx.is_empty() {
            return Ok(self.get(prefix).map(|_| Vec::new()));
        }
        let mut out = Vec::with_capacity(idx.len());
        for n in idx {
            match self.get(&format!("{prefix}.member.{n}")) {
                Some(v) => out.push(v.to_string()),
                None => {
                    return Err(WireError::new(
                        ErrorCode::InvalidParameterValue,
                        format!("{prefix}.member.{n} must be a value, not a structure."),
                    ));
                }
            }
        }
        Ok(Some(out))
    }

    /// A list of structures, `prefix.member.N.Field`; each element is returned as its own `Params` view
    /// with the `prefix.member.N.` head stripped.
    pub fn struct_list(&self, prefix: &str) -> WireResult<Option<Vec<Params>>> {
        let idx = self.member_indexes(prefix)?;
        if idx.is_empty() {
            return Ok(self.get(prefix).map(|_| Vec::new()));
        }
        let mut out = Vec::with_capacity(idx.len());
        for n in idx {
            out.push(self.sub(&format!("{prefix}.member.{n}")));
        }
        Ok(Some(out))
    }

    /// A list of lists of scalars, `prefix.member.N.member.M`, outer and inner lists in index order. Every
    /// parameter under `prefix.member.N` must be an inner list element (`member.M`, a valid index).
    pub fn list_of_lists(&self, prefix: &str) -> WireResult<Option<Vec<Vec<String>>>> {
        let Some(levels) = self.struct_list(prefix)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(levels.len());
        for (n, level) in levels.iter().enumerate() {
            let mut items: Vec<(usize, &String)> = Vec::with_capacity(level.map.len());
            for (k, v) in &level.map {
                let m = k
                    .strip_prefix("member.")
                    .filter(|m| !m.starts_with('0'))
                    .and_then(|m| m.parse::<usize>().ok())
                    .filter(|m| (1..=MAX_LIST_INDEX).contains(m))
                    .ok_or_else(|| bad_index(&format!("{prefix}.member.{}.{k}", n + 1)))?;
                items.push((m, v));
            }
            items.sort_unstable_by_key(|i| i.0);
            out.push(items.into_iter().map(|(_, v)| v.clone()).collect());
        }
        Ok(Some(out))
    }

    /// The nested structure under `prefix.` as its own view.
    pub fn sub(&self, prefix: &str) -> Params {
        let head = format!("{prefix}.");
        let map = self
            .map
            .range(head.clone()..)
            .map_while(|(k, v)| Some((k.strip_prefix(head.as_str())?.to_string(), v.clone())))
            .collect();
        Params { map }
    }

    /// A map, `prefix.entry.N.key` / `prefix.entry.N.value`.
    pub fn map(&self, prefix: &str) -> WireResult<Option<BTreeMap<String, String>>> {
        let head = format!("{prefix}.entry.");
        let mut out = BTreeMap::new();
        let mut any = false;
        for (k, rest) in self
            .map
            .range(head.clone()..)
            .map_while(|(k, _)| k.strip_prefix(head.as_str()).map(|rest| (k, rest)))
        {
            any = true;
            let Some((num, field)) = rest.split_once('.') else {
                return Err(bad_index(k));
            };
            if field != "key" {
                continue;
            }
            let key = self
                .get(&format!("{head}{num}.key"))
                .unwrap_or_default()
                .to_string();
            let value = self
                .get(&format!("{head}{num}.value"))
                .unwrap_or_default()
                .to_string();
            out.insert(key, value);
        }
        Ok(if any {
            Some(out)
        } else {
            self.get(prefix).map(|_| out)
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn bad_index(key: &str) -> WireError {
    WireError::new(
        ErrorCode::MalformedQueryString,
        format!("Invalid list index in parameter {key}."),
    )
}

/// `RoleSessionName` → `roleSessionName`, as AWS names members in validation messages.
pub fn lower_camel(name: &str) -> String {
    let base = name.rsplit('.').next().unwrap_or(name);
    let mut chars = base.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_lists_structs_and_maps() {
        let p = Params::decode(
            "",
            b"Action=X&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=x+y&Tags.member.10.Key=c&L.member.1=one&E=&M.entry.1.key=k&M.entry.1.value=v",
        )
        .unwrap();
        let tags = p.struct_list("Tags").unwrap().unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0].get("Key"), Some("a"));
        assert_eq!(tags[0].get("Value"), Some("x y"));
        assert_eq!(tags[2].get("Key"), Some("c"));
        assert_eq!(p.list("L").unwrap().unwrap(), vec!["one".to_string()]);
        assert_eq!(p.list("E").unwrap(), Some(vec![]));
        assert_eq!(p.list("Nope").unwrap(), None);
        assert_eq!(
            p.map("M").unwrap().unwrap().get("k").map(String::as_str),
            Some("v")
        );
    }

    #[test]
    fn rejects_duplicates_and_bad_indexes() {
        assert!(Params::decode("Action=A", b"Action=B").is_err());
        let p = Params::decode("", b"L.member.0=x").unwrap();
        assert!(p.list("L").is_err());
        let p = Params::decode("", b"L.member.abc=x").unwrap();
        assert!(p.list("L").is_err());
        let p = Params::decode("", b"L.member.99999999999999999999=x").unwrap();
        assert!(p.list("L").is_err());
    }

    #[test]
    fn lower_camel_names() {
        assert_eq!(lower_camel("RoleSessionName"), "roleSessionName");
        assert_eq!(lower_camel("Tags.member.1.Key"), "key");
    }

    proptest! {
        #[test]
        fn decode_never_panics(query in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = Params::decode(&query, &body) {
                let _ = p.list("Tags");
                let _ = p.struct_list("Tags");
                let _ = p.map("M");
            }
        }

        #[test]
        fn list_round_trip(items in proptest::collection::vec("[ -~]{0,20}", 0..30)) {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (i, v) in items.iter().enumerate() {
                ser.append_pair(&format!("L.member.{}", i + 1), v);
            }
            let body = ser.finish();
            let p = Params::decode("", body.as_bytes()).unwrap();
            let got = p.list("L").unwrap().unwrap_or_default();
            prop_assert_eq!(got, items);
        }
    }
}
