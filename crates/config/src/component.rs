//! What `deploy` can deploy: the code-area components of `lava-layout`, plus
//! the per realm/worker root boot scripts.

use std::fmt;
use std::str::FromStr;

use lava_layout::{Component, Version};

/// A deployable component, as `-l` lists it and the configuration names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Deployable {
    Area(Component),
    /// `<REALM>/<WORKER>/root.boot.sh` and `root.boot0.sh`, from `misc/`.
    Root,
}

impl Deployable {
    /// Alphabetical, as listed.
    pub const ALL: [Deployable; 7] = [
        Deployable::Area(Component::Ami),
        Deployable::Area(Component::Boot),
        Deployable::Area(Component::Cfn),
        Deployable::Area(Component::Framework),
        Deployable::Area(Component::Lambda),
        Deployable::Area(Component::Pkg),
        Deployable::Root,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Deployable::Area(c) => c.name(),
            Deployable::Root => "root",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Deployable::Area(c) => c.description(),
            Deployable::Root => {
                "Per realm/worker root boot scripts (root.boot.sh, root.boot0.sh) from misc/."
            }
        }
    }

    /// The code-area directory the configured location stands for; the root
    /// boot scripts' location is the code area itself.
    pub fn deploy_dir(self, version: &Version) -> String {
        match self {
            Deployable::Area(c) => c.deploy_dir(version),
            Deployable::Root => String::new(),
        }
    }

    /// Push order: what is referenced goes before what references it. Worker
    /// bundles and Lambda zips before the templates that name them, bundles
    /// before the boot scriptlets that install them, scriptlets before the
    /// root boot scripts that run them.
    pub fn wave(self) -> u8 {
        match self {
            Deployable::Area(Component::Ami)
            | Deployable::Area(Component::Pkg)
            | Deployable::Area(Component::Lambda)
            | Deployable::Area(Component::Framework) => 0,
            Deployable::Area(Component::Cfn) => 1,
            Deployable::Area(Component::Boot) => 2,
            Deployable::Root => 3,
        }
    }

    /// Whether its artefacts carry the release version in their names.
    pub fn is_versioned(self) -> bool {
        matches!(
            self,
            Deployable::Area(
                Component::Cfn | Component::Framework | Component::Lambda | Component::Pkg
            )
        )
    }
}

impl FromStr for Deployable {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Deployable::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Deployable::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown component {s:?}: expected one of {} (see -l)",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for Deployable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Deployable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_ones_list_the_known() {
        for c in Deployable::ALL {
            assert_eq!(c.name().parse::<Deployable>(), Ok(c));
        }
        let err = "doc".parse::<Deployable>().unwrap_err();
        assert!(err.contains("\"doc\"") && err.contains("root"), "{err}");
    }

    #[test]
    fn referenced_artefacts_go_first() {
        let wave = |s: &str| s.parse::<Deployable>().unwrap().wave();
        assert!(wave("pkg") < wave("cfn") && wave("lambda") < wave("cfn"));
        assert!(wave("pkg") < wave("boot") && wave("boot") < wave("root"));
    }
}
