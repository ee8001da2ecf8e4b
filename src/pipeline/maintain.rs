//! Keeping the store: `praktik store rebuild` and `praktik store vacuum`,
//! under the store's lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::Error;
use crate::config::{Config, Secret};
use crate::extract::Format;
use crate::guard::DEMO;
use crate::land::{Landed, land};
use crate::period::Period;
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::store::{REBUILD_FOLDER as FRESH, Store, WriteMetrics};
use crate::validate::internships;

use super::stream::Streams;
use super::write::{Context, Pending, check_only, streamed, write_extract};
use super::{WriteOptions, run_id};

/// What `praktik store rebuild` did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// Index lines read, and of those the bodies rejected again and left out.
    pub bodies: usize,
    pub rejected: usize,
    pub commits: Vec<WriteMetrics>,
    /// Where the tables it replaced were moved.
    pub replaced: String,
}

/// Recreate the tables from `raw/` and its index alone: every indexed body
/// is opened and checked again in the order it was stored, the last body to
/// hold a quarter gives that quarter, and new tables written beside the old
/// ones take their place; the old ones are kept under `.replaced-TIME/`.
/// A person-level body is checked once, as it is written (its quarters
/// counted by end date before); one its check rejects is left out, and the
/// new tables are written again without it.
///
/// In a bucket the bodies are fetched into a local folder first, and the
/// tables change place object by object (S3 has no rename): a rebuild cut
/// off in the middle leaves a table missing or half moved, never `raw/`, and
/// running it again finishes the work.
pub async fn rebuild(config: &Config, options: &WriteOptions) -> Result<RebuildReport, Error> {
    let store = Store::open_for(config)?;
    let _lock = store.lock(options.lock_wait).await?;
    let tree = store.tree();
    let raw = store.raw_dir();
    let fetched = tempfile::Builder::new()
        .prefix("praktik-rebuild-")
        .tempdir()
        .map_err(|cause| Error::StoreFiles {
            path: std::env::temp_dir(),
            cause,
        })?;
    let context = Context {
        jobindsats: &config.jobindsats,
        person_salt: config.person_salt.as_ref().map(Secret::expose),
    };
    let lines = crate::upkeep::read_index(&tree).await?;
    let mut bodies = Vec::new();
    let mut rejected = 0;
    for entry in &lines {
        let Some(line) = &entry.line else {
            tracing::warn!("an incomplete line of the index is left out");
            continue;
        };
        let key = format!("raw/{}", line.file);
        let path = tree
            .local_copy(&key, fetched.path())
            .await
            .map_err(|cause| crate::store::StoreError::Upkeep {
                path: tree.show(&key),
                cause,
            })?;
        let format = line.format.as_deref().and_then(Format::from_code);
        let Some(format) = format.or_else(|| format_of_older_line(&path)) else {
            tracing::warn!(file = %line.file, "the body's format cannot be told; left out");
            continue;
        };
        let mut extract = crate::extract::Extract::with_body(
            &line.source,
            line.input.clone(),
            format,
            crate::extract::Body::File(path),
            line.period.as_deref().and_then(|p| p.parse().ok()),
        );
        extract.pulled_at = chrono::DateTime::parse_from_rfc3339(&line.pulled_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| Error::Internal(format!("index line of {}: {e}", line.file)))?;
        let mut landed = land(&raw, extract, context.person_salt)?;
        match quarters_of(&mut landed, context) {
            Ok(periods) => bodies.push((landed, periods)),
            Err(e) => {
                left_out(&landed, &e);
                rejected += 1;
            }
        }
    }
    let files_error = |path: String| move |cause| crate::store::StoreError::Upkeep { path, cause };
    // A body its check rejects while it is written is left out, and the
    // fresh tables are written again without it.
    let (fresh, commits) = loop {
        tree.remove_dir(FRESH)
            .await
            .map_err(files_error(tree.show(FRESH)))?;
        let fresh = store.beside(FRESH)?;
        match write_fresh(&store, &fresh, &bodies, context).await? {
            Fresh::Written(commits) => break (fresh, commits),
            Fresh::Rejected(i, e) => {
                let (body, _) = bodies.remove(i);
                left_out(&body, &e);
                rejected += 1;
            }
        }
    };
    // Swap: the old tables aside, the new ones in their place.
    let replaced = format!(".replaced-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    for table in [OUTCOMES, INTERNSHIPS] {
        if !fresh.exists(table).await? {
            continue;
        }
        let new = format!("{FRESH}/{table}");
        if !tree.list(&format!("{table}/")).await?.is_empty() {
            let aside = format!("{replaced}/{table}");
            tree.move_dir(table, &aside)
                .await
                .map_err(files_error(tree.show(table)))?;
        }
        fail::fail_point!("rebuild-before-move-in", |_| Err(files_error(
            tree.show(&new)
        )(
            "failpoint".into()
        )
        .into()));
        tree.move_dir(&new, table)
            .await
            .map_err(files_error(tree.show(&new)))?;
    }
    if let Some(root) = store.folder() {
        let _ = crate::durable::sync_folder(root);
    }
    let _ = tree.remove_dir(FRESH).await;
    Ok(RebuildReport {
        bodies: lines.len(),
        rejected,
        commits,
        replaced: tree.show(&replaced),
    })
}

/// The quarters a body gives. A person-level body's are counted by its end
/// dates ([`internships::rows_and_cut_by_end_quarter`], a part per core):
/// it is checked whole as it is written ([`write_fresh`]), cut as it was
/// counted (the cut is noted in `body`; found again, it took another read
/// of the body, 0.2 s at 10M rows). One that gives none (its check would
/// reject it, and says why) and an outcomes body (small) are checked whole
/// here.
fn quarters_of(body: &mut Landed, context: Context<'_>) -> Result<Vec<Period>, Error> {
    if body.format.table() != INTERNSHIPS {
        return check_only(body, context);
    }
    let (rows, cut) = internships::rows_and_cut_by_end_quarter(body, crate::parallel::cores())?;
    if body.line_starts.is_none() {
        body.line_starts = cut.map(Arc::new);
    }
    let periods: Vec<Period> = rows.into_keys().collect();
    if periods.is_empty() {
        return check_only(body, context);
    }
    Ok(periods)
}

/// Say that a body rejected again is left out, and why.
fn left_out(body: &Landed, error: &Error) {
    match error {
        Error::Validate(why) => {
            tracing::warn!(input = %body.input, "rejected again, left out: {why}");
        }
        other => tracing::warn!(input = %body.input, "rejected again, left out: {other}"),
    }
}

/// What writing the fresh tables came to.
enum Fresh {
    Written(Vec<WriteMetrics>),
    /// The check of the body at this place rejected it, and why.
    Rejected(usize, Error),
}

/// Write the tables anew in `fresh` from `bodies` (each with the quarters
/// it gives, in the order stored): the last body to hold a quarter gives
/// it; as in a pull, a body from a real source takes the demo quarters
/// away.
async fn write_fresh(
    store: &Store,
    fresh: &Store,
    bodies: &[(Landed, Vec<Period>)],
    context: Context<'_>,
) -> Result<Fresh, Error> {
    let mut owner: BTreeMap<(&'static str, Period), usize> = BTreeMap::new();
    for (i, (body, periods)) in bodies.iter().enumerate() {
        if body.source != DEMO {
            owner.retain(|_, owner| bodies[*owner].0.source != DEMO);
        }
        for period in periods {
            owner.insert((body.format.table(), *period), i);
        }
    }
    let mut commits = Vec::new();
    let bodies: Arc<Vec<Landed>> = Arc::new(bodies.iter().map(|(body, _)| body.clone()).collect());
    for table in [OUTCOMES, INTERNSHIPS] {
        let mut pending = Pending::new(fresh.begin_write(table).await?);
        let owned: Vec<BTreeSet<Period>> = (0..bodies.len())
            .map(|i| {
                owner
                    .iter()
                    .filter(|((t, _), owner)| *t == table && **owner == i)
                    .map(|((_, p), _)| *p)
                    .collect()
            })
            .collect();
        let streamed: Vec<bool> = bodies
            .iter()
            .zip(&owned)
            .map(|(body, owned)| !owned.is_empty() && streamed(body))
            .collect();
        let mut streams = Streams::start(Arc::clone(&bodies), &streamed, context.person_salt);
        let last = owned.iter().rposition(|owned| !owned.is_empty());
        let mut all = Vec::new();
        for (i, (body, owned)) in bodies.iter().zip(owned).enumerate() {
            if owned.is_empty() {
                continue;
            }
            let stream = streams.take(i);
            let last = last == Some(i);
            match write_extract(body, context, &mut pending, Some(&owned), stream, last).await {
                Ok(_) => all.extend(owned),
                Err(e @ Error::Validate(_)) => return Ok(Fresh::Rejected(i, e)),
                Err(e) => return Err(e),
            }
        }
        // A table the store had stays, if empty.
        if all.is_empty() && !store.exists(table).await? {
            continue;
        }
        all.sort();
        let metadata = vec![
            ("praktik.run_id".to_string(), serde_json::json!(run_id())),
            (
                "praktik.source".to_string(),
                serde_json::json!("rebuild from raw/"),
            ),
        ];
        commits.push(pending.write.commit(&all, &all, metadata).await?);
    }
    Ok(Fresh::Written(commits))
}

/// `praktik store vacuum`: remove what no version and no index line needs,
/// under the store's lock (a running write's staging files are its own).
/// With `older_than` days, also the data files only versions older than
/// that need (those versions can then no longer be read).
pub async fn vacuum(
    config: &Config,
    options: &WriteOptions,
    older_than: Option<u64>,
    dry_run: bool,
) -> Result<Vacuumed, Error> {
    let store = Store::open_for(config)?;
    let _lock = store.lock(options.lock_wait).await?;
    let leftovers = crate::upkeep::vacuum(&store.tree(), dry_run).await?;
    let mut old_files = Vec::new();
    if let Some(days) = older_than {
        for table in [OUTCOMES, INTERNSHIPS, crate::schema::RUNS] {
            for file in store.vacuum_older_than(table, days, dry_run).await? {
                old_files.push(format!("{table}/{file}"));
            }
        }
    }
    Ok(Vacuumed {
        leftovers,
        old_files,
    })
}

/// What `praktik store vacuum` removed (or, in a dry run, would remove).
#[derive(Debug, Clone)]
pub struct Vacuumed {
    pub leftovers: Vec<crate::upkeep::Problem>,
    /// Data files of versions older than `--older-than`.
    pub old_files: Vec<String>,
}

/// The format of a body indexed before the index recorded formats: from
/// its bytes (an API answer is v3 if it is a JSON object, v2 if a list).
fn format_of_older_line(path: &Path) -> Option<Format> {
    let head = std::fs::File::open(path)
        .and_then(crate::classify::head)
        .ok()?;
    let name = path.display().to_string();
    if name.ends_with(".json") {
        let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        return match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Some(Format::JobindsatsV3),
            Some(b'[') => Some(Format::JobindsatsV2),
            _ => None,
        };
    }
    crate::classify::classify(&name, &head, None)
        .ok()
        .map(|(format, _)| format)
}
