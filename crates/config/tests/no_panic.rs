//! Property test: arbitrary and mutated inputs never panic any reader or check.

use mamori_config::{scan_source, Settings};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: b}\nspec:\n  containers:\n  - name: c\n    image: x:latest\n    env: [{name: PASSWORD, value: abcdefgh}]\n",
    "apiVersion: v1\nkind: List\nitems:\n- kind: RoleList\n  apiVersion: v1\n  items: [{kind: Role, apiVersion: v1, rules: [{verbs: ['*'], resources: [secrets]}]}]\n",
    "Resources:\n  S:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      SecurityGroupIngress: [{IpProtocol: -1, CidrIp: !Ref P}]\n",
    "{\"Resources\": {\"E\": {\"Type\": \"AWS::EKS::Cluster\", \"Properties\": {\"ResourcesVpcConfig\": {}}}}}",
    "# escape=`\nFROM a AS b\nRUN <<EOF\ncurl -k x | sh\nEOF\nCOPY --from=b / /\nUSER root\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}", name in prop::sample::select(vec!["a.yaml", "a.json", "Dockerfile", ".env"])) {
        let _ = scan_source(name, &text, &Settings::default());
    }

    #[test]
    fn mutated_seeds_never_panic(seed in prop::sample::select(SEEDS.to_vec()), cut in 0usize..400, insert in ".{0,8}", name in prop::sample::select(vec!["a.yaml", "a.json", "Dockerfile"])) {
        let mut s: String = seed.to_string();
        let at = s.char_indices().map(|(i, _)| i).nth(cut % s.chars().count().max(1)).unwrap_or(0);
        s.insert_str(at, &insert);
        let _ = scan_source(name, &s, &Settings::default());
        let truncated: String = seed.chars().take(cut).collect();
        let _ = scan_source(name, &truncated, &Settings::default());
    }
}
