//! Hostile and broken input: errors with positions, bounded work, the scan goes on.

use mamori_config::{scan_paths, scan_source, DiagnosticLevel, Limits, Settings};

#[test]
fn invalid_yaml_reports_position_and_scan_continues() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a-broken.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b-broken.json"),
        "{\n  \"kind\": \"Pod\",\n  \"apiVersion\" \"v1\"\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("c-ok.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n}\nspec: {type: NodePort}\n").unwrap();
    let r = scan_paths(&[dir.path().to_path_buf()], &Settings::default()).unwrap();
    assert_eq!(r.diagnostics.len(), 2, "{:?}", r.diagnostics);
    let json = &r.diagnostics[1];
    assert_eq!(json.level, DiagnosticLevel::Error);
    assert_eq!(json.pos.map(|p| p.line), Some(3), "{json}");
    assert!(json.to_string().contains("b-broken.json:3:"), "{json}");
    assert!(r.findings.iter().any(|f| f.rule_id == "MK-K8S-011"));
}

#[test]
fn binary_and_oversized_files_are_skipped_with_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bin.yaml"), [0u8, 159, 146, 150, 0, 1]).unwrap();
    std::fs::write(dir.path().join("big.yaml"), "a: b\n".repeat(1000)).unwrap();
    let settings = Settings {
        limits: Limits {
            max_bytes: 1000,
            ..Limits::default()
        },
        ..Settings::default()
    };
    let r = scan_paths(&[dir.path().to_path_buf()], &settings).unwrap();
    let msgs: Vec<String> = r.diagnostics.iter().map(|d| d.message.clone()).collect();
    assert!(msgs[0].contains("too large"), "{msgs:?}");
    assert!(msgs[1].contains("binary"), "{msgs:?}");
}

#[test]
fn alias_bomb_is_refused_quickly() {
    let mut t = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='j' {
        t.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    let start = std::time::Instant::now();
    let r = scan_source("bomb.yaml", &t, &Settings::default());
    assert!(start.elapsed().as_secs() < 5);
    assert_eq!(r.diagnostics.len(), 1);
    assert!(
        r.diagnostics[0].message.contains("nodes"),
        "{:?}",
        r.diagnostics
    );
}

#[test]
fn deep_nesting_is_refused() {
    for (name, text) in [
        ("deep.yaml", "[".repeat(50_000)),
        ("deep.json", "[".repeat(50_000)),
        (
            "deep2.yaml",
            "a:\n".to_string()
                + &(1..300)
                    .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                    .collect::<String>(),
        ),
    ] {
        let r = scan_source(name, &text, &Settings::default());
        assert_eq!(r.diagnostics.len(), 1, "{name}");
        let m = &r.diagnostics[0].message;
        // Our own depth limit, or the YAML parser's recursion limit (which fires first on flow
        // collections).
        assert!(
            m.contains("nesting") || m.contains("recursion limit"),
            "{name}: {m}"
        );
    }
}

#[test]
fn missing_path_is_an_error() {
    let e = scan_paths(&["/nonexistent/mamori".into()], &Settings::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/mamori"));
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "",
        "---\n---\n",
        "- - - -",
        "kind: List\nitems: 3\n",
        "apiVersion: v1\nkind: PodList\nitems: [1, null, {kind: Pod}]\n",
        "Resources: {A: {Type: AWS::EC2::SecurityGroup, Properties: {SecurityGroupIngress: 7}}}",
        "Resources: [1]",
        "{\"Resources\": {\"A\": {\"Type\": 5}}}",
        "FROM\nRUN\nCOPY --from=\nUSER\nEXPOSE 99999999999999999999\n",
        "RUN <<\n",
        "\u{feff}apiVersion: v1\nkind: Pod\n",
        "? [a]\n: b\n",
    ];
    for s in samples {
        for name in ["x.yaml", "x.json", "Dockerfile", ".env"] {
            let _ = scan_source(name, s, &Settings::default());
        }
    }
}

#[test]
fn env_files_are_scanned_for_secrets() {
    let r = scan_source(
        ".env",
        "# local\nDB_HOST=db\nDB_PASSWORD=hunter22x\nTOKEN=${TOKEN}\n",
        &Settings::default(),
    );
    let got: Vec<(&str, Option<u32>, Option<u32>)> = r
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.location.line, f.location.column))
        .collect();
    assert_eq!(got, vec![("MK-SEC-001", Some(3), Some(13))]);
    assert!(!r.findings[0].message.contains("hunter22x"));
}
