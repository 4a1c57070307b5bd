//! NIST SP 800-190 ("Application Container Security Guide"): risk areas, the risks of section 3
//! and the countermeasures of section 4.
//!
//! Section 3 lists the major risks in five areas (3.1 image … 3.5 host OS); section 4 gives one
//! countermeasure subsection per risk with the same numbering (4.1.1 answers 3.1.1, and so on).
//! Findings carry the risk id, and the countermeasure id is derived from it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A NIST SP 800-190 risk area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// 3.1 Image risks.
    Image,
    /// 3.2 Registry risks.
    Registry,
    /// 3.3 Orchestrator risks.
    Orchestrator,
    /// 3.4 Container risks.
    Container,
    /// 3.5 Host OS risks.
    Host,
}

impl Area {
    /// Every area, in the order of the guide.
    pub const ALL: [Area; 5] = [
        Area::Image,
        Area::Registry,
        Area::Orchestrator,
        Area::Container,
        Area::Host,
    ];

    /// The lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Image => "image",
            Area::Registry => "registry",
            Area::Orchestrator => "orchestrator",
            Area::Container => "container",
            Area::Host => "host",
        }
    }

    /// The section number of the area's risks, e.g. `3.1` for images.
    pub fn risk_section(self) -> &'static str {
        match self {
            Area::Image => "3.1",
            Area::Registry => "3.2",
            Area::Orchestrator => "3.3",
            Area::Container => "3.4",
            Area::Host => "3.5",
        }
    }

    /// The title of the area's risk section.
    pub fn title(self) -> &'static str {
        match self {
            Area::Image => "Image risks",
            Area::Registry => "Registry risks",
            Area::Orchestrator => "Orchestrator risks",
            Area::Container => "Container risks",
            Area::Host => "Host OS risks",
        }
    }

    /// The risks of this area, in the guide's order.
    pub fn risks(self) -> impl Iterator<Item = &'static Risk> {
        RISKS.iter().filter(move |r| r.area == self)
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that names no area.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown NIST SP 800-190 area {0:?} (expected image, registry, orchestrator, container or host)")]
pub struct ParseAreaError(String);

impl FromStr for Area {
    type Err = ParseAreaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Area::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseAreaError(s.to_string()))
    }
}

/// One risk of section 3 of the guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Risk {
    /// Its section id, e.g. `3.1.4`.
    pub id: &'static str,
    /// The area it belongs to.
    pub area: Area,
    /// The guide's title for it.
    pub title: &'static str,
}

impl Risk {
    /// The id of the countermeasure answering this risk: `3.x.y` → `4.x.y`.
    pub fn countermeasure(&self) -> String {
        format!("4{}", &self.id[1..])
    }
}

/// The risks of section 3, in order.
pub const RISKS: &[Risk] = &[
    risk("3.1.1", Area::Image, "Image vulnerabilities"),
    risk("3.1.2", Area::Image, "Image configuration defects"),
    risk("3.1.3", Area::Image, "Embedded malware"),
    risk("3.1.4", Area::Image, "Embedded clear text secrets"),
    risk("3.1.5", Area::Image, "Use of untrusted images"),
    risk("3.2.1", Area::Registry, "Insecure connections to registries"),
    risk("3.2.2", Area::Registry, "Stale images in registries"),
    risk("3.2.3", Area::Registry, "Insufficient authentication and authorization restrictions"),
    risk("3.3.1", Area::Orchestrator, "Unbounded administrative access"),
    risk("3.3.2", Area::Orchestrator, "Unauthorized access"),
    risk("3.3.3", Area::Orchestrator, "Poorly separated inter-container network traffic"),
    risk("3.3.4", Area::Orchestrator, "Mixing of workload sensitivity levels"),
    risk("3.3.5", Area::Orchestrator, "Orchestrator node trust"),
    risk("3.4.1", Area::Container, "Vulnerabilities within the runtime software"),
    risk("3.4.2", Area::Container, "Unbounded network access from containers"),
    risk("3.4.3", Area::Container, "Insecure container runtime configurations"),
    risk("3.4.4", Area::Container, "App vulnerabilities"),
    risk("3.4.5", Area::Container, "Rogue containers"),
    risk("3.5.1", Area::Host, "Large attack surface"),
    risk("3.5.2", Area::Host, "Shared kernel"),
    risk("3.5.3", Area::Host, "Host OS component vulnerabilities"),
    risk("3.5.4", Area::Host, "Improper user access rights"),
    risk("3.5.5", Area::Host, "Host OS file system tampering"),
];

const fn risk(id: &'static str, area: Area, title: &'static str) -> Risk {
    Risk { id, area, title }
}

/// Looks a risk up by its section id (`3.4.3`) or by its countermeasure id (`4.4.3`).
pub fn risk_by_id(id: &str) -> Option<&'static Risk> {
    let id = id.trim();
    let section = id.strip_prefix('4').map(|rest| format!("3{rest}"));
    let wanted = section.as_deref().unwrap_or(id);
    RISKS.iter().find(|r| r.id == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_has_five_risks_except_registry() {
        for area in Area::ALL {
            let n = area.risks().count();
            let expected = if area == Area::Registry { 3 } else { 5 };
            assert_eq!(n, expected, "{area}");
            assert!(area.risks().all(|r| r.id.starts_with(area.risk_section())));
        }
    }

    #[test]
    fn countermeasures_mirror_risks() {
        let r = risk_by_id("3.4.3").expect("known risk");
        assert_eq!(r.countermeasure(), "4.4.3");
        assert_eq!(risk_by_id("4.4.3"), Some(r));
        assert_eq!(risk_by_id("3.9.9"), None);
    }

    #[test]
    fn areas_parse_and_display() {
        for area in Area::ALL {
            assert_eq!(area.to_string().to_uppercase().parse::<Area>(), Ok(area));
        }
        assert!("network".parse::<Area>().is_err());
    }
}
