//! Criterion benchmarks of the generated wire code on AssumeRole (issue #14): `cargo bench -p stsd-wire`.
//!
//! * `assume_role/decode`: Query body → `Params` → `AssumeRoleRequest`, every constraint checked.
//! * `assume_role/encode`: `AssumeRoleResponse` (a 1 KiB session token) → the XML of the answer.
#![expect(
    clippy::unwrap_used,
    reason = "bench code: a failed unwrap fails the bench"
)]
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stsd_wire::generated::sts::{
    AssumeRoleRequest, AssumeRoleResponse, AssumedRoleUser, Credentials,
};
use stsd_wire::{Input, Output, Params};

fn codec(c: &mut Criterion) {
    let body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fbench-role\
&RoleSessionName=bench-session&DurationSeconds=3600&Tags.member.1.Key=team&Tags.member.1.Value=platform";
    let mut g = c.benchmark_group("assume_role");
    g.bench_function("decode", |b| {
        b.iter(|| {
            let p = Params::decode("", black_box(body)).unwrap();
            AssumeRoleRequest::decode(&p).unwrap()
        });
    });
    let answer = AssumeRoleResponse {
        credentials: Some(Credentials {
            access_key_id: "ASIAEXAMPLEEXAMPLE02".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            // Base64 text like a real token's (a mix of letters, digits, `+` and `/`).
            session_token: (0..1024u32)
                .map(|i| {
                    let a = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                    let at = (i.wrapping_mul(2_654_435_761) >> 7) as usize % a.len();
                    char::from(a.get(at).copied().unwrap_or(b'A'))
                })
                .collect(),
            expiration: 1_700_003_600,
        }),
        assumed_role_user: Some(AssumedRoleUser {
            assumed_role_id: "AROAEXAMPLEEXAMPLE01:bench-session".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/bench-role/bench-session".into(),
        }),
        packed_policy_size: None,
        source_identity: None,
    };
    g.bench_function("encode", |b| b.iter(|| black_box(&answer).encode()));
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
