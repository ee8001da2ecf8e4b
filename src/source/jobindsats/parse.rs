//! Turn a Jobindsats response body (v3 `{"columns","rows"}` or v2
//! `[{"Variables","Data"}]`) into outcome records for validation: area names
//! mapped to codes, dimension labels mapped to benefit groups, missing or
//! suppressed cells kept as missing.

use serde_json::Value;
use tracing::{debug, warn};

use super::settings::{Settings, UnknownAreas};
use crate::area::Areas;
use crate::extract::{Extract, Format};
use crate::validate::{Place, Record, ValidateError};

/// One column of a response: its label and, in v2, its variable name.
struct Column {
    keys: Vec<String>,
}

impl Column {
    fn is(&self, wanted: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k == wanted || k.ends_with(&format!(": {wanted}")))
    }

    fn shown(&self) -> String {
        self.keys.last().cloned().unwrap_or_default()
    }
}

fn shape(extract: &Extract, expected: &str) -> ValidateError {
    ValidateError::Shape {
        input: extract.input.clone(),
        expected: expected.into(),
    }
}

/// The columns and rows of a body, whichever API version sent it.
fn table(extract: &Extract) -> Result<(Vec<Column>, Vec<Vec<Value>>), ValidateError> {
    let bytes = extract.bytes().map_err(|cause| ValidateError::Read {
        input: extract.input.clone(),
        cause,
    })?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let json: Value = serde_json::from_slice(body).map_err(|cause| ValidateError::Json {
        input: extract.input.clone(),
        bytes: bytes.len(),
        cause,
    })?;
    let rows = |value: Option<&Value>, expected: &str| -> Result<Vec<Vec<Value>>, ValidateError> {
        value
            .and_then(Value::as_array)
            .ok_or_else(|| shape(extract, expected))?
            .iter()
            .map(|r| {
                r.as_array()
                    .cloned()
                    .ok_or_else(|| shape(extract, expected))
            })
            .collect()
    };
    match extract.format {
        Format::JobindsatsV3 => {
            let expected = "a JSON object with `columns` (labels) and `rows` (lists of cells)";
            let columns = json
                .get("columns")
                .and_then(Value::as_array)
                .ok_or_else(|| shape(extract, expected))?
                .iter()
                .map(|c| Column {
                    keys: vec![c.as_str().unwrap_or_default().to_string()],
                })
                .collect();
            Ok((columns, rows(json.get("rows"), expected)?))
        }
        _ => {
            let expected = "a JSON list of one object with `Variables` (Name, Label) and `Data`";
            let first = json
                .as_array()
                .and_then(|l| l.first())
                .ok_or_else(|| shape(extract, expected))?;
            let columns = first
                .get("Variables")
                .and_then(Value::as_array)
                .ok_or_else(|| shape(extract, expected))?
                .iter()
                .map(|v| {
                    let text = |k| {
                        v.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    };
                    Column {
                        keys: vec![text("Name"), text("Label")],
                    }
                })
                .collect();
            Ok((columns, rows(first.get("Data"), expected)?))
        }
    }
}

/// A cell as text: numbers as written, strings trimmed, null as empty.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => other.to_string(),
    }
}

/// The outcome records of a Jobindsats body.
pub fn records(extract: &Extract, settings: &Settings) -> Result<Vec<Record>, ValidateError> {
    let (columns, rows) = table(extract)?;
    let have = || {
        columns
            .iter()
            .map(Column::shown)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |wanted: &[String], what: &str| -> Result<usize, ValidateError> {
        columns
            .iter()
            .position(|c| wanted.iter().any(|w| c.is(w)))
            .ok_or_else(|| ValidateError::SourceColumn {
                input: extract.input.clone(),
                wanted: format!("{what} ({})", wanted.join(" or ")),
                have: have(),
            })
    };
    let period = find(&settings.period_columns, "the period")?;
    let area = find(&settings.area_columns, "the area")?;
    let groups = settings
        .group_columns
        .iter()
        .map(|g| find(std::slice::from_ref(g), "a benefit-group dimension"))
        .collect::<Result<Vec<_>, _>>()?;
    let ended = find(
        std::slice::from_ref(&settings.ended_measure),
        "ended internships",
    )?;
    let share = find(
        std::slice::from_ref(&settings.share_measure),
        "the share in work or education",
    )?;

    let areas = Areas::builtin();
    let mut records = Vec::new();
    let mut unmapped = 0usize;
    let mut unmapped_labels = std::collections::BTreeSet::new();
    for (i, row) in rows.iter().enumerate() {
        let place = Place::Row(i as u64 + 1);
        let labels: Vec<String> = groups.iter().map(|g| text(row.get(*g))).collect();
        let key = labels.join(" / ");
        let Some(group) = settings.benefit_groups.get(&key) else {
            unmapped += 1;
            debug!(%place, group = %key, "benefit group not mapped; row left out");
            unmapped_labels.insert(crate::privacy::cpr::shown(&key));
            continue;
        };
        let name = text(row.get(area));
        let found = settings
            .areas
            .get(&name)
            .map(|code| code.area())
            .or_else(|| areas.find(&name));
        let Some(found) = found else {
            match settings.unknown_areas {
                UnknownAreas::Skip => {
                    warn!(input = %extract.input, %place, area = %name, "unknown area left out (unknown_areas = \"skip\")");
                    continue;
                }
                UnknownAreas::Error => {
                    return Err(ValidateError::UnknownArea {
                        input: extract.input.clone(),
                        place: place.to_string(),
                        name,
                    });
                }
            }
        };
        records.push(Record {
            place,
            cells: [
                text(row.get(period)),
                found.code.clone(),
                found.name.clone(),
                group.code().to_string(),
                text(row.get(ended)),
                String::new(), // the API gives the share, not the count in work
                text(row.get(share)),
            ],
        });
    }
    if unmapped > 0 {
        let labels: Vec<String> = unmapped_labels.into_iter().collect();
        warn!(input = %extract.input, rows = unmapped, groups = %labels.join(" | "), "rows of benefit groups not in [jobindsats.benefit_groups] left out; map them there to store them");
    }
    Ok(records)
}
