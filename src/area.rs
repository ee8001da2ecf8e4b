//! The areas figures are given for: the 98 municipalities by their official
//! codes, the jobcentres that serve two municipalities, and the whole country.
//! The lists ship inside the binary (`data/kommuner.csv`, `data/jobcentres.csv`).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// Code of the whole country, as Statistics Denmark writes it.
pub const COUNTRY_CODE: &str = "000";
/// Name of the whole country, as Jobindsats writes it.
pub const COUNTRY_NAME: &str = "Hele landet";

/// What kind of area a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    Kommune,
    Jobcenter,
    Land,
}

impl AreaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Kommune => "kommune",
            AreaKind::Jobcenter => "jobcenter",
            AreaKind::Land => "land",
        }
    }
}

/// One area: a municipality, a joint jobcentre or the country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    /// `101` for a municipality, `561/563` for a joint jobcentre, `000` for the country.
    pub code: String,
    pub name: String,
    pub kind: AreaKind,
    pub region: Option<String>,
    /// The municipalities a jobcentre or the country is made of (codes).
    pub members: Vec<String>,
}

/// All known areas, in a stable order: country, municipalities, jobcentres.
#[derive(Debug)]
pub struct Areas {
    all: Vec<Area>,
    /// Indices into `all`, ordered by code, for lookups by code.
    by_code: Vec<usize>,
}

static BUILTIN: LazyLock<Areas> = LazyLock::new(|| {
    Areas::from_csv(
        include_str!("../data/kommuner.csv"),
        include_str!("../data/jobcentres.csv"),
    )
    .expect("the area lists shipped in data/ are valid (a unit test reads them)")
});

impl Areas {
    /// The areas shipped with praktik.
    pub fn builtin() -> &'static Areas {
        &BUILTIN
    }

    fn from_csv(kommuner: &str, jobcentres: &str) -> Result<Areas, String> {
        let mut municipalities = Vec::new();
        let mut reader = csv::Reader::from_reader(kommuner.as_bytes());
        for record in reader.records() {
            let record = record.map_err(|e| format!("kommuner.csv: {e}"))?;
            let (code, name, region) = (&record[0], &record[1], &record[2]);
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("kommuner.csv: `{code}` is not a 3-digit code"));
            }
            municipalities.push(Area {
                code: code.to_string(),
                name: name.to_string(),
                kind: AreaKind::Kommune,
                region: Some(region.to_string()),
                members: vec![code.to_string()],
            });
        }
        let mut all = vec![Area {
            code: COUNTRY_CODE.to_string(),
            name: COUNTRY_NAME.to_string(),
            kind: AreaKind::Land,
            region: None,
            members: municipalities.iter().map(|m| m.code.clone()).collect(),
        }];
        let mut reader = csv::Reader::from_reader(jobcentres.as_bytes());
        let mut joint = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("jobcentres.csv: {e}"))?;
            let members: Vec<String> = record[1].split_whitespace().map(str::to_string).collect();
            for m in &members {
                if !municipalities.iter().any(|a| &a.code == m) {
                    return Err(format!("jobcentres.csv: unknown municipality `{m}`"));
                }
            }
            joint.push(Area {
                code: members.join("/"),
                name: record[0].to_string(),
                kind: AreaKind::Jobcenter,
                region: None,
                members,
            });
        }
        all.extend(municipalities);
        all.extend(joint);
        let mut by_code: Vec<usize> = (0..all.len()).collect();
        by_code.sort_by(|a, b| all[*a].code.cmp(&all[*b].code));
        Ok(Areas { all, by_code })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Area> {
        self.all.iter()
    }

    pub fn by_code(&self, code: &str) -> Option<&Area> {
        // Every row of an extract names its area: a search, not a scan.
        self.by_code
            .binary_search_by(|i| self.all[*i].code.as_str().cmp(code))
            .ok()
            .map(|found| &self.all[self.by_code[found]])
    }

    /// An area by its code or its name (`101`, `København`, `esbjerg/fanø`).
    pub fn find(&self, code_or_name: &str) -> Option<&Area> {
        let wanted = code_or_name.trim();
        self.by_code(wanted).or_else(|| {
            self.all
                .iter()
                .find(|a| a.name.to_lowercase() == wanted.to_lowercase())
        })
    }

    /// The `n` areas among `candidates` nearest to what a user typed: by
    /// number for a code, by spelling for a name. `101 (København)`.
    pub fn nearest<'a>(
        &self,
        typed: &str,
        candidates: impl Iterator<Item = &'a Area>,
        n: usize,
    ) -> Vec<String> {
        let typed = typed.trim().to_lowercase();
        let number: Option<i64> = typed.split('/').next().and_then(|t| t.parse().ok());
        let mut scored: Vec<(i64, &Area)> = candidates
            .map(|area| {
                let area_number: Option<i64> =
                    area.code.split('/').next().and_then(|c| c.parse().ok());
                // A code: by the typing slips between the codes, then by
                // number (1011 → 101); a name: by its spelling.
                let score = match (number, area_number) {
                    (Some(a), Some(b)) => {
                        crate::spelling::edit_distance(&typed, &area.code) as i64 * 10_000
                            + (a - b).abs()
                    }
                    _ => crate::spelling::edit_distance(&typed, &area.name.to_lowercase()) as i64,
                };
                (score, area)
            })
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.code.cmp(&b.1.code)));
        scored
            .into_iter()
            .take(n)
            .map(|(_, a)| format!("{} ({})", a.code, a.name))
            .collect()
    }

    pub fn municipalities(&self) -> impl Iterator<Item = &Area> {
        self.all.iter().filter(|a| a.kind == AreaKind::Kommune)
    }
}

/// A valid area code, checked against the built-in areas at parse time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AreaCode(String);

impl AreaCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn area(&self) -> &'static Area {
        Areas::builtin()
            .by_code(&self.0)
            .expect("an AreaCode is only made from a known area")
    }
}

/// Why a text names no known area.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{0}` is not a known area: give a municipality code (101 = København), a jobcentre \
     (561/563 = Esbjerg/Fanø), 000 for the whole country, or one of their names"
)]
pub struct UnknownArea(pub String);

impl FromStr for AreaCode {
    type Err = UnknownArea;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Areas::builtin()
            .find(s)
            .map(|a| AreaCode(a.code.clone()))
            .ok_or_else(|| UnknownArea(s.to_string()))
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::deserialize_from_str!(AreaCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_is_found_by_its_code_and_nothing_else_is() {
        let areas = Areas::builtin();
        for area in areas.iter() {
            let found = areas.by_code(&area.code).unwrap();
            assert!(std::ptr::eq(found, area), "{}", area.code);
        }
        for code in ["", "1", "10", "1010", "999", "561", "561/56", "København"] {
            assert_eq!(
                areas.by_code(code).map(|a| &a.code),
                areas.iter().find(|a| a.code == code).map(|a| &a.code),
                "{code}"
            );
        }
    }

    #[test]
    fn nearest_areas_by_number_or_spelling() {
        let areas = Areas::builtin();
        let near = areas.nearest("102", areas.municipalities(), 2);
        assert_eq!(near[0], "101 (København)");
        let near = areas.nearest("Arhus", areas.iter(), 1);
        assert_eq!(near, ["751 (Aarhus)"]);
    }

    #[test]
    fn ships_98_municipalities_5_jobcentres_and_the_country() {
        let areas = Areas::builtin();
        assert_eq!(areas.municipalities().count(), 98);
        assert_eq!(
            areas
                .iter()
                .filter(|a| a.kind == AreaKind::Jobcenter)
                .count(),
            5
        );
        assert_eq!(areas.by_code("000").unwrap().name, "Hele landet");
        assert_eq!(areas.by_code("101").unwrap().name, "København");
        let esbjerg = areas.find("Esbjerg/Fanø").unwrap();
        assert_eq!(esbjerg.code, "561/563");
        assert_eq!(esbjerg.members, ["561", "563"]);
    }

    #[test]
    fn area_codes_parse_by_code_or_name() {
        assert_eq!("aarhus".parse::<AreaCode>().unwrap().as_str(), "751");
        assert_eq!("851".parse::<AreaCode>().unwrap().area().name, "Aalborg");
        let err = "999".parse::<AreaCode>().unwrap_err().to_string();
        assert!(
            err.contains("`999`") && err.contains("101 = København"),
            "{err}"
        );
    }
}
