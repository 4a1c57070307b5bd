//! OCI image layouts and docker archives: index → manifest → config and layer list.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::blobs::{parse_json, read_doc, BlobStore, Digest};
use crate::error::OpenError;
use crate::source::Platform;

/// Media types of indexes (OCI and Docker manifest lists).
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Largest index, manifest or config read.
pub const MAX_DOC_BYTES: u64 = 8 << 20;

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<PlatformDoc>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct PlatformDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The parts of the image configuration the scanner uses.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Creation time, as written.
    #[serde(default)]
    pub created: Option<String>,
    /// Runtime defaults.
    #[serde(default)]
    pub config: ContainerConfig,
    /// Layer diff ids.
    #[serde(default)]
    pub rootfs: RootFs,
    /// Build history.
    #[serde(default)]
    pub history: Vec<History>,
}

/// Runtime defaults of an image (`config` in the image configuration).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `USER`.
    #[serde(default)]
    pub user: Option<String>,
    /// `ENV` as `NAME=value`.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// `EXPOSE` ports (`22/tcp`).
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `HEALTHCHECK`.
    #[serde(default)]
    pub healthcheck: Option<serde_json::Value>,
    /// `ENTRYPOINT`.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `LABEL`s.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `rootfs` of the image configuration.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct RootFs {
    /// Digests of the uncompressed layers.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One build step.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct History {
    /// The instruction (`/bin/sh -c #(nop) ADD …`).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Whether the step made no layer.
    #[serde(default)]
    pub empty_layer: bool,
}

/// One layer to read.
#[derive(Debug, Clone)]
pub struct LayerDesc {
    /// Member name in the store.
    pub member: String,
    /// Digest the stored bytes must have (blob digest), if known.
    pub blob_digest: Option<Digest>,
    /// Digest the uncompressed tar must have (diff id), if it is to be checked.
    pub diff_id: Option<Digest>,
    /// Media type, if known.
    pub media_type: String,
    /// Size in bytes as declared.
    pub size: u64,
}

impl LayerDesc {
    /// The layer's name in reports: the blob digest, else the diff id, else the member name.
    pub fn id(&self) -> String {
        self.blob_digest
            .as_ref()
            .or(self.diff_id.as_ref())
            .map_or_else(|| self.member.clone(), ToString::to_string)
    }
}

/// An opened image: its configuration and layers.
#[derive(Debug, Clone)]
pub struct OpenedImage {
    /// Manifest digest, when the image came from a layout.
    pub manifest_digest: Option<String>,
    /// Config digest (the image id).
    pub config_digest: Option<String>,
    /// Tags of the image, as named in the source.
    pub tags: Vec<String>,
    /// The configuration.
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<LayerDesc>,
}

/// Opens the image `tag` (or the only one) of an OCI layout in `store`.
pub(crate) fn open_layout(
    store: &dyn BlobStore,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<OpenedImage, OpenError> {
    let layout = read_doc(store, "oci-layout", None, 4096)?;
    let _: serde_json::Value = parse_json("oci-layout", &layout)?;
    let index: Index = parse_json(
        "index.json",
        &read_doc(store, "index.json", None, MAX_DOC_BYTES)?,
    )?;
    let name_of = |d: &Descriptor| {
        d.annotations
            .get("org.opencontainers.image.ref.name")
            .cloned()
    };
    let chosen = match tag {
        Some(t) => index
            .manifests
            .iter()
            .find(|d| {
                name_of(d)
                    .is_some_and(|n| n == t || n.rsplit_once(':').is_some_and(|(_, x)| x == t))
            })
            .ok_or_else(|| OpenError::Missing {
                what: "tag",
                name: format!(
                    "{t} (index.json names: {})",
                    index
                        .manifests
                        .iter()
                        .filter_map(name_of)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?,
        None => match index.manifests.as_slice() {
            [one] => one,
            [] => {
                return Err(OpenError::Unsupported(
                    "index.json lists no manifests".into(),
                ))
            }
            many => {
                // Several entries: they may be platforms of one image.
                pick_platform(many, platform)?
            }
        },
    };
    let tags = name_of(chosen).into_iter().collect();
    let digest = Digest::parse(&chosen.digest)?;
    let name = store.manifest_name(&digest);
    resolve(
        store,
        name,
        Some(digest),
        chosen.media_type.clone(),
        platform,
        tags,
    )
}

/// Opens `reference` (a tag or a digest) of a registry repository.
pub(crate) fn open_registry(
    store: &dyn BlobStore,
    reference: &str,
    platform: &Platform,
    tags: Vec<String>,
) -> Result<OpenedImage, OpenError> {
    let expect = Digest::parse(reference).ok();
    let name = format!("manifests/{reference}");
    resolve(store, name, expect, String::new(), platform, tags)
}

/// Follows indexes (by platform) down to an image manifest, then reads its config. Every
/// document fetched by digest is checked against it.
fn resolve(
    store: &dyn BlobStore,
    mut name: String,
    mut expect: Option<Digest>,
    mut media: String,
    platform: &Platform,
    tags: Vec<String>,
) -> Result<OpenedImage, OpenError> {
    for _ in 0..4 {
        let bytes = read_doc(store, &name, expect.as_ref(), MAX_DOC_BYTES)?;
        let manifest_digest = match &expect {
            Some(d) => d.to_string(),
            None => {
                let mut h = Digest::parse(&format!("sha256:{}", "0".repeat(64)))?.hasher();
                h.update(&bytes);
                h.finish()
            }
        };
        let doc = format!("manifest {manifest_digest}");
        let m: Manifest = parse_json(&doc, &bytes)?;
        let is_index = INDEX_TYPES.contains(&media.as_str())
            || INDEX_TYPES.contains(&m.media_type.as_str())
            || (m.config.is_none() && !m.manifests.is_empty());
        if is_index {
            let d = pick_platform(&m.manifests, platform)?;
            let digest = Digest::parse(&d.digest)?;
            name = store.manifest_name(&digest);
            expect = Some(digest);
            media = d.media_type.clone();
            continue;
        }
        let config_desc = m
            .config
            .ok_or_else(|| OpenError::Unsupported(format!("{doc}: no config descriptor")))?;
        let config_digest = Digest::parse(&config_desc.digest)?;
        let config: ImageConfig = parse_json(
            &format!("config {config_digest}"),
            &read_doc(
                store,
                &config_digest.blob_path(),
                Some(&config_digest),
                MAX_DOC_BYTES,
            )?,
        )?;
        let layers = m
            .layers
            .iter()
            .map(|l| {
                let d = Digest::parse(&l.digest)?;
                Ok(LayerDesc {
                    member: d.blob_path(),
                    blob_digest: Some(d),
                    diff_id: None,
                    media_type: l.media_type.clone(),
                    size: l.size,
                })
            })
            .collect::<Result<Vec<_>, OpenError>>()?;
        return Ok(OpenedImage {
            manifest_digest: Some(manifest_digest),
            config_digest: Some(config_digest.to_string()),
            tags,
            config,
            layers,
        });
    }
    Err(OpenError::Unsupported(
        "indexes nested more than 4 deep".into(),
    ))
}

fn pick_platform<'a>(list: &'a [Descriptor], want: &Platform) -> Result<&'a Descriptor, OpenError> {
    let matches = |d: &&Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (want.variant.is_none() || p.variant == want.variant)
        })
    };
    if let Some(d) = list.iter().find(matches) {
        return Ok(d);
    }
    if let [only] = list {
        if only.platform.is_none() {
            return Ok(only);
        }
    }
    let available = list
        .iter()
        .map(|d| match &d.platform {
            Some(p) => format!(
                "{}/{}{}",
                p.os,
                p.architecture,
                p.variant
                    .as_ref()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            ),
            None => d
                .annotations
                .get("org.opencontainers.image.ref.name")
                .map_or_else(|| "unknown".to_string(), |n| format!("tag {n}")),
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(OpenError::NoPlatform {
        wanted: want.to_string(),
        available,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// Opens the first image of a docker archive (`docker save` format) through `manifest.json`.
/// Layers are checked against the config's diff ids; the config against its file name when the
/// name is its digest.
pub(crate) fn open_docker_archive(store: &dyn BlobStore) -> Result<OpenedImage, OpenError> {
    let entries: Vec<DockerManifestEntry> = parse_json(
        "manifest.json",
        &read_doc(store, "manifest.json", None, MAX_DOC_BYTES)?,
    )?;
    let e = entries
        .into_iter()
        .next()
        .ok_or_else(|| OpenError::Unsupported("manifest.json lists no images".into()))?;
    let stem = e
        .config
        .trim_end_matches(".json")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let config_digest = Digest::parse(&format!("sha256:{stem}")).ok();
    let config: ImageConfig = parse_json(
        &e.config,
        &read_doc(store, &e.config, config_digest.as_ref(), MAX_DOC_BYTES)?,
    )?;
    if config.rootfs.diff_ids.len() != e.layers.len() {
        return Err(OpenError::Unsupported(format!(
            "manifest.json lists {} layers but the config has {} diff ids",
            e.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let layers = e
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(member, diff)| {
            Ok(LayerDesc {
                member: member.clone(),
                blob_digest: None,
                diff_id: Some(Digest::parse(diff)?),
                media_type: String::new(),
                size: 0,
            })
        })
        .collect::<Result<Vec<_>, OpenError>>()?;
    Ok(OpenedImage {
        manifest_digest: None,
        config_digest: config_digest.map(|d| d.to_string()),
        tags: e.repo_tags.unwrap_or_default(),
        config,
        layers,
    })
}

/// Where [`open_documents`] starts reading an image held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentsEntry<'a> {
    /// An OCI image layout: `oci-layout`, `index.json`, then `blobs/ALG/HEX`; the tag picks an
    /// entry of `index.json` as `oci:DIR:TAG` does.
    Layout {
        /// Tag (`org.opencontainers.image.ref.name`), or `None` for the only entry.
        tag: Option<&'a str>,
    },
    /// A docker archive: `manifest.json`, then the files it names.
    DockerArchive,
    /// A registry repository: `manifests/REFERENCE` (a tag, or a digest that the manifest must
    /// have), indexes followed through `manifests/ALG:HEX`, config at `blobs/ALG/HEX`.
    Registry {
        /// Tag or digest.
        reference: &'a str,
    },
}

/// The members of an image held in memory, by name.
struct MemoryStore<'a> {
    members: &'a BTreeMap<String, Vec<u8>>,
    registry: bool,
}

impl BlobStore for MemoryStore<'_> {
    fn open(&self, name: &str) -> Result<Box<dyn std::io::Read + '_>, OpenError> {
        self.members
            .get(name)
            .map(|b| Box::new(b.as_slice()) as Box<dyn std::io::Read>)
            .ok_or_else(|| OpenError::Missing {
                what: "document",
                name: name.to_string(),
            })
    }

    fn manifest_name(&self, digest: &Digest) -> String {
        if self.registry {
            format!("manifests/{digest}")
        } else {
            digest.blob_path()
        }
    }
}

/// Reads an image's index, manifests and config from documents held in memory, by the same
/// code and with the same checks (digests, size limits, platform choice, nesting bound) as a
/// layout on disk, a docker archive or a registry pull. Layers are listed, not read.
///
/// This is the entry point for callers that already hold the documents (and for the fuzz
/// target, which names its documents by their real digests so that every check passes and the
/// parsers behind them are reached).
pub fn open_documents(
    members: &BTreeMap<String, Vec<u8>>,
    entry: DocumentsEntry<'_>,
    platform: &Platform,
) -> Result<OpenedImage, OpenError> {
    let store = MemoryStore {
        members,
        registry: matches!(entry, DocumentsEntry::Registry { .. }),
    };
    match entry {
        DocumentsEntry::Layout { tag } => open_layout(&store, tag, platform),
        DocumentsEntry::DockerArchive => open_docker_archive(&store),
        DocumentsEntry::Registry { reference } => {
            open_registry(&store, reference, platform, vec![reference.to_string()])
        }
    }
}
