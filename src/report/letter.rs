//! The answer letter's context: the human text from the definition, Table 1
//! and the sentences after it from `sql/effect_by_area.sql`, and the
//! provenance line from `sql/stored_extracts.sql`.

use serde::Serialize;

use super::catalogue::Catalogue;
use super::definition::{Block, Definition};
use super::format;
use super::narrative::{self, GroupFigures, Standing, Subject};
use super::provenance::{Provenance, provenance};
use super::rows::{floats, ints, strings};
use super::trace::{Call, Figure, Rerun, Sentence};
use super::{MIN_PEOPLE, ReportError};
use crate::area::COUNTRY_CODE;
use crate::benefit::BenefitGroup;
use crate::engine::Engine;
use crate::period::Period;

const EFFECT_QUERY: &str = "effect_by_area";

/// One row of `effect_by_area.sql`.
#[derive(Debug, Clone)]
pub(crate) struct EffectRow {
    pub area_code: String,
    pub area_name: String,
    pub benefit_group: String,
    pub suppressed: bool,
    pub share: Option<f64>,
    pub country_share: Option<f64>,
    pub rank: Option<i64>,
    pub set_size: i64,
}

impl EffectRow {
    /// The share a reader may see: none if missing or built from too few.
    pub fn shown_share(&self) -> Option<f64> {
        if self.suppressed { None } else { self.share }
    }
}

/// The call of `effect_by_area.sql` for the letter's comparison set.
fn effect_call(engine: &Engine, definition: &Definition, period: Period) -> Call {
    let areas: Vec<&str> = definition.comparison.iter().map(|a| a.as_str()).collect();
    Call::new(EFFECT_QUERY, crate::schema::OUTCOMES, engine)
        .with("period", period)
        .with("areas", areas.join(","))
}

/// Where `area` stands among the ranked rows of one group.
pub(crate) fn standing(rows: &[&EffectRow], area: &str) -> Option<Standing> {
    let mine = rows.iter().find(|r| r.area_code == area)?;
    let rank = mine.rank?;
    let others = rows
        .iter()
        .filter(|r| r.area_code != area && r.area_code != COUNTRY_CODE && r.rank.is_some());
    let names_at = |wanted: Option<i64>| -> Vec<String> {
        others
            .clone()
            .filter(|r| wanted.is_some() && r.rank == wanted)
            .map(|r| r.area_name.clone())
            .collect()
    };
    let above = others
        .clone()
        .filter_map(|r| r.rank)
        .filter(|r| *r < rank)
        .max();
    let below = others
        .clone()
        .filter_map(|r| r.rank)
        .filter(|r| *r > rank)
        .min();
    Some(Standing {
        rank: rank as usize,
        ranked: mine.set_size as usize,
        tied_with: names_at(Some(rank)),
        ahead: names_at(above),
        behind: names_at(below),
    })
}

/// How a figure names its row of `effect_by_area.sql`.
pub(crate) fn row_key(code: &str, group: BenefitGroup) -> String {
    format!("area_code={code} benefit_group={}", group.code())
}

/// The rows of `effect_by_area.sql`'s result.
pub(crate) fn effect_rows_of(
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<Vec<EffectRow>, ReportError> {
    let q = EFFECT_QUERY;
    let codes = strings(batches, q, "area_code")?;
    let names = strings(batches, q, "area_name")?;
    let groups = strings(batches, q, "benefit_group")?;
    let suppressed = strings(batches, q, "suppressed")?;
    let share = floats(batches, q, "share_pct")?;
    let country = floats(batches, q, "country_share_pct")?;
    let rank = ints(batches, q, "rank_in_set")?;
    let set_size = ints(batches, q, "set_size")?;
    Ok((0..codes.len())
        .map(|i| EffectRow {
            area_code: codes[i].clone().unwrap_or_default(),
            area_name: names[i].clone().unwrap_or_default(),
            benefit_group: groups[i].clone().unwrap_or_default(),
            suppressed: suppressed[i].as_deref() == Some("true"),
            share: share[i],
            country_share: country[i],
            rank: rank[i],
            set_size: set_size[i].unwrap_or_default(),
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct LetterContext {
    title: String,
    /// True when the figures are the demo source's.
    pub demo: bool,
    letter: LetterView,
    table: TableView,
    source_line: String,
    sentences: Vec<Sentence>,
    after: Vec<Block>,
    footnotes: Vec<String>,
    provenance: Provenance,
    provenance_line: String,
    /// The query behind the figures, to rerun them with `praktik query`.
    appendix: Vec<Rerun>,
}

#[derive(Debug, Serialize)]
struct LetterView {
    recipient: Vec<String>,
    email: Option<String>,
    salutation: String,
    inquiry_date: String,
    date: String,
    case_number: String,
    document_number: String,
    sender: String,
    sender_address: Vec<String>,
    phone: Option<String>,
    web: Option<String>,
    question: String,
    answer_heading: String,
    answer: Vec<Block>,
    data_heading: String,
    data_intro: String,
    closing: String,
    signer: String,
    signer_title: String,
}

#[derive(Debug, Serialize)]
struct HeaderCell {
    label: String,
    colspan: usize,
    rowspan: usize,
}

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    is_country: bool,
    cells: Vec<Figure>,
}

#[derive(Debug, Serialize)]
struct TableView {
    caption: String,
    header_top: Vec<HeaderCell>,
    header_sub: Vec<String>,
    /// One header per column, for formats with one header row.
    header_flat: Vec<String>,
    rows: Vec<Row>,
}

fn source_line(sources: &str) -> String {
    match sources {
        "jobindsats" => "Kilde: Jobindsats".into(),
        "demo" => {
            "Kilde: Demodata i Jobindsats' form (syntetiske tal, ikke officiel statistik)".into()
        }
        other => format!("Kilde: {other}"),
    }
}

pub async fn context(
    engine: &Engine,
    definition: &Definition,
    period: Period,
) -> Result<LetterContext, ReportError> {
    if !engine.versions().contains_key(crate::schema::OUTCOMES) {
        return Err(ReportError::NoData { period });
    }
    let t = Catalogue::load("da")?;
    let effect = effect_call(engine, definition, period);
    let rows = effect_rows_of(&effect.run(engine).await?)?;
    let Some(provenance) = provenance(engine, crate::schema::OUTCOMES, period).await? else {
        return Err(ReportError::NoData { period });
    };
    if rows.is_empty() {
        return Err(ReportError::NoData { period });
    }
    let find = |code: &str, group: BenefitGroup| {
        rows.iter()
            .find(|r| r.area_code == code && r.benefit_group == group.code())
    };

    let mut footnotes = Vec::new();
    let mut mark_missing = false;
    let mut mark_small = false;
    let mut table_rows = Vec::new();
    let shown_areas =
        std::iter::once(COUNTRY_CODE).chain(definition.comparison.iter().map(|a| a.as_str()));
    for code in shown_areas {
        let name = rows
            .iter()
            .find(|r| r.area_code == code)
            .map(|r| r.area_name.clone())
            .unwrap_or_else(|| {
                crate::area::Areas::builtin()
                    .by_code(code)
                    .map(|a| a.name.clone())
                    .unwrap_or_default()
            });
        let cells = definition
            .groups
            .iter()
            .map(|group| {
                let key = row_key(code, *group);
                match find(code, *group) {
                    Some(row) if row.suppressed => {
                        mark_small = true;
                        effect.figure(&t, "–".into(), "¹", &key)
                    }
                    Some(EffectRow {
                        share: Some(share), ..
                    }) => effect.figure(&t, format::decimal(*share, 1), "", &key),
                    _ => {
                        mark_missing = true;
                        effect.figure(&t, "–".into(), "²", &key)
                    }
                }
            })
            .collect();
        table_rows.push(Row {
            name,
            is_country: code == COUNTRY_CODE,
            cells,
        });
    }
    if mark_small {
        footnotes.push(format!(
            "¹ Færre end {MIN_PEOPLE} afsluttede forløb; tallet vises ikke."
        ));
    }
    if mark_missing {
        footnotes.push("² Tallet foreligger ikke i kilden.".into());
    }

    let area = definition.area.area();
    let figures: Vec<GroupFigures> = definition
        .groups
        .iter()
        .map(|group| {
            let row = find(area.code.as_str(), *group);
            let shown = row.and_then(EffectRow::shown_share);
            let group_rows: Vec<&EffectRow> = rows
                .iter()
                .filter(|r| r.benefit_group == group.code())
                .collect();
            let place = standing(&group_rows, &area.code).unwrap_or_default();
            GroupFigures {
                recipients: group.danish().recipients.into(),
                share: shown,
                country: row.and_then(|r| r.country_share),
                rank: shown.and(row.and_then(|r| r.rank)).map(|r| r as usize),
                ranked: row.map_or(0, |r| r.set_size as usize),
                tied_with: place.tied_with,
                ahead: place.ahead,
                behind: place.behind,
            }
        })
        .collect();
    let subject = Subject {
        jobcenter: format!("Jobcenter {}", area.name),
        comparison: definition
            .comparison_phrase
            .replace("{n}", &definition.comparison.len().to_string()),
        comparison_size: definition.comparison.len(),
    };
    // Each sentence names the rows of the groups it speaks of.
    let sentences = narrative::sentences(&subject, &figures)
        .into_iter()
        .map(|text| {
            let sources = definition
                .groups
                .iter()
                .filter(|g| text.contains(g.danish().recipients))
                .flat_map(|g| {
                    [area.code.as_str(), COUNTRY_CODE]
                        .map(|code| effect.source(&t, &row_key(code, *g)))
                })
                .collect();
            Sentence { text, sources }
        })
        .collect();

    let mut header_top: Vec<HeaderCell> = Vec::new();
    let mut header_sub = Vec::new();
    let mut header_flat = Vec::new();
    for group in &definition.groups {
        let names = group.danish();
        let label = format!("{} (Pct.)", names.benefit);
        match names.sub {
            Some(sub) => {
                header_sub.push(sub.to_string());
                header_flat.push(format!("{}, {} (pct.)", names.benefit, sub.to_lowercase()));
                match header_top.last_mut() {
                    Some(last) if last.label == label && last.rowspan == 1 => last.colspan += 1,
                    _ => header_top.push(HeaderCell {
                        label,
                        colspan: 1,
                        rowspan: 1,
                    }),
                }
            }
            None => {
                header_flat.push(format!("{} (pct.)", names.benefit));
                header_top.push(HeaderCell {
                    label,
                    colspan: 1,
                    rowspan: 2,
                });
            }
        }
    }

    let Some(text) = &definition.letter else {
        return Err(ReportError::EmptyDefinition {
            path: format!("reports/{}.toml", definition.name).into(),
        });
    };
    Ok(LetterContext {
        title: definition.title.clone().unwrap_or_default(),
        demo: provenance.demo,
        letter: LetterView {
            recipient: text.recipient.clone(),
            email: text.email.clone(),
            salutation: text.salutation.clone(),
            inquiry_date: format::date(text.inquiry_date),
            date: format::date(text.date),
            case_number: text.case_number.clone(),
            document_number: text.document_number.clone(),
            sender: text.sender.clone(),
            sender_address: text.sender_address.clone(),
            phone: text.phone.clone(),
            web: text.web.clone(),
            question: text.question.clone(),
            answer_heading: text.answer_heading.clone(),
            answer: text.answer.clone(),
            data_heading: text.data_heading.clone(),
            data_intro: text.data_intro.clone(),
            closing: text.closing.clone(),
            signer: text.signer.clone(),
            signer_title: text.signer_title.clone(),
        },
        table: TableView {
            caption: format!("Tabel 1: {}, {}.", text.caption, period.danish()),
            header_top,
            header_sub,
            header_flat,
            rows: table_rows,
        },
        source_line: source_line(&provenance.sources),
        sentences,
        after: text.after.clone(),
        footnotes,
        provenance_line: provenance.line(&t),
        appendix: vec![effect.rerun(&t)],
        provenance,
    })
}
