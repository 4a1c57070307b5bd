//! `oci::open_documents`: the index, manifest and config readers on documents held in memory
//! (the fuzz target's entry point), with the same digest, platform and nesting checks as the
//! on-disk and registry sources.

use std::collections::BTreeMap;

use mamori_image::oci::{open_documents, DocumentsEntry};
use mamori_image::{OpenError, Platform};
use serde_json::json;
use sha2::Digest as _;

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// Stores `doc` under every name a digest reference may take; returns its digest.
fn put(members: &mut BTreeMap<String, Vec<u8>>, doc: &serde_json::Value) -> (String, usize) {
    let bytes = doc.to_string().into_bytes();
    let d = digest(&bytes);
    let hex = d.trim_start_matches("sha256:").to_string();
    members.insert(format!("blobs/sha256/{hex}"), bytes.clone());
    members.insert(format!("manifests/{d}"), bytes.clone());
    members.insert(format!("{hex}.json"), bytes.clone());
    (d, bytes.len())
}

fn config() -> serde_json::Value {
    json!({"architecture": "amd64", "os": "linux",
           "config": {"User": "app", "Env": ["A=1"]},
           "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "c".repeat(64))]},
           "history": [{"created_by": "ADD x /"}]})
}

fn manifest(members: &mut BTreeMap<String, Vec<u8>>) -> (String, usize) {
    let (cd, cs) = put(members, &config());
    put(
        members,
        &json!({"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cd, "size": cs},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": format!("sha256:{}", "b".repeat(64)), "size": 7}]}),
    )
}

fn index(entries: &[(String, usize, &str)]) -> serde_json::Value {
    let manifests: Vec<_> = entries
        .iter()
        .map(|(d, s, arch)| {
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
                   "size": s, "platform": {"os": "linux", "architecture": arch},
                   "annotations": {"org.opencontainers.image.ref.name": format!("tag-{arch}")}})
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": manifests})
}

#[test]
fn layout_docker_archive_and_registry_documents() {
    let mut m = BTreeMap::new();
    let (md, ms) = manifest(&mut m);
    m.insert(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    m.insert(
        "index.json".into(),
        index(&[(md.clone(), ms, "amd64")]).to_string().into_bytes(),
    );
    let img = open_documents(
        &m,
        DocumentsEntry::Layout {
            tag: Some("tag-amd64"),
        },
        &Platform::default(),
    )
    .expect("layout");
    assert_eq!(img.manifest_digest.as_deref(), Some(md.as_str()));
    assert_eq!(img.config.config.user.as_deref(), Some("app"));
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.tags, ["tag-amd64"]);

    // Registry by digest: the top document must have that digest.
    m.insert(
        format!("manifests/{md}"),
        m[&format!("blobs/sha256/{}", &md[7..])].clone(),
    );
    let img = open_documents(
        &m,
        DocumentsEntry::Registry { reference: &md },
        &Platform::default(),
    )
    .expect("registry");
    assert_eq!(img.layers[0].size, 7);

    // Docker archive: manifest.json names the config file by its digest.
    let cfg = config().to_string().into_bytes();
    let hex = digest(&cfg)[7..].to_string();
    m.insert(
        "manifest.json".into(),
        json!([{"Config": format!("{hex}.json"), "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}])
            .to_string()
            .into_bytes(),
    );
    let img = open_documents(&m, DocumentsEntry::DockerArchive, &Platform::default())
        .expect("docker archive");
    assert_eq!(img.tags, ["x:1"]);
    assert_eq!(img.layers[0].member, "l/layer.tar");
}

#[test]
fn digests_platforms_and_nesting_are_checked() {
    let mut m = BTreeMap::new();
    let (md, ms) = manifest(&mut m);
    // A document stored under another digest is refused.
    let wrong = format!("sha256:{}", "d".repeat(64));
    m.insert(
        format!("manifests/{wrong}"),
        m[&format!("manifests/{md}")].clone(),
    );
    let err = open_documents(
        &m,
        DocumentsEntry::Registry { reference: &wrong },
        &Platform::default(),
    )
    .expect_err("mismatch");
    assert!(matches!(err, OpenError::DigestMismatch { .. }), "{err}");

    // No entry for the wanted platform: the error lists what there is.
    let (list, _) = put(&mut m, &index(&[(md.clone(), ms, "arm64")]));
    m.insert(
        "manifests/latest".into(),
        m[&format!("manifests/{list}")].clone(),
    );
    let err = open_documents(
        &m,
        DocumentsEntry::Registry {
            reference: "latest",
        },
        &Platform::default(),
    )
    .expect_err("no platform");
    assert!(err.to_string().contains("linux/arm64"), "{err}");

    // Indexes nested five deep.
    let mut top = (md, ms);
    for _ in 0..5 {
        top = put(&mut m, &index(&[(top.0.clone(), top.1, "amd64")]));
    }
    let err = open_documents(
        &m,
        DocumentsEntry::Registry { reference: &top.0 },
        &Platform::default(),
    )
    .expect_err("too deep");
    assert!(err.to_string().contains("nested"), "{err}");
}
