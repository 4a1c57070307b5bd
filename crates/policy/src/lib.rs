//! mamori's admission policy engine: pure and synchronous.
//!
//! - [`pss`]: the Pod Security Standards checks exactly as upstream Pod Security Admission runs
//!   them at every version (`v1.0` … `latest`): [`pss::check_pod`] on a [`pss::PodLike`].
//!
//! ```
//! use mamori_policy::pss::{check_pod, Level, PodLike, Version};
//! let pod = serde_json::json!({"spec": {"hostNetwork": true, "containers": [{"name": "c"}]}});
//! let pod = PodLike::from_value(&pod).unwrap();
//! assert_eq!(check_pod(Level::Baseline, Version::Latest, &pod)[0].check, "hostNamespaces");
//! ```

pub mod pss;
