//! Table 1 of the briefing: every benefit group the store holds for the
//! quarter down, the country and the areas across, from
//! `sql/effect_by_area.sql`; and where the area stands in each group.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::area::{Area, Areas, COUNTRY_CODE};
use crate::benefit::BenefitGroup;
use crate::report::MIN_PEOPLE;
use crate::report::catalogue::Catalogue;
use crate::report::definition::Definition;
use crate::report::letter::{EffectRow, row_key};
use crate::report::trace::{Call, Figure};

#[derive(Debug, Serialize)]
struct Column {
    name: String,
    is_area: bool,
    is_country: bool,
}

#[derive(Debug, Serialize)]
struct TableRow {
    group: String,
    cells: Vec<Figure>,
}

#[derive(Debug, Serialize)]
pub(super) struct TableView {
    caption: String,
    columns: Vec<Column>,
    rows: Vec<TableRow>,
    footnotes: Vec<String>,
    pub source_line: String,
}

/// The order groups are shown in: the definition's first, then the rest.
pub(super) fn group_order(
    definition: &Definition,
    present: &BTreeSet<String>,
) -> Vec<BenefitGroup> {
    let mut order: Vec<BenefitGroup> = definition.groups.clone();
    for group in BenefitGroup::ALL {
        if !order.contains(&group) {
            order.push(group);
        }
    }
    order.retain(|g| present.contains(g.code()));
    order
}

/// The table, and the cells it does not show for having too few people
/// (`København (dagpengemodtagere)`), for the notes.
pub(super) fn table(
    t: &Catalogue,
    effect: &Call,
    rows: &[EffectRow],
    groups: &[BenefitGroup],
    area: &Area,
    ranked_areas: &[&str],
    caption: String,
) -> (TableView, Vec<String>) {
    // Table 1: groups down, the country and the areas across.
    let mut columns = vec![Column {
        name: t.text("briefing.country"),
        is_area: area.code == COUNTRY_CODE,
        is_country: true,
    }];
    let mut column_codes = vec![COUNTRY_CODE.to_string()];
    for code in ranked_areas {
        let name = Areas::builtin()
            .by_code(code)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| code.to_string());
        columns.push(Column {
            name,
            is_area: *code == area.code,
            is_country: false,
        });
        column_codes.push(code.to_string());
    }
    let mut suppressed_cells = Vec::new();
    let (mut mark_small, mut mark_missing) = (false, false);
    let table_rows: Vec<TableRow> = groups
        .iter()
        .map(|group| {
            let cells = column_codes
                .iter()
                .zip(&columns)
                .map(|(code, column)| {
                    let key = row_key(code, *group);
                    let row = rows
                        .iter()
                        .find(|r| &r.area_code == code && r.benefit_group == group.code());
                    match row {
                        Some(r) if r.suppressed => {
                            mark_small = true;
                            suppressed_cells.push(format!(
                                "{} ({})",
                                column.name,
                                t.text(&format!("group.{}", group.code())).to_lowercase()
                            ));
                            effect.figure(t, "–".into(), "¹", &key)
                        }
                        Some(EffectRow {
                            share: Some(share), ..
                        }) => effect.figure(t, t.decimal(*share, 1), "", &key),
                        _ => {
                            mark_missing = true;
                            effect.figure(t, "–".into(), "²", &key)
                        }
                    }
                })
                .collect();
            TableRow {
                group: t.text(&format!("group.{}", group.code())),
                cells,
            }
        })
        .collect();
    let mut footnotes = Vec::new();
    if mark_small {
        footnotes.push(t.fill("table.suppressed", &[("n", &MIN_PEOPLE.to_string())]));
    }
    if mark_missing {
        footnotes.push(t.text("table.missing"));
    }
    (
        TableView {
            caption,
            columns,
            rows: table_rows,
            footnotes,
            source_line: String::new(),
        },
        suppressed_cells,
    )
}
