//! Hostile input never panics: random bytes, and random JSON in every part of a review.

use mamori_admission::review::review;
use mamori_policy::{Engine, Policy};
use proptest::prelude::*;
use serde_json::{json, Value};

fn engine() -> Engine {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/seed-cloudone.yaml");
    let mut policy = Policy::load(&p).unwrap();
    policy
        .rules
        .extend(Policy::pod_security_only("restricted:v1.20".parse().unwrap()).rules);
    Engine::new(policy)
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z/:._-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("spec".to_string()),
                    Just("containers".to_string()),
                    Just("securityContext".to_string()),
                    Just("metadata".to_string()),
                    Just("volumes".to_string()),
                    Just("image".to_string()),
                    Just("name".to_string()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = review(&engine(), &data, time::OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn random_objects(object in any_json(), kind in prop_oneof![Just("Pod"), Just("Deployment"), Just("CronJob"), Just("PodExecOptions")],
                      op in prop_oneof![Just("CREATE"), Just("UPDATE"), Just("CONNECT"), Just("DELETE")]) {
        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "x", "kind": {"kind": kind}, "resource": {"resource": "pods"},
                "subResource": if op == "CONNECT" { "exec" } else { "" },
                "operation": op, "namespace": "a", "userInfo": {"username": "u"},
                "object": object.clone(), "oldObject": object}});
        let r = review(&engine(), body.to_string().as_bytes(), time::OffsetDateTime::UNIX_EPOCH);
        let r = r.expect("a well-formed review is always answered");
        prop_assert_eq!(&r.response()["response"]["uid"], "x");
    }
}
