//! Fuzzes the image document readers: OCI `index.json`, image indexes and Docker manifest lists
//! (platform choice, nesting), image manifests, docker-archive `manifest.json` and the image
//! config, then the image config checks on what was read.
//!
//! The input is a selector byte and up to eight documents separated by 0xFF bytes. Documents
//! refer to later ones by placeholders that the target fills in before storing them, so that
//! the digest checks pass and the parsers behind them are reached: `$N` becomes document N's
//! digest (`sha256:HEX`), `#N` its hex alone, `%N` its size (only N greater than the document's
//! own number, so no cycles). Document 0 is the entry (`index.json`, `manifest.json` or
//! `manifests/REF`); every other one is stored as `blobs/sha256/HEX`, `manifests/sha256:HEX` and
//! `HEX.json`.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use mamori_image::oci::{open_documents, DocumentsEntry};
use mamori_image::{checks, Inventory, Platform};
use sha2::Digest as _;

const MAX_DOCS: usize = 8;

fn fill(doc: &[u8], own: usize, digests: &[Option<(String, usize)>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len());
    let mut i = 0;
    while i < doc.len() {
        let c = doc[i];
        if matches!(c, b'$' | b'#' | b'%') && i + 1 < doc.len() && doc[i + 1].is_ascii_digit() {
            let n = usize::from(doc[i + 1] - b'0');
            if n > own {
                if let Some(Some((hex, size))) = digests.get(n) {
                    match c {
                        b'$' => out.extend_from_slice(format!("sha256:{hex}").as_bytes()),
                        b'#' => out.extend_from_slice(hex.as_bytes()),
                        _ => out.extend_from_slice(size.to_string().as_bytes()),
                    }
                    i += 2;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let raw: Vec<&[u8]> = rest.split(|&b| b == 0xFF).take(MAX_DOCS).collect();
    let mut filled: Vec<Vec<u8>> = vec![Vec::new(); raw.len()];
    let mut digests: Vec<Option<(String, usize)>> = vec![None; raw.len()];
    for n in (0..raw.len()).rev() {
        let doc = fill(raw[n], n, &digests);
        digests[n] = Some((hex::encode(sha2::Sha256::digest(&doc)), doc.len()));
        filled[n] = doc;
    }
    let mut members = BTreeMap::new();
    for (n, doc) in filled.iter().enumerate().skip(1) {
        let hex = &digests[n].as_ref().expect("filled above").0;
        members.insert(format!("blobs/sha256/{hex}"), doc.clone());
        members.insert(format!("manifests/sha256:{hex}"), doc.clone());
        members.insert(format!("{hex}.json"), doc.clone());
    }
    let top = filled.first().cloned().unwrap_or_default();
    let top_digest = format!("sha256:{}", digests[0].as_ref().expect("one document").0);
    let platform = if selector & 0x10 == 0 {
        Platform::default()
    } else {
        Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        }
    };
    let entry = match selector % 5 {
        0 | 1 => {
            members.insert("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
            members.insert("index.json".into(), top);
            DocumentsEntry::Layout {
                tag: (selector % 5 == 1).then_some("latest"),
            }
        }
        2 => {
            members.insert("manifest.json".into(), top);
            DocumentsEntry::DockerArchive
        }
        3 => {
            members.insert("manifests/latest".into(), top);
            DocumentsEntry::Registry { reference: "latest" }
        }
        _ => {
            members.insert(format!("manifests/{top_digest}"), top);
            DocumentsEntry::Registry {
                reference: &top_digest,
            }
        }
    };
    if let Ok(image) = open_documents(&members, entry, &platform) {
        for l in &image.layers {
            let _ = l.id();
        }
        let inv = Inventory {
            source: "fuzz".into(),
            tags: image.tags,
            manifest_digest: image.manifest_digest,
            image_id: image.config_digest,
            config: Some(image.config),
            ..Inventory::default()
        };
        let _ = checks::check(&inv);
        let _ = serde_json::to_vec(&inv);
    }
});
