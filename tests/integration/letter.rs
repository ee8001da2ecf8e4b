//! The rendered letter against reviewed snapshots (volatile parts redacted),
//! and the letter's guarantees that a snapshot would not make obvious.

use praktik::config::Config;
use praktik::pipeline::{self, ReportOptions};
use praktik::report::OutputFormat;
use praktik::source::{Source, Wanted};

async fn render_demo_letter(dir: &std::path::Path, reports: Option<&str>) -> (String, String) {
    let mut config = Config {
        store: praktik::store::location::Location::Folder(dir.join("store")),
        out: dir.join("out"),
        ..Config::default()
    };
    config.reports = dir.join("reports");
    if let Some(text) = reports {
        std::fs::create_dir_all(&config.reports).unwrap();
        std::fs::write(config.reports.join("letter.toml"), text).unwrap();
    }
    let wanted = Wanted::Periods(vec!["2019Q3".parse().unwrap()]);
    pipeline::pull(&config, &Source::Demo, &wanted, &Default::default())
        .await
        .unwrap();
    let options = ReportOptions {
        name: "letter".into(),
        period: None,
        formats: vec![OutputFormat::Html, OutputFormat::Markdown],
        as_of: Default::default(),
        area: None,
        lang: None,
    };
    let rendered = pipeline::report(&config, &options).await.unwrap();
    assert!(rendered.demo);
    let read = |ext| {
        std::fs::read_to_string(dir.join(format!("out/reports/2019Q3/letter.{ext}"))).unwrap()
    };
    (read("html"), read("md"))
}

#[tokio::test]
async fn the_letter_for_koebenhavn_2019q3_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (html, md) = render_demo_letter(dir.path(), None).await;
    crate::support::redacted().bind(|| {
        insta::assert_snapshot!("letter_2019Q3_md", md);
        insta::assert_snapshot!("letter_2019Q3_html", html);
    });
}

#[tokio::test]
async fn user_text_is_escaped_in_html() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = include_str!("../../reports/letter.toml");
    let hostile = builtin.replace(
        "question = \"Hvad kan BIF",
        "question = \"<script>alert('x')</script> & Hvad kan BIF",
    );
    assert_ne!(builtin, hostile);
    let (html, md) = render_demo_letter(dir.path(), Some(&hostile)).await;
    assert!(
        !html.contains("<script>"),
        "raw markup from a definition must not reach the HTML"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt; &amp; Hvad kan BIF"),
        "{html}"
    );
    assert!(md.contains("<script>alert('x')</script> & Hvad kan BIF"));
}

#[tokio::test]
async fn the_html_is_one_self_contained_file() {
    let dir = tempfile::tempdir().unwrap();
    let (html, _) = render_demo_letter(dir.path(), None).await;
    assert!(html.contains("@page { size: A4"));
    for external in ["<link", "src=\"http", "<script", "@import"] {
        assert!(
            !html.contains(external),
            "the letter loads nothing from outside: {external}"
        );
    }
}

#[tokio::test]
async fn the_pdf_is_printed_by_chromium_with_the_demo_mark_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    render_demo_letter(dir.path(), None).await;
    let config = Config {
        store: praktik::store::location::Location::Folder(dir.path().join("store")),
        out: dir.path().join("out"),
        reports: dir.path().join("reports"),
        ..Config::default()
    };
    let options = ReportOptions {
        name: "letter".into(),
        period: None,
        formats: vec![OutputFormat::Pdf],
        as_of: Default::default(),
        area: None,
        lang: None,
    };
    let rendered = pipeline::report(&config, &options).await.unwrap();
    let pdf = dir.path().join("out/reports/2019Q3/letter.pdf");
    assert_eq!(rendered.files, std::slice::from_ref(&pdf));
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));

    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (apt-get install poppler-utils) reads the PDF");
    let text = String::from_utf8_lossy(&text.stdout);
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(
        pages.len() >= 2,
        "a letter of this length fills more than one A4 page"
    );
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("DEMODATA"),
            "page {} lacks the demo mark",
            i + 1
        );
    }
    assert!(
        text.contains("14,8") && text.contains("næsthøjeste"),
        "{text}"
    );
}

#[tokio::test]
async fn the_type_report_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        store: praktik::store::location::Location::Folder(dir.path().join("store")),
        out: dir.path().join("out"),
        reports: dir.path().join("reports"),
        ..Config::default()
    };
    let wanted = Wanted::Periods(vec!["2024Q2".parse().unwrap()]);
    pipeline::pull(&config, &Source::Demo, &wanted, &Default::default())
        .await
        .unwrap();
    let options = ReportOptions {
        name: "type-effects".into(),
        period: None,
        formats: vec![OutputFormat::Markdown],
        as_of: Default::default(),
        area: None,
        lang: None,
    };
    let rendered = pipeline::report(&config, &options).await.unwrap();
    assert!(rendered.demo);
    let md =
        std::fs::read_to_string(dir.path().join("out/reports/2024Q2/type-effects.md")).unwrap();
    crate::support::redacted().bind(|| insta::assert_snapshot!("type_effects_2024Q2_md", md));
}
