//! STAR's Jobindsats API: which quarters a table has, and their data, in API
//! version 3 or 2. Bodies are returned as received; `validate` parses them
//! (after `land` has kept them) with [`parse::records`].

mod client;
pub mod parse;
mod settings;

use std::collections::BTreeSet;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use tracing::{debug, info};

pub use settings::{ApiVersion, Settings, TOKEN_ENV, UnknownAreas};

use self::client::{Client, Request};
use super::{PullError, Wanted};
use crate::extract::{Extract, Format};
use crate::period::Period;

/// The quarters the table lists, each with the code the API writes it in.
async fn listed_periods(
    client: &Client,
    settings: &Settings,
) -> Result<Vec<(Period, String)>, PullError> {
    let base = settings.url.trim_end_matches('/');
    let request = match settings.api {
        ApiVersion::V3 => Request::get(
            format!("{base}/v3/table/{}", settings.table),
            vec![("format".into(), "json".into())],
        ),
        ApiVersion::V2 => Request::get(format!("{base}/v2/tables/{}/json", settings.table), vec![]),
    };
    let body = client.fetch(&request).await?;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let json: Value = serde_json::from_slice(body).map_err(|e| PullError::Metadata {
        url: request.shown(),
        detail: format!("the body is not JSON ({} bytes): {e}", body.len()),
    })?;
    let list = find_period_list(&json).ok_or_else(|| PullError::Metadata {
        url: request.shown(),
        detail: "it lists no periods (expected a `Period` or `periods` list)".into(),
    })?;
    let mut periods: Vec<(Period, String)> = list
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => ["id", "code", "name"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_string)),
            _ => None,
        })
        .filter_map(|code| match code.parse::<Period>() {
            Ok(period) => Some((period, code)),
            Err(_) => {
                debug!(%code, "listed period is not a quarter; left out");
                None
            }
        })
        .collect();
    periods.sort();
    periods.dedup_by_key(|(p, _)| *p);
    Ok(periods)
}

/// The first array under a key named `period`/`periods` (any case), searched depth first.
fn find_period_list(json: &Value) -> Option<&Vec<Value>> {
    match json {
        Value::Object(map) => map
            .iter()
            .find(|(k, v)| {
                matches!(k.to_lowercase().as_str(), "period" | "periods") && v.is_array()
            })
            .and_then(|(_, v)| v.as_array())
            .or_else(|| map.values().find_map(find_period_list)),
        Value::Array(list) => list.iter().find_map(find_period_list),
        _ => None,
    }
}

/// Which quarters to fetch: the wanted ones (each must be listed), or every
/// listed quarter the store lacks plus the newest few, to catch revisions.
fn choose(
    listed: &[(Period, String)],
    wanted: &Wanted,
    stored: &BTreeSet<Period>,
    settings: &Settings,
) -> Result<Vec<(Period, String)>, PullError> {
    let (Some(first), Some(last)) = (listed.first(), listed.last()) else {
        return Err(PullError::NothingListed {
            table: settings.table.clone(),
        });
    };
    match wanted {
        Wanted::Periods(periods) => periods
            .iter()
            .map(|p| {
                listed
                    .iter()
                    .find(|(l, _)| l == p)
                    .cloned()
                    .ok_or(PullError::NotListed {
                        table: settings.table.clone(),
                        period: *p,
                        first: first.0,
                        last: last.0,
                    })
            })
            .collect(),
        Wanted::All => {
            let recheck_from = listed.len().saturating_sub(settings.recheck_latest);
            Ok(listed
                .iter()
                .enumerate()
                .filter(|(i, (p, _))| !stored.contains(p) || *i >= recheck_from)
                .map(|(_, l)| l.clone())
                .collect())
        }
    }
}

fn data_request(settings: &Settings, code: &str) -> Request {
    let base = settings.url.trim_end_matches('/');
    match settings.api {
        ApiVersion::V3 => Request::get(
            format!("{base}/v3/data/{}", settings.table),
            vec![
                ("period.Q".into(), code.into()),
                ("area".into(), "*".into()),
                ("format".into(), "json".into()),
            ],
        ),
        ApiVersion::V2 => Request {
            method: reqwest::Method::POST,
            url: format!("{base}/v2/data/{}/json", settings.table),
            query: vec![],
            json: Some(serde_json::json!({ "area": "*", "period": [code] })),
        },
    }
}

/// Pull the wanted quarters' bodies. `stored` is what the store holds already.
pub async fn pull(
    settings: &Settings,
    wanted: &Wanted,
    stored: &BTreeSet<Period>,
) -> Result<Vec<Extract>, PullError> {
    let client = Client::new(settings)?;
    let listed = listed_periods(&client, settings).await?;
    let chosen = choose(&listed, wanted, stored, settings)?;
    info!(table = %settings.table, listed = listed.len(), fetching = chosen.len(), "jobindsats periods");

    let bar =
        ProgressBar::with_draw_target(Some(chosen.len() as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(format!("jobindsats {}", settings.table));
    let format = match settings.api {
        ApiVersion::V3 => Format::JobindsatsV3,
        ApiVersion::V2 => Format::JobindsatsV2,
    };
    let mut extracts = Vec::new();
    for (period, code) in chosen {
        bar.set_message(period.to_string());
        let request = data_request(settings, &code);
        let began = Instant::now();
        let body = client.fetch(&request).await?;
        info!(%period, bytes = body.len(), ms = began.elapsed().as_millis() as u64, "pulled quarter");
        extracts.push(Extract::new(
            "jobindsats",
            request.shown(),
            format,
            body,
            Some(period),
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(extracts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(codes: &[&str]) -> Vec<(Period, String)> {
        codes
            .iter()
            .map(|c| (c.parse().unwrap(), c.to_string()))
            .collect()
    }

    #[test]
    fn finds_the_period_list_in_either_shape() {
        let v2: Value = serde_json::json!([{"Period": ["2019Q3"], "Area": ["Hele landet"]}]);
        assert_eq!(find_period_list(&v2).unwrap().len(), 1);
        let v3: Value =
            serde_json::json!({"id": "Y14D03", "dimensions": {"periods": [{"id": "2019Q03"}]}});
        assert_eq!(find_period_list(&v3).unwrap().len(), 1);
    }

    #[test]
    fn all_means_missing_plus_the_newest_to_recheck() {
        let settings = Settings {
            recheck_latest: 2,
            ..Settings::default()
        };
        let list = listed(&["2019Q01", "2019Q02", "2019Q03", "2019Q04", "2020Q01"]);
        let stored: BTreeSet<Period> = ["2019Q1", "2019Q3", "2019Q4", "2020Q1"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let chosen: Vec<String> = choose(&list, &Wanted::All, &stored, &settings)
            .unwrap()
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(chosen, ["2019Q02", "2019Q04", "2020Q01"]);
        let err = choose(
            &list,
            &Wanted::Periods(vec!["2021Q1".parse().unwrap()]),
            &stored,
            &settings,
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not list 2021Q1"), "{err}");
    }
}
