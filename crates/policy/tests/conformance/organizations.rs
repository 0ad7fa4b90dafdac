//! §4.8 step 2: SCP levels.
use crate::common::*;
use policy::{Effect, PolicyType};

#[test]
fn service_control_policies() {
    run_scenarios(&[
        Scenario {
            rule: "§4.8 step 2: every SCP level allows",
            identity: &[ALLOW_S3_GET],
            scps: &[&[ALLOW_ALL], &[ALLOW_S3_GET]],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 2: one level lacks an allow → denied as SCP",
            identity: &[ALLOW_S3_GET],
            scps: &[&[ALLOW_ALL], &[ALLOW_IAM_ONLY]],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Scp),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 2: SCP never grants",
            scps: &[&[ALLOW_ALL]],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 1: explicit deny in an SCP",
            identity: &[ALLOW_ALL],
            scps: &[&[ALLOW_ALL, DENY_S3_GET]],
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Scp),
            ..BASE
        },
        Scenario {
            rule: "§4.8 root is subject to SCPs",
            who: Who::Root,
            scps: &[&[ALLOW_IAM_ONLY]],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Scp),
            ..BASE
        },
    ]);
}
