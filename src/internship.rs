//! Person-level internships: the three types and their purposes, and what a
//! citizen is doing 3, 6 and 12 months after an internship ended.

use std::fmt;
use std::str::FromStr;

/// The internship types Copenhagen uses since September 2019.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InternshipType {
    /// Ordinary work or education now.
    Jobpraktik,
    /// Clarify goals and needs: fleksjob, førtidspension, a new field.
    Udviklingspraktik,
    /// Skills that lead to work later.
    Kompetencepraktik,
}

impl InternshipType {
    pub const ALL: [InternshipType; 3] = [
        InternshipType::Jobpraktik,
        InternshipType::Udviklingspraktik,
        InternshipType::Kompetencepraktik,
    ];

    pub fn code(self) -> &'static str {
        match self {
            InternshipType::Jobpraktik => "jobpraktik",
            InternshipType::Udviklingspraktik => "udviklingspraktik",
            InternshipType::Kompetencepraktik => "kompetencepraktik",
        }
    }

    /// The type's purpose, as a Danish sentence fragment.
    pub fn purpose(self) -> &'static str {
        match self {
            InternshipType::Jobpraktik => "at borgeren kommer i ordinært arbejde eller uddannelse",
            InternshipType::Udviklingspraktik => {
                "at borgerens mål og behov afklares, fx mod fleksjob, førtidspension, uddannelse eller job"
            }
            InternshipType::Kompetencepraktik => {
                "at borgeren får kompetencer, der fører til job på længere sigt"
            }
        }
    }
}

/// Where a citizen is at a horizon after the internship ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    OrdinaryJob,
    Education,
    Fleksjob,
    Foertidspension,
    OnBenefit,
    Other,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::OrdinaryJob,
        Status::Education,
        Status::Fleksjob,
        Status::Foertidspension,
        Status::OnBenefit,
        Status::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::OrdinaryJob => "ordinary_job",
            Status::Education => "education",
            Status::Fleksjob => "fleksjob",
            Status::Foertidspension => "foertidspension",
            Status::OnBenefit => "on_benefit",
            Status::Other => "other",
        }
    }

    /// The words case systems write, Danish and English.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Status::OrdinaryJob => &[
                "ordinary_job",
                "Ordinær beskæftigelse",
                "ordinær beskæftigelse",
                "ordinært job",
                "job",
                "beskæftigelse",
            ],
            Status::Education => &[
                "education",
                "Uddannelse",
                "uddannelse",
                "ordinær uddannelse",
            ],
            Status::Fleksjob => &["fleksjob", "Fleksjob"],
            Status::Foertidspension => &["foertidspension", "Førtidspension", "førtidspension"],
            Status::OnBenefit => &[
                "on_benefit",
                "På ydelse",
                "på ydelse",
                "fortsat på ydelse",
                "ydelse",
                "still_on_benefit",
            ],
            Status::Other => &["other", "Andet", "andet", "øvrige"],
        }
    }
}

/// Why a text is not one of the known values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("expected one of: {0}")]
pub struct NotOneOf(pub String);

impl FromStr for InternshipType {
    type Err = NotOneOf;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(exact) = InternshipType::ALL.into_iter().find(|t| t.code() == s) {
            return Ok(exact);
        }
        let wanted = s.trim().to_lowercase();
        InternshipType::ALL
            .into_iter()
            .find(|t| t.code() == wanted)
            .ok_or_else(|| NotOneOf(InternshipType::ALL.map(InternshipType::code).join(", ")))
    }
}

impl FromStr for Status {
    type Err = NotOneOf;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(exact) = Status::ALL.into_iter().find(|st| st.aliases().contains(&s)) {
            return Ok(exact);
        }
        let wanted = s.trim().to_lowercase();
        Status::ALL
            .into_iter()
            .find(|st| st.aliases().contains(&wanted.as_str()))
            .ok_or_else(|| NotOneOf(Status::ALL.map(Status::code).join(", ")))
    }
}

impl fmt::Display for InternshipType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_statuses_parse_in_danish_and_english() {
        assert_eq!(
            "Jobpraktik".parse::<InternshipType>().unwrap(),
            InternshipType::Jobpraktik
        );
        assert!(
            "praktik"
                .parse::<InternshipType>()
                .unwrap_err()
                .to_string()
                .contains("udviklingspraktik")
        );
        assert_eq!(
            "Førtidspension".parse::<Status>().unwrap(),
            Status::Foertidspension
        );
        assert_eq!(
            "ordinary_job".parse::<Status>().unwrap(),
            Status::OrdinaryJob
        );
        assert_eq!("Uddannelse".parse::<Status>().unwrap(), Status::Education);
    }
}
