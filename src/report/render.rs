//! Render a report definition to files with the Tera templates in `templates/`
//! (embedded in the binary). Templates ending in `.html` are auto-escaped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::str::FromStr;

use super::briefing::{self, ChartFile};
use super::catalogue::Catalogue;
use super::definition::{Definition, PeriodChoice, Template};
use super::{OutputFormat, ReportError, letter, output_path, pdf};
use crate::area::{AreaCode, Areas};
use crate::engine::Engine;
use crate::period::Period;
use crate::store::Store;

const TEMPLATES: [(&str, &str); 10] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    (
        "briefing.html",
        include_str!("../../templates/briefing.html"),
    ),
    ("briefing.md", include_str!("../../templates/briefing.md")),
    (
        "chart_trend.svg",
        include_str!("../../templates/chart_trend.svg"),
    ),
    (
        "chart_types.svg",
        include_str!("../../templates/chart_types.svg"),
    ),
    ("letter.html", include_str!("../../templates/letter.html")),
    ("letter.md", include_str!("../../templates/letter.md")),
    (
        "type_effects.html",
        include_str!("../../templates/type_effects.html"),
    ),
    (
        "type_effects.md",
        include_str!("../../templates/type_effects.md"),
    ),
];

/// What rendering wrote.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub name: String,
    pub period: Period,
    pub files: Vec<PathBuf>,
    /// True when the figures are the demo source's.
    pub demo: bool,
}

/// The templates `template` renders, parsed once per process: its own, the
/// page they extend, the macros they import and (the briefing) its charts.
/// Each kind of report parses its own set (Tera's parser takes ~2,300
/// instructions a byte), so a run's reports parse theirs side by side, and
/// `praktik report letter` parses no briefing.
fn tera(template: Template) -> Result<&'static tera::Tera, ReportError> {
    static PARSED: [std::sync::OnceLock<Result<tera::Tera, String>>; 3] =
        [const { std::sync::OnceLock::new() }; 3];
    let uses = |name: &str| {
        matches!(name, "base.html" | "macros.html")
            || name.starts_with(template.name())
            || (template == Template::Briefing && name.starts_with("chart_"))
    };
    let parsed = PARSED[template as usize].get_or_init(|| {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html", ".svg"]);
        let own = TEMPLATES.iter().filter(|(name, _)| uses(name)).copied();
        match tera.add_raw_templates(own) {
            Ok(()) => Ok(tera),
            // The whole chain, since the error itself cannot be shared.
            Err(e) => Err(
                std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(": "),
            ),
        }
    });
    parsed.as_ref().map_err(|chain| ReportError::Template {
        template: "templates/".into(),
        cause: tera::Error::msg(chain),
    })
}

/// The quarter a report is rendered for: the flag, else the definition's.
async fn choose_period(
    engine: &Engine,
    definition: &Definition,
    flag: Option<Period>,
) -> Result<Period, ReportError> {
    if let Some(period) = flag {
        return Ok(period);
    }
    match definition.period {
        PeriodChoice::Fixed(period) => Ok(period),
        PeriodChoice::Latest => {
            let table = match definition.template {
                Template::Letter | Template::Briefing => crate::schema::OUTCOMES,
                Template::TypeEffects => crate::schema::INTERNSHIPS,
            };
            newest_period(engine, table)
                .await?
                .ok_or(ReportError::EmptyStore)
        }
    }
}

/// The newest quarter a table of the store holds.
pub async fn newest_period(engine: &Engine, table: &str) -> Result<Option<Period>, ReportError> {
    let stored = super::provenance::stored_periods(engine, table).await?;
    Ok(stored.iter().filter_map(|p| p.period.parse().ok()).max())
}

/// Where and how a report is written.
#[derive(Debug, Clone)]
pub struct Output {
    pub formats: Vec<OutputFormat>,
    /// The output folder; files go to `reports/PERIOD/NAME.EXT` below it.
    pub dir: PathBuf,
    /// The browser that prints PDFs; found on the PATH when `None`.
    pub chromium: Option<PathBuf>,
}

/// What the command line chose over the definition.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// The quarter; else the definition's.
    pub period: Option<Period>,
    /// An area code or name; else the definition's.
    pub area: Option<String>,
    /// A language with a catalogue; else the definition's, else Danish.
    pub lang: Option<String>,
}

/// The area the command line asked for, or the nearest ones if none is called that.
fn chosen_area(typed: &str) -> Result<AreaCode, ReportError> {
    AreaCode::from_str(typed).map_err(|_| {
        let areas = Areas::builtin();
        ReportError::UnknownArea {
            given: typed.into(),
            nearest: areas.nearest(typed, areas.iter(), 3).join(", "),
        }
    })
}

/// Render `definition` as the command line chose.
pub async fn render(
    engine: &Engine,
    store: &Store,
    definition: &Definition,
    choices: &Choices,
    output: &Output,
) -> Result<Rendered, ReportError> {
    if engine.versions().is_empty() {
        return Err(ReportError::EmptyStore);
    }
    let lang = choices
        .lang
        .as_deref()
        .or(definition.lang.as_deref())
        .unwrap_or("da");
    let t = Catalogue::load(lang)?;
    if definition.template != Template::Briefing && t.code() != "da" {
        return Err(ReportError::LanguageNotOffered {
            report: definition.name.clone(),
            lang: lang.into(),
        });
    }
    let mut definition = definition.clone();
    let mut stem = definition.name.clone();
    if let Some(typed) = &choices.area {
        let area = chosen_area(typed)?;
        if area != definition.area {
            stem.push('-');
            stem.push_str(&area.as_str().replace('/', "-"));
        }
        definition.area = area;
    }
    if t.code() != definition.lang.as_deref().unwrap_or("da") {
        stem.push('-');
        stem.push_str(t.code());
    }
    let period = choose_period(engine, &definition, choices.period).await?;
    let tera = tera(definition.template)?;
    let mut charts: Vec<ChartFile> = Vec::new();
    let (context, demo) = match definition.template {
        Template::Letter => {
            let context = letter::context(engine, &definition, period).await?;
            let demo = context.demo;
            (tera::Context::from_serialize(&context), demo)
        }
        Template::TypeEffects => {
            let context = super::type_effects::context(engine, &definition, period).await?;
            let demo = context.demo;
            (tera::Context::from_serialize(&context), demo)
        }
        Template::Briefing => {
            let request = briefing::Request {
                engine,
                store,
                definition: &definition,
                period,
                area: definition.area.area(),
                t: &t,
                tera,
                stem: stem.clone(),
            };
            let context = briefing::build(&request).await?;
            charts.extend(context.trends.iter().map(|tr| tr.chart.clone()));
            charts.extend(context.types.iter().map(|ty| ty.chart.clone()));
            let demo = context.demo;
            (tera::Context::from_serialize(&context), demo)
        }
    };
    let template = definition.template.name();
    let mut context = context.map_err(|cause| ReportError::Template {
        template: template.into(),
        cause,
    })?;
    if !context.contains_key("t") {
        context.insert("t", t.tree());
    }
    let chromium = if output.formats.contains(&OutputFormat::Pdf) {
        Some(pdf::find_chromium(output.chromium.as_deref())?)
    } else {
        None
    };
    // The report's files are written together once rendered (flushed side
    // by side, their folder once), each still old or whole to a reader.
    let mut files = Vec::new();
    let mut pending: Vec<(PathBuf, String)> = Vec::new();
    for format in &output.formats {
        let path = output_path(&output.dir, period, &stem, *format);
        if let (OutputFormat::Pdf, Some(chromium)) = (format, &chromium) {
            let html = output_path(&output.dir, period, &stem, OutputFormat::Html);
            if !files.contains(&html) {
                let text = render_text(tera, template, OutputFormat::Html, &context)?;
                pending.push((html.clone(), text));
            }
            // Chromium prints the HTML as written next to it.
            write_all(&mut pending)?;
            pdf::print(chromium, &html, &path)?;
        } else {
            if *format == OutputFormat::Markdown {
                // The Markdown links the charts it writes next to itself.
                for chart in &charts {
                    let svg = path.with_file_name(&chart.file);
                    pending.push((svg.clone(), chart.svg.clone()));
                    files.push(svg);
                }
            }
            pending.push((
                path.clone(),
                render_text(tera, template, *format, &context)?,
            ));
        }
        files.push(path);
    }
    write_all(&mut pending)?;
    Ok(Rendered {
        name: definition.name.clone(),
        period,
        files,
        demo,
    })
}

fn render_text(
    tera: &tera::Tera,
    template: &str,
    format: OutputFormat,
    context: &tera::Context,
) -> Result<String, ReportError> {
    let name = format!("{template}.{}", format.extension());
    tera.render(&name, context)
        .map_err(|cause| ReportError::Template {
            template: format!("templates/{name}"),
            cause,
        })
}

/// Write the `pending` files durably, a folder's files together (see
/// [`crate::durable::write_in_folder`]), and empty the list.
fn write_all(pending: &mut Vec<(PathBuf, String)>) -> Result<(), ReportError> {
    let mut by_folder: BTreeMap<&Path, Vec<(PathBuf, &[u8])>> = BTreeMap::new();
    for (path, text) in pending.iter() {
        by_folder
            .entry(crate::durable::folder_of(path))
            .or_default()
            .push((path.clone(), text.as_bytes()));
    }
    for (folder, files) in by_folder {
        std::fs::create_dir_all(folder).map_err(|cause| ReportError::Write {
            path: folder.to_path_buf(),
            cause,
        })?;
        crate::durable::write_in_folder(folder, &files)
            .map_err(|(path, cause)| ReportError::Write { path, cause })?;
    }
    pending.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_report_parses_its_own_templates_and_no_others() {
        for (template, own, not) in [
            (Template::Letter, "letter.md", "briefing.html"),
            (Template::TypeEffects, "type_effects.html", "letter.html"),
            (Template::Briefing, "chart_trend.svg", "type_effects.md"),
        ] {
            let tera = tera(template).unwrap();
            let names: Vec<&str> = tera.get_template_names().collect();
            for name in [own, "base.html", &format!("{}.html", template.name())] {
                assert!(names.contains(&name), "{template:?}: {names:?}");
            }
            assert!(!names.contains(&not), "{template:?}: {names:?}");
        }
    }
}
