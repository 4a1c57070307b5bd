//! (stub for the lead's build; replaced by the ctx branch)
#![allow(missing_docs)]
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_labels: Option<BTreeMap<String, String>>,
    pub init_pid: u32,
    pub upperdir: Option<PathBuf>,
    pub pidns: Option<u64>,
}
impl ContainerInfo {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
    pub fn fields(&self) -> Vec<(&'static str, mamori_core::event::Value)> {
        vec![(
            "container.id",
            mamori_core::event::Value::Str(self.short_id().to_string()),
        )]
    }
}
#[derive(Debug, Clone, Default)]
pub struct RuntimeRoots(pub Vec<PathBuf>);
#[derive(Debug)]
pub struct ContainerResolver;
impl ContainerResolver {
    pub fn new(_roots: RuntimeRoots, _capacity: usize) -> Self {
        ContainerResolver
    }
    pub fn by_pid(&mut self, _pid: u32) -> Option<Arc<ContainerInfo>> {
        None
    }
    pub fn by_pidns(&mut self, _ns: u64) -> Option<Arc<ContainerInfo>> {
        None
    }
}
