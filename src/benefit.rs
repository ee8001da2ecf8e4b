//! Benefit groups (ydelsesgrupper) as Jobindsats reports them.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BenefitGroup {
    KontanthjaelpJobparat,
    KontanthjaelpAktivitetsparat,
    Dagpenge,
    Uddannelseshjaelp,
    Integrationsydelse,
    Sygedagpenge,
    Ressourceforloeb,
    Ledighedsydelse,
    Jobafklaringsforloeb,
}

impl BenefitGroup {
    pub const ALL: [BenefitGroup; 9] = [
        BenefitGroup::KontanthjaelpJobparat,
        BenefitGroup::KontanthjaelpAktivitetsparat,
        BenefitGroup::Dagpenge,
        BenefitGroup::Uddannelseshjaelp,
        BenefitGroup::Integrationsydelse,
        BenefitGroup::Sygedagpenge,
        BenefitGroup::Ressourceforloeb,
        BenefitGroup::Ledighedsydelse,
        BenefitGroup::Jobafklaringsforloeb,
    ];

    /// The code stored in data and given on the command line.
    pub fn code(self) -> &'static str {
        match self {
            BenefitGroup::KontanthjaelpJobparat => "kontanthjaelp_jobparat",
            BenefitGroup::KontanthjaelpAktivitetsparat => "kontanthjaelp_aktivitetsparat",
            BenefitGroup::Dagpenge => "dagpenge",
            BenefitGroup::Uddannelseshjaelp => "uddannelseshjaelp",
            BenefitGroup::Integrationsydelse => "integrationsydelse",
            BenefitGroup::Sygedagpenge => "sygedagpenge",
            BenefitGroup::Ressourceforloeb => "ressourceforloeb",
            BenefitGroup::Ledighedsydelse => "ledighedsydelse",
            BenefitGroup::Jobafklaringsforloeb => "jobafklaringsforloeb",
        }
    }

    /// Danish names: the benefit (a table's upper header), the sub-group
    /// (its lower header, if any), and the recipients as a sentence names them.
    pub fn danish(self) -> DanishNames {
        let (benefit, sub, recipients) = match self {
            BenefitGroup::KontanthjaelpJobparat => (
                "Kontanthjælp",
                Some("Jobparat"),
                "de jobparate kontanthjælpsmodtagere",
            ),
            BenefitGroup::KontanthjaelpAktivitetsparat => (
                "Kontanthjælp",
                Some("Aktivitetsparat"),
                "de aktivitetsparate kontanthjælpsmodtagere",
            ),
            BenefitGroup::Dagpenge => ("Dagpenge", None, "dagpengemodtagerne"),
            BenefitGroup::Uddannelseshjaelp => {
                ("Uddannelseshjælp", None, "uddannelseshjælpsmodtagerne")
            }
            BenefitGroup::Integrationsydelse => (
                "Integrationsydelse",
                None,
                "modtagerne af integrationsydelse",
            ),
            BenefitGroup::Sygedagpenge => ("Sygedagpenge", None, "sygedagpengemodtagerne"),
            BenefitGroup::Ressourceforloeb => {
                ("Ressourceforløb", None, "borgerne i ressourceforløb")
            }
            BenefitGroup::Ledighedsydelse => {
                ("Ledighedsydelse", None, "ledighedsydelsesmodtagerne")
            }
            BenefitGroup::Jobafklaringsforloeb => (
                "Jobafklaringsforløb",
                None,
                "borgerne i jobafklaringsforløb",
            ),
        };
        DanishNames {
            benefit,
            sub,
            recipients,
        }
    }
}

/// How Danish text names a benefit group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DanishNames {
    pub benefit: &'static str,
    pub sub: Option<&'static str>,
    pub recipients: &'static str,
}

/// Why a text names no benefit group.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{0}` is not a benefit group; known groups: {list}", list = known_codes())]
pub struct UnknownBenefitGroup(pub String);

fn known_codes() -> String {
    BenefitGroup::ALL.map(BenefitGroup::code).join(", ")
}

impl FromStr for BenefitGroup {
    type Err = UnknownBenefitGroup;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BenefitGroup::ALL
            .into_iter()
            .find(|g| g.code() == s.trim())
            .ok_or_else(|| UnknownBenefitGroup(s.to_string()))
    }
}

impl fmt::Display for BenefitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

crate::deserialize_from_str!(BenefitGroup);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for g in BenefitGroup::ALL {
            assert_eq!(g.code().parse::<BenefitGroup>().unwrap(), g);
        }
        let err = "kontanthjælp"
            .parse::<BenefitGroup>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("kontanthjaelp_jobparat"), "{err}");
    }
}
