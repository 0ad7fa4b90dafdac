//! Policy text plus request fields from the input: parsing and evaluation never panic or exhaust
//! a 256 KiB stack, whatever the policy, principal, action, resource and context values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{
    evaluate, evaluate_trust, Context, Policy, PolicyKind, PolicyRef, PolicySet, PolicySource,
    Principal,
};

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
    // Layout: policy \0 action \0 resource \0 key=value \0 key=value ...
    let mut parts = text.split('\0');
    let doc = parts.next().unwrap_or_default();
    let action = parts.next().unwrap_or("s3:GetObject");
    let resource = parts.next().unwrap_or("*");
    let mut ctx = Context::new();
    for kv in parts {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let values: Vec<&str> = v.split(',').collect();
        ctx.insert(k, values);
    }
    let principals = [
        Principal::user("arn:aws:iam::111122223333:user/alice"),
        Principal::assumed_role(
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:iam::111122223333:role/R",
        )
        .with_user_id("AROAEXAMPLEROLE000001:s"),
        Principal::federated_user("arn:aws:sts::444455556666:federated-user/f", None),
        Principal::root("111122223333"),
        Principal::anonymous(),
        Principal::web_identity("accounts.google.com"),
    ];
    if let Ok(p) = Policy::parse_with_limit(doc, PolicyKind::Identity, usize::MAX) {
        let set = PolicySet::new()
            .identity(&p, "p", PolicySource::User)
            .boundary(&p, "b")
            .session(&p, "s");
        for who in &principals {
            let mut c = ctx.clone();
            who.fill_context(&mut c);
            let d = evaluate(&policy::Request::new(who, action, resource, &c), &set);
            let _ = d.denial_message(&who.arn, action, resource);
        }
    }
    for kind in [PolicyKind::Resource, PolicyKind::Trust] {
        if let Ok(p) = Policy::parse_with_limit(doc, kind, usize::MAX) {
            for who in &principals {
                let req = policy::Request::new(who, action, resource, &ctx);
                let set = PolicySet::new().resource(&p, "r", "111122223333");
                let _ = evaluate(&req, &set);
                let _ = evaluate_trust(
                    &req,
                    PolicyRef::new(&p, "t", PolicySource::Resource),
                    "111122223333",
                    &PolicySet::new(),
                );
            }
        }
    }
}
