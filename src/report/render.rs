//! Render a report definition to files with the Tera templates in `templates/`
//! (embedded in the binary). Templates ending in `.html` are auto-escaped.

use std::path::{Path, PathBuf};

use super::definition::{Definition, PeriodChoice, Template};
use super::{OutputFormat, ReportError, letter, output_path, pdf};
use crate::engine::Engine;
use crate::period::Period;

const TEMPLATES: [(&str, &str); 4] = [
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

fn tera() -> Result<tera::Tera, ReportError> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(TEMPLATES.to_vec())
        .map_err(|cause| ReportError::Template {
            template: "templates/".into(),
            cause,
        })?;
    Ok(tera)
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
                Template::Letter => crate::schema::OUTCOMES,
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

/// Render `definition` for `period` (else the definition's own quarter).
pub async fn render(
    engine: &Engine,
    definition: &Definition,
    period: Option<Period>,
    output: &Output,
) -> Result<Rendered, ReportError> {
    if engine.versions().is_empty() {
        return Err(ReportError::EmptyStore);
    }
    let period = choose_period(engine, definition, period).await?;
    let (context, demo) = match definition.template {
        Template::Letter => {
            let context = letter::context(engine, definition, period).await?;
            let demo = context.demo;
            (tera::Context::from_serialize(&context), demo)
        }
        Template::TypeEffects => {
            let context = super::type_effects::context(engine, definition, period).await?;
            let demo = context.demo;
            (tera::Context::from_serialize(&context), demo)
        }
    };
    let template = definition.template.name();
    let context = context.map_err(|cause| ReportError::Template {
        template: template.into(),
        cause,
    })?;
    let tera = tera()?;
    let chromium = if output.formats.contains(&OutputFormat::Pdf) {
        Some(pdf::find_chromium(output.chromium.as_deref())?)
    } else {
        None
    };
    let mut files = Vec::new();
    for format in &output.formats {
        let path = output_path(&output.dir, period, &definition.name, *format);
        if let (OutputFormat::Pdf, Some(chromium)) = (format, &chromium) {
            // Chromium prints the HTML as written next to it.
            let html = output_path(&output.dir, period, &definition.name, OutputFormat::Html);
            if !files.contains(&html) {
                write_atomically(
                    &html,
                    &render_text(&tera, template, OutputFormat::Html, &context)?,
                )?;
            }
            pdf::print(chromium, &html, &path)?;
        } else {
            write_atomically(&path, &render_text(&tera, template, *format, &context)?)?;
        }
        files.push(path);
    }
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

fn write_atomically(path: &Path, text: &str) -> Result<(), ReportError> {
    let failed = |cause| ReportError::Write {
        path: path.to_path_buf(),
        cause,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    crate::durable::write(path, text.as_bytes()).map_err(failed)
}
