//! Any input: parsing never panics or exhausts a 256 KiB stack, and whatever parses serialises
//! to a document that parses back to an equal policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Policy, PolicyKind};

const KINDS: [PolicyKind; 6] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Boundary,
    PolicyKind::Session,
    PolicyKind::Scp,
];

fuzz_target!(|data: &[u8]| on_small_stack(|| run(data)));

/// Runs the target on a thread with a 256 KiB stack (the main thread has 8 MiB), so that a
/// recursion the parser's depth limit failed to stop overflows within short runs.
fn on_small_stack(f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn_scoped(s, f)
            .expect("spawn fuzz worker");
        if worker.join().is_err() {
            // libFuzzer's panic hook has already aborted; this is for plain runs.
            std::process::abort();
        }
    });
}

fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        match Policy::parse_with_limit(text, kind, usize::MAX) {
            Ok(p) => {
                let json = p.to_json();
                let again = Policy::parse_with_limit(&json, kind, usize::MAX)
                    .unwrap_or_else(|e| panic!("canonical form rejected: {e}\n{json}"));
                assert_eq!(again, p, "round trip changed the policy");
                let _ = p.context_keys().count();
                let _ = p.principal_arns().count();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}
