//! Criterion benchmarks: `cargo bench -p policy` (results in the crate README).
//!
//! * `typical/role_10_policies_100_statements`: a role session with 10 attached policies
//!   (~100 statements), the deciding statement carrying 3 conditions.
//! * `large/N_statements`: N statements under one principal (10 policies of N/10 statements),
//!   only a handful of which can match the action.
//! * `parse/6kb_policy`: parse, validate and compile a ~6 KB managed policy.
//! * `adversarial/*`: a 5,000-character wildcard pattern against a 50,000-character value
//!   (issue #11: wildcard matching must be linear in the worst case).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#![expect(
    clippy::indexing_slicing,
    reason = "test code: a bad index fails the test"
)]
use std::fmt::Write;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use policy::{
    Context, Effect, Policy, PolicyKind, PolicySet, PolicySource, Principal, Request, evaluate,
};

const SERVICES: [&str; 10] = [
    "s3",
    "ec2",
    "iam",
    "dynamodb",
    "sqs",
    "sns",
    "lambda",
    "kms",
    "logs",
    "cloudwatch",
];
const VERBS: [&str; 10] = [
    "Get", "List", "Describe", "Put", "Delete", "Create", "Update", "Tag", "Untag", "Start",
];

/// One statement: mostly exact actions and ARN resources, some wildcards and conditions.
fn statement(i: usize, svc: &str) -> String {
    let verb = VERBS[i % VERBS.len()];
    let effect = if i.is_multiple_of(17) {
        "Deny"
    } else {
        "Allow"
    };
    let action = match i % 4 {
        0 => format!(r#""{svc}:{verb}Thing{i}""#),
        1 => format!(r#"["{svc}:{verb}Item{i}","{svc}:{verb}Other{i}"]"#),
        2 => format!(r#""{svc}:{verb}Resource{i}*""#),
        _ => format!(r#""{svc}:{verb}Object{i}""#),
    };
    let resource = match i % 3 {
        0 => format!(r#""arn:aws:{svc}:us-east-1:111122223333:thing/{i}/*""#),
        1 => format!(
            r#"["arn:aws:{svc}:*:111122223333:item/{i}","arn:aws:{svc}:*:111122223333:other/{i}"]"#
        ),
        _ => r#""*""#.to_owned(),
    };
    let condition = if i.is_multiple_of(5) {
        r#","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}"#
    } else {
        ""
    };
    format!(r#"{{"Effect":"{effect}","Action":{action},"Resource":{resource}{condition}}}"#)
}

fn policy_doc(statements: impl Iterator<Item = String>) -> String {
    let body: Vec<String> = statements.collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        body.join(",")
    )
}

/// The statement that decides the typical request: 3 conditions.
const DECIDER: &str = r#"{"Sid":"ReadHome","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],
  "Resource":"arn:aws:s3:::corp-data/home/${aws:PrincipalTag/team}/*",
  "Condition":{"StringEquals":{"aws:PrincipalTag/team":["blue","red"]},
               "IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]},
               "Bool":{"aws:SecureTransport":"true"}}}"#;

fn role() -> Principal {
    Principal::assumed_role(
        "arn:aws:sts::111122223333:assumed-role/App/worker-1",
        "arn:aws:iam::111122223333:role/App",
    )
    .with_user_id("AROAEXAMPLEROLE000001:worker-1")
}

fn context(who: &Principal) -> Context {
    let mut ctx = Context::new();
    who.fill_context(&mut ctx);
    ctx.set("aws:PrincipalTag/team", "blue");
    ctx.set("aws:PrincipalTag/env", "prod");
    ctx.set("aws:SourceIp", "10.1.2.3");
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", "2025-06-01T12:00:00Z");
    ctx.set("aws:EpochTime", "1748779200");
    ctx.set("aws:MultiFactorAuthPresent", "false");
    ctx.set("aws:RequestedRegion", "us-east-1");
    ctx.set("aws:TokenIssueTime", "2025-06-01T11:00:00Z");
    ctx
}

fn typical(c: &mut Criterion) {
    // 10 policies x 10 statements; policy 0 carries the deciding statement.
    let policies: Vec<Policy> = (0..10)
        .map(|p| {
            let svc = SERVICES[p];
            let mut stmts: Vec<String> = (0..10).map(|i| statement(p * 10 + i + 1, svc)).collect();
            if p == 0 {
                stmts[9] = DECIDER.to_owned();
            }
            Policy::parse(&policy_doc(stmts.into_iter()), PolicyKind::Identity).unwrap()
        })
        .collect();
    let labels: Vec<String> = (0..10).map(|i| format!("policy-{i}")).collect();
    let mut set = PolicySet::new();
    for (p, l) in policies.iter().zip(&labels) {
        set = set.identity(p, l, PolicySource::UserManaged);
    }
    let who = role();
    let ctx = context(&who);
    let req = Request::new(
        &who,
        "s3:GetObject",
        "arn:aws:s3:::corp-data/home/blue/report.csv",
        &ctx,
    );
    assert_eq!(evaluate(&req, &set).effect, Effect::Allow);
    let denied = Request::new(
        &who,
        "s3:GetObject",
        "arn:aws:s3:::corp-data/home/red/x",
        &ctx,
    );
    assert_eq!(evaluate(&denied, &set).effect, Effect::ImplicitDeny);

    let mut g = c.benchmark_group("typical");
    g.bench_function("role_10_policies_100_statements/allow", |b| {
        b.iter(|| black_box(evaluate(black_box(&req), &set).effect))
    });
    g.bench_function("role_10_policies_100_statements/implicit_deny", |b| {
        b.iter(|| black_box(evaluate(black_box(&denied), &set).effect))
    });
    g.finish();
}

fn large(c: &mut Criterion) {
    let who = role();
    let ctx = context(&who);
    let mut g = c.benchmark_group("large");
    for n in [1_000usize, 10_000, 100_000] {
        // Policies are capped at 1,000 statements (~127 KB, under the 131,072-character wire
        // limit), so 100,000 statements are 100 policies.
        let count = (n / 1_000).max(10);
        let per = n / count;
        let policies: Vec<Policy> = (0..count)
            .map(|p| {
                let stmts = (0..per).map(|i| {
                    let k = p * per + i;
                    statement(k + 1, SERVICES[k % SERVICES.len()])
                });
                Policy::parse_with_limit(&policy_doc(stmts), PolicyKind::Identity, usize::MAX)
                    .unwrap()
            })
            .collect();
        let mut set = PolicySet::new();
        for p in &policies {
            set = set.identity(p, "p", PolicySource::UserManaged);
        }
        // Statement 315 (`sqs:CreateObject315` on `.../thing/315/*`, with a condition) exists at
        // every size, so each size answers the same question with a real match.
        let req = Request::new(
            &who,
            "sqs:CreateObject315",
            "arn:aws:sqs:us-east-1:111122223333:thing/315/x",
            &ctx,
        );
        assert_eq!(evaluate(&req, &set).effect, Effect::Allow);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("statements", n), &req, |b, req| {
            b.iter(|| black_box(evaluate(black_box(req), &set).effect))
        });
    }
    g.finish();
}

/// A ~6 KB managed policy (just under the 6,144-character quota).
pub fn six_kb_policy() -> String {
    let mut stmts = Vec::new();
    let mut i = 0;
    loop {
        let s = statement(i + 1, SERVICES[i % SERVICES.len()]);
        let candidate = policy_doc(stmts.iter().cloned().chain([s.clone()]));
        if policy::non_whitespace_len(&candidate) > 6_100 {
            break;
        }
        stmts.push(s);
        i += 1;
    }
    policy_doc(stmts.into_iter())
}

fn parse(c: &mut Criterion) {
    let doc = six_kb_policy();
    let mut note = String::new();
    let _ = write!(note, "{} chars", doc.len());
    Policy::parse(&doc, PolicyKind::Identity).unwrap();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("6kb_policy", |b| {
        b.iter(|| black_box(Policy::parse(black_box(&doc), PolicyKind::Identity).unwrap()))
    });
    g.finish();
}

/// One statement whose pattern cannot match, against a request built to make a backtracking
/// matcher try every alignment: `*` + 5,000 × `a` + `b` against 50,000 × `a`, in each place a
/// pattern can appear. `…_middle` adds a trailing `*`, so the piece is searched for rather than
/// anchored at the end; `?` pieces use the bit-parallel finder (79 words for 5,001 tokens).
fn adversarial(c: &mut Criterion) {
    let who = role();
    let a5k = "a".repeat(5_000);
    let a50k = "a".repeat(50_000);
    let a_q = "a?".repeat(2_500);
    // 500 distinct literals, each once, 4,500 `?` between them: every literal takes the sparse
    // path (read one character at a time). The value repeats the piece with its last literal
    // wrong, so one alignment per period runs through all 79 words before it fails.
    let sparse: Vec<char> = (0..5_000u32)
        .map(|i| {
            if i % 10 == 0 {
                char::from_u32(0x4e00 + i / 10).unwrap_or('x')
            } else {
                '?'
            }
        })
        .collect();
    let sparse_piece: String = sparse.iter().collect();
    let mut period: String = sparse
        .iter()
        .map(|&c| if c == '?' { 'a' } else { c })
        .collect();
    period.pop();
    period.push('b');
    let sparse_value: String = period.chars().cycle().take(50_000).collect();
    let arn_50k = format!("arn:aws:s3:::{a50k}");
    // 500 colon-separated chunks of 99 × `a` after the service: many places for each segment.
    let chunks = format!(
        "arn:aws:s3:x:{}",
        format!("{}:", "a".repeat(99)).repeat(500)
    );
    let like = |p: &str| {
        format!(
            r#""Action":"s3:GetObject","Resource":"*","Condition":{{"StringLike":{{"aws:UserAgent":"{p}"}}}}"#
        )
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("string_like", like(&format!("*{a5k}b")), "*", &a50k),
        ("string_like_middle", like(&format!("*{a5k}b*")), "*", &a50k),
        (
            "string_like_question_marks",
            like(&format!("*{a_q}b")),
            "*",
            &a50k,
        ),
        (
            "string_like_question_marks_middle",
            like(&format!("*{a_q}b*")),
            "*",
            &a50k,
        ),
        (
            "string_like_sparse_question_marks_middle",
            like(&format!("*{sparse_piece}b*")),
            "*",
            &sparse_value,
        ),
        (
            "arn_like_middle",
            format!(
                r#""Action":"s3:GetObject","Resource":"*","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::*{a5k}b*"}}}}"#
            ),
            "*",
            &arn_50k,
        ),
        (
            "action_middle",
            format!(r#""Action":"s3:*{a5k}b*","Resource":"*""#),
            "*",
            "",
        ),
        (
            "resource_middle",
            format!(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::*{a5k}b*""#),
            &arn_50k,
            "",
        ),
        (
            "resource_open_segments",
            format!(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:*:*:{a5k}b*""#),
            &chunks,
            "",
        ),
    ];
    // Action names are matched case-insensitively: upper case exercises the folding path.
    let action_50k = format!("s3:{}", "A".repeat(50_000));
    let mut g = c.benchmark_group("adversarial");
    for (name, stmt, resource, value) in &cases {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow",{stmt}}}}}"#);
        let p = Policy::parse_with_limit(&doc, PolicyKind::Identity, usize::MAX).unwrap();
        let set = PolicySet::new().identity(&p, "p", PolicySource::User);
        let mut ctx = context(&who);
        ctx.set("aws:UserAgent", *value);
        ctx.set("aws:SourceArn", *value);
        let action = if name.starts_with("action") {
            action_50k.as_str()
        } else {
            "s3:GetObject"
        };
        let req = Request::new(&who, action, resource, &ctx);
        assert_eq!(evaluate(&req, &set).effect, Effect::ImplicitDeny, "{name}");
        g.bench_function(*name, |b| {
            b.iter(|| black_box(evaluate(black_box(&req), &set).effect))
        });
    }
    g.finish();
}

criterion_group!(benches, typical, large, parse, adversarial);
criterion_main!(benches);
