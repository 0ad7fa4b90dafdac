//! Evaluation allocates nothing on the common path: a counting global allocator proves it.

use std::alloc::System;

use policy::{
    Context, Effect, Policy, PolicyKind, PolicySet, PolicySource, Principal, Request, evaluate,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The counters are process-wide: tests take turns so that one's setup is not counted in
/// another's region.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn evaluation_does_not_allocate() {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let identity = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Home","Effect":"Allow","Action":["s3:GetObject","s3:List*"],
           "Resource":"arn:aws:s3:::corp/home/${aws:PrincipalTag/team}/*",
           "Condition":{"StringEquals":{"aws:PrincipalTag/team":["blue","red"]},
                        "IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
                        "Bool":{"aws:SecureTransport":"true"},
                        "ForAllValues:StringLike":{"aws:TagKeys":["env*"]},
                        "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
                        "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/App"}}},
          {"Effect":"Deny","NotAction":"s3:*","Resource":"*"},
          {"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*"}]}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let boundary = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::Boundary,
    )
    .unwrap();
    let who = Principal::assumed_role(
        "arn:aws:sts::111122223333:assumed-role/App/s",
        "arn:aws:iam::111122223333:role/App",
    );
    let mut ctx = Context::new();
    who.fill_context(&mut ctx);
    ctx.set("aws:PrincipalTag/team", "blue");
    ctx.set("aws:SourceIp", "10.1.2.3");
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", "2025-01-01T00:00:00Z");
    ctx.insert("aws:TagKeys", ["env", "envx"]);
    let set = PolicySet::new()
        .identity(&identity, "inline", PolicySource::Role)
        .boundary(&boundary, "b");
    let allow = Request::new(&who, "s3:GetObject", "arn:aws:s3:::corp/home/blue/x", &ctx);
    let deny = Request::new(&who, "ec2:RunInstances", "*", &ctx);
    let implicit = Request::new(&who, "s3:GetObject", "arn:aws:s3:::corp/home/red/x", &ctx);
    // Warm up (nothing lazy should exist, but be fair).
    evaluate(&allow, &set);

    let region = Region::new(GLOBAL);
    let a = evaluate(&allow, &set);
    let d = evaluate(&deny, &set);
    let i = evaluate(&implicit, &set);
    let stats = region.change();
    assert_eq!(a.effect, Effect::Allow);
    assert_eq!(d.effect, Effect::ExplicitDeny);
    assert_eq!(i.effect, Effect::ImplicitDeny);
    assert_eq!(
        stats.allocations + stats.reallocations,
        0,
        "evaluate allocated: {stats:?}"
    );
}

/// The linear-time matchers on realistic patterns: middle pieces with `?`, open ARN segments,
/// component-wise ARN conditions with a variable, a set operator.
#[test]
fn wildcard_matching_does_not_allocate() {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let identity = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":["ec2:*Instance?","logs:Put*Events"],
           "Resource":["arn:aws:ec2:*:111122223333:instance/*","arn:aws:logs:*:*:log-group:/aws/*:*"],
           "Condition":{"StringLike":{"aws:UserAgent":"*aws-cli/2.??.? *exec-env/*"},
                        "ArnLike":{"aws:SourceArn":"arn:aws:sns:*:${aws:PrincipalAccount}:*"},
                        "ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"},
                        "ForAnyValue:StringLike":{"aws:TagKeys":"*-team-?"}}}]}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let who = Principal::assumed_role(
        "arn:aws:sts::111122223333:assumed-role/App/s",
        "arn:aws:iam::111122223333:role/App",
    );
    let mut ctx = Context::new();
    who.fill_context(&mut ctx);
    ctx.set(
        "aws:UserAgent",
        "aws-cli/2.15.0 Python/3.11 Linux/6.1 exec-env/EC2 command/ec2.start-instances",
    );
    ctx.set("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:alerts");
    ctx.insert("aws:TagKeys", ["cost-center", "blue-team-a"]);
    let set = PolicySet::new().identity(&identity, "inline", PolicySource::Role);
    let ec2 = Request::new(
        &who,
        "ec2:StartInstances",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
        &ctx,
    );
    let logs = Request::new(
        &who,
        "logs:PutLogEvents",
        "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/f:log-stream:x",
        &ctx,
    );
    let miss = Request::new(
        &who,
        "ec2:StopInstances",
        "arn:aws:ec2:us-east-1:444455556666:instance/i-0abc",
        &ctx,
    );
    evaluate(&ec2, &set);

    let region = Region::new(GLOBAL);
    let a = evaluate(&ec2, &set);
    let b = evaluate(&logs, &set);
    let c = evaluate(&miss, &set);
    let stats = region.change();
    assert_eq!(a.effect, Effect::Allow);
    assert_eq!(b.effect, Effect::Allow);
    assert_eq!(c.effect, Effect::ImplicitDeny);
    assert_eq!(
        stats.allocations + stats.reallocations,
        0,
        "evaluate allocated: {stats:?}"
    );
}
