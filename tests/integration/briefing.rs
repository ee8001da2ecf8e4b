//! The quarterly council briefing: snapshots of the demo briefing in both
//! languages, sentences on crafted stores (each agreeing with the table and
//! the chart after the same rounding), wrong input, the data checks that
//! block, and the HTML and PDF in a real Chromium.

use std::path::Path;

use crate::support::{Workdir, demo_csv, with_row};

const SET: [(&str, &str); 6] = [
    ("101", "København"),
    ("751", "Aarhus"),
    ("851", "Aalborg"),
    ("461", "Odense"),
    ("561/563", "Esbjerg/Fanø"),
    ("730", "Randers"),
];

/// An outcomes CSV of dagpenge rows: (period, area code, ended, in work).
fn crafted(rows: &[(&str, &str, i64, i64)]) -> String {
    let mut out = String::from(
        "period,area_code,area_name,benefit_group,ended,in_work_or_education,share_pct\n",
    );
    for (period, code, ended, in_work) in rows {
        let name = if *code == "000" {
            "Hele landet"
        } else {
            SET.iter()
                .find(|(c, _)| c == code)
                .map(|(_, n)| *n)
                .unwrap_or("Horsens")
        };
        let share = 100.0 * *in_work as f64 / *ended as f64;
        out.push_str(&format!(
            "{period},{code},{name},dagpenge,{ended},{in_work},{share:.4}\n"
        ));
    }
    out
}

/// A quarter with the country and the comparison set: shares in per cent
/// of 10 000 ended (so that a change of a point or more is real).
fn quarter(period: &str, country: f64, shares: [f64; 6]) -> Vec<(String, String, i64, i64)> {
    let counts = |share: f64| (10_000, (share * 100.0).round() as i64);
    let mut rows = vec![(
        period.to_string(),
        "000".to_string(),
        100_000,
        (country * 1000.0).round() as i64,
    )];
    for ((code, _), share) in SET.iter().zip(shares) {
        let (ended, in_work) = counts(share);
        rows.push((period.into(), code.to_string(), ended, in_work));
    }
    rows
}

/// A store of crafted dagpenge quarters, pulled one file per quarter.
fn crafted_store(quarters: &[Vec<(String, String, i64, i64)>]) -> Workdir {
    let work = Workdir::new();
    for (i, rows) in quarters.iter().enumerate() {
        let borrowed: Vec<(&str, &str, i64, i64)> = rows
            .iter()
            .map(|(p, c, e, w)| (p.as_str(), c.as_str(), *e, *w))
            .collect();
        let name = format!("q{i}.csv");
        work.write(&name, crafted(&borrowed));
        work.ok(&["pull", "--source", &format!("file:{name}")]);
    }
    work
}

fn briefing_definition(work: &Workdir, extra: &str) {
    std::fs::create_dir_all(work.path().join("reports")).unwrap();
    let text = include_str!("../../reports/briefing.toml").replace(
        "groups = [\"kontanthjaelp_jobparat\", \"kontanthjaelp_aktivitetsparat\", \"dagpenge\"]",
        "groups = [\"dagpenge\"]",
    );
    work.write("reports/briefing.toml", text + extra);
}

fn md(work: &Workdir, period: &str, stem: &str) -> String {
    work.read(&format!("out/reports/{period}/{stem}.md"))
}

/// The summary's paragraphs of a Markdown briefing.
fn summary(md: &str) -> Vec<String> {
    let start = md.find("## ").unwrap();
    let section = &md[start..];
    let section = &section[section.find('\n').unwrap()..];
    let end = section.find("\n## ").unwrap();
    section[..end]
        .split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[test]
fn a_tie_for_highest_names_the_partner_and_agrees_with_table_and_chart() {
    let work = crafted_store(&[
        quarter("2024Q3", 30.0, [30.0, 29.0, 28.0, 27.0, 26.0, 25.0]),
        quarter("2024Q4", 30.0, [33.04, 32.96, 28.0, 27.0, 26.0, 25.0]),
    ]);
    briefing_definition(&work, "");
    work.ok(&["report", "briefing"]);
    let text = md(&work, "2024Q4", "briefing");
    let s = summary(&text);
    assert!(
        s[0].contains("33,0 pct.")
            && s[0].ends_with("den højeste blandt landets 6 største kommuner sammen med Aarhus."),
        "{s:?}"
    );
    // Equal to the country's as shown: said as the two figures, no judgement.
    assert!(s[0].contains("mod 30,0 pct. i hele landet"), "{s:?}");
    // 33.0 - 30.0 = 3.0 points on 10 000 ended each: larger than ±1.3.
    assert!(s[1].starts_with("Det er 3,0 procentpoint mere end i 3. kvartal 2024 (en reel ændring, større end den statistiske usikkerhed på ±1,3 procentpoint)"), "{s:?}");
    assert!(
        s[1].ends_with("for 4. kvartal 2023 foreligger der ikke et tal at sammenligne med."),
        "{s:?}"
    );
    // The table and the chart's table show the same rounding.
    assert!(
        text.contains("| Dagpengemodtagere | 30,0 | 33,0 | 33,0 |"),
        "{text}"
    );
    assert!(
        text.contains("| 2024K4 | 33,0 | 30,0 | 25,0 | 33,0 |"),
        "{text}"
    );
    let svg = work.read("out/reports/2024Q4/briefing-trend-dagpenge.svg");
    assert_eq!(svg.matches("<circle class=\"point area\"").count(), 2);
    assert!(svg.contains("2024K4: 33,0"), "{svg}");
}

#[test]
fn the_one_ahead_and_a_real_change_are_named() {
    let work = crafted_store(&[
        quarter("2023Q4", 30.0, [20.0, 29.0, 28.0, 27.0, 26.0, 25.0]),
        quarter("2024Q3", 30.0, [30.6, 29.0, 28.0, 27.0, 26.0, 25.0]),
        quarter("2024Q4", 30.0, [31.0, 35.0, 28.0, 27.0, 26.0, 25.0]),
    ]);
    briefing_definition(&work, "");
    work.ok(&["report", "briefing", "--lang", "en"]);
    let s = summary(&md(&work, "2024Q4", "briefing-en"));
    assert!(
        s[0].ends_with("the second highest among the 6 largest municipalities after Aarhus."),
        "{s:?}"
    );
    assert!(
        s[0].contains("31.0%") && s[0].contains("30.0% nationally"),
        "{s:?}"
    );
    // 31.0 against 30.6 on 10 000 each: within ±1.3; against 20.0: real.
    assert!(
        s[1].contains("0.4 percentage points more than in Q3 2024 (within"),
        "{s:?}"
    );
    assert!(
        s[1].contains("11.0 percentage points more than in Q4 2023 (a real change"),
        "{s:?}"
    );
}

#[test]
fn the_lowest_a_suppressed_cell_and_a_missing_quarter() {
    let mut q4 = quarter("2024Q4", 30.0, [20.0, 29.0, 28.0, 27.0, 26.0, 25.0]);
    q4[3] = ("2024Q4".into(), "851".into(), 3, 1); // Aalborg: 3 ended
    let mut q2 = quarter("2024Q2", 30.0, [21.0, 29.0, 28.0, 27.0, 26.0, 25.0]);
    q2[1] = ("2024Q2".into(), "101".into(), 4, 2); // København: 4 ended
    let work = crafted_store(&[q2, quarter("2024Q1", 30.0, [22.0; 6]), q4]);
    briefing_definition(&work, "");
    work.ok(&["report", "briefing"]);
    let text = md(&work, "2024Q4", "briefing");
    let s = summary(&text);
    assert!(
        s[0].ends_with("den laveste blandt de 5 af landets 6 største kommuner, der har et tal."),
        "{s:?}"
    );
    // No figure for 2024Q3 at all; 2023Q4 neither.
    assert!(
        s[1].contains("Der foreligger ikke tal for 3. kvartal 2024 eller 4. kvartal 2023"),
        "{s:?}"
    );
    assert!(
        text.contains("| Dagpengemodtagere | 30,0 | 20,0 | 29,0 | –¹ |"),
        "{text}"
    );
    assert!(text.contains("1 celler bygger på færre end 5 afsluttede forløb og vises ikke: Aalborg (dagpengemodtagere)."), "{text}");
    // The chart: 2024Q2 suppressed and 2024Q3 missing are gaps, not zeros.
    assert!(text.contains("| 2024K2 | –¹ |"), "{text}");
    assert!(text.contains("| 2024K3 | –² |"), "{text}");
    let svg = work.read("out/reports/2024Q4/briefing-trend-dagpenge.svg");
    assert_eq!(
        svg.matches("<circle class=\"point area\"").count(),
        2,
        "{svg}"
    );
    assert!(svg.contains("huller: 2023K1"), "{svg}");
    // Most municipalities are missing from this source: a note, not a block.
    assert!(
        text.contains("kommuner mangler i kilden for 4. kvartal 2024, bl.a."),
        "{text}"
    );
    // No person-level data for the quarter.
    assert!(
        text.contains("Der er ingen persondata for 4. kvartal 2024"),
        "{text}"
    );
}

#[test]
fn a_revised_quarter_is_noted_with_before_and_after_and_marked_in_the_chart() {
    let work = crafted_store(&[
        quarter("2024Q3", 30.0, [28.0, 29.0, 28.0, 27.0, 26.0, 25.0]),
        quarter("2024Q4", 30.0, [31.0, 35.0, 28.0, 27.0, 26.0, 25.0]),
        quarter("2024Q3", 30.0, [26.5, 29.0, 28.0, 27.0, 26.0, 25.0]),
    ]);
    briefing_definition(&work, "");
    work.ok(&["report", "briefing"]);
    let text = md(&work, "2024Q4", "briefing");
    assert!(
        text.contains("Tallene for 3. kvartal 2024 er ændret siden sidste orientering: dagpengemodtagerne i København 28,0 pct. → 26,5 pct."),
        "{text}"
    );
    assert!(text.contains("| 2024K3 r | 26,5 |"), "{text}");
    let svg = work.read("out/reports/2024Q4/briefing-trend-dagpenge.svg");
    assert!(
        svg.contains("<tspan font-weight=\"bold\"> r</tspan>"),
        "{svg}"
    );
    // The summary uses the revised figure: 31.0 - 26.5.
    assert!(
        summary(&text)[1].contains("4,5 procentpoint mere end i 3. kvartal 2024"),
        "{text}"
    );
}

#[test]
fn an_area_outside_the_comparison_set_is_compared_with_it() {
    let mut q4 = quarter("2024Q4", 30.0, [31.0, 35.0, 28.0, 27.0, 26.0, 25.0]);
    q4.push(("2024Q4".into(), "615".into(), 500, 150));
    let work = crafted_store(&[q4]);
    briefing_definition(&work, "");
    work.ok(&["report", "briefing", "--area", "Horsens"]);
    let text = md(&work, "2024Q4", "briefing-615");
    let s = summary(&text);
    assert!(
        s[0].contains("i Horsens mod 30,0 pct.")
            && s[0].ends_with("den tredjehøjeste, når Horsens sammenlignes med landets 6 største kommuner efter København."),
        "{s:?}"
    );
    assert!(text.contains("**Horsens**"), "{text}");
}

#[test]
fn wrong_input_changes_nothing_and_says_what_exists() {
    let work = crafted_store(&[quarter(
        "2024Q4",
        30.0,
        [31.0, 35.0, 28.0, 27.0, 26.0, 25.0],
    )]);
    briefing_definition(&work, "");
    let err = work.fails(&["report", "briefing", "--area", "1011"], 2);
    assert!(
        err.contains("`1011` is not a known area") && err.contains("101 (København)"),
        "{err}"
    );
    let err = work.fails(&["report", "briefing", "--area", "147"], 2);
    assert!(
        err.contains("no figures for 147 (Frederiksberg) in 2024Q4")
            && err.contains("101 (København)"),
        "{err}"
    );
    let err = work.fails(&["report", "briefing", "--period", "2023Q2"], 1);
    assert!(
        err.contains("does not hold 2023Q2; it holds 2024Q4"),
        "{err}"
    );
    let err = work.fails(&["report", "briefing", "--lang", "sv"], 2);
    assert!(
        err.contains("no catalogue for the language `sv`") && err.contains("da, en"),
        "{err}"
    );
    work.write(
        "reports/letter.toml",
        include_str!("../../reports/letter.toml"),
    );
    let err = work.fails(&["report", "letter", "--lang", "en"], 2);
    assert!(err.contains("Danish only"), "{err}");
    briefing_definition(&work, "\n[briefing.extra]\nx = 1\n");
    let err = work.fails(&["report", "briefing"], 2);
    assert!(
        err.contains("reports/briefing.toml") && err.contains("extra"),
        "{err}"
    );
    assert!(
        !work.path().join("out/reports/2024Q4").exists(),
        "nothing was rendered"
    );
}

/// Every file under `dir` with its bytes.
fn snapshot_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    crate::support::collect_files(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn a_failed_blocking_check_keeps_the_last_briefing_byte_for_byte_and_exits_1() {
    let work = Workdir::new();
    briefing_definition(&work, "");
    work.ok(&["pull", "--period", "2024Q3"]);
    work.ok(&["pull", "--period", "2024Q4"]);
    work.ok(&["report", "briefing"]);
    let before = snapshot_of(&work.path().join("out"));
    assert!(
        before.len() >= 4,
        "{:?}",
        before.iter().map(|b| &b.0).collect::<Vec<_>>()
    );

    // The country's dagpenge figure no longer agrees with its municipalities.
    work.write(
        "bad.csv",
        with_row(&demo_csv("2024Q4"), "000", "dagpenge", "35000,14000,40.0"),
    );
    work.ok(&["pull", "--source", "file:bad.csv"]);
    let err = work.fails(&["report", "briefing"], 1);
    assert!(
        err.contains("data checks of `briefing` for 2024Q4 failed")
            && err.contains("landstallet for Dagpengemodtagere er 40,0 pct."),
        "{err}"
    );
    let err = work.fails(&["run", "--source", "file:bad.csv"], 1);
    assert!(
        err.contains("not rendered") && err.contains("the last good reports stay"),
        "{err}"
    );
    // The ledger and `status` say which report the run left out.
    let (status, _) = work.ok(&["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains(" run ")
                && l.contains("not rendered: the data checks of `briefing`")),
        "{status}"
    );
    for (path, bytes) in &before {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{path} changed");
    }
}

/// The whole demo store, and the briefing rendered in `lang` as `formats`.
fn demo_briefing(work: &Workdir, lang: &str, formats: &str) {
    if !work.path().join("store/outcomes").exists() {
        work.ok(&["pull"]);
    }
    work.ok(&["report", "briefing", "--lang", lang, "--format", formats]);
}

#[test]
fn the_demo_briefing_matches_its_snapshots_in_both_languages() {
    let work = Workdir::new();
    demo_briefing(&work, "da", "html,md");
    demo_briefing(&work, "en", "html,md");
    let da_md = md(&work, "2024Q4", "briefing");
    let en_md = md(&work, "2024Q4", "briefing-en");
    for text in [&da_md, &en_md] {
        assert!(!text.contains('«'), "a catalogue key is missing:\n{text}");
    }
    crate::support::redacted().bind(|| {
        insta::assert_snapshot!("briefing_2024Q4_da_md", da_md);
        insta::assert_snapshot!("briefing_2024Q4_en_md", en_md);
        insta::assert_snapshot!(
            "briefing_2024Q4_da_html",
            work.read("out/reports/2024Q4/briefing.html")
        );
        insta::assert_snapshot!(
            "briefing_2024Q4_en_html",
            work.read("out/reports/2024Q4/briefing-en.html")
        );
    });
    // Decimal comma in Danish, point in English, on the chart's axis too.
    let svg = work.read("out/reports/2024Q4/briefing-trend-dagpenge.svg");
    assert!(svg.contains("København, 2024K4: 23,8"), "{svg}");
    let html = work.read("out/reports/2024Q4/briefing-en.html");
    assert!(
        html.contains("København, 2024Q4: 23.8")
            && html.contains("Share in work&#x2F;education, %")
    );
    // Every figure of the HTML names its query, parameters, version and row.
    for cell in html.split("<td class=\"num").skip(1) {
        let cell = &cell[..cell.find('>').unwrap()];
        if cell.contains("data-query") {
            for attribute in [
                "data-params=\"",
                "data-table=\"",
                "data-version=\"",
                "data-row=\"",
                "title=\"",
            ] {
                assert!(cell.contains(attribute), "{cell}");
            }
        }
    }
    assert!(html.contains("data-query=\"sql&#x2F;effect_by_area.sql\" data-params=\"period=2024Q4 areas=101,751,851,461,561&#x2F;563,730\" data-table=\"outcomes\" data-version=\"0\" data-row=\"area_code=101 benefit_group=dagpenge\""), "{html}");
    assert_eq!(
        html.matches("<p class=\"sentence\" data-query=").count(),
        html.matches("<p class=\"sentence\"").count()
    );
    assert!(html.contains("praktik query --file sql&#x2F;briefing_trend.sql --param area=101"));

    // Every command of the appendix reruns, and gives the figures shown.
    let commands: Vec<&str> = da_md
        .lines()
        .filter_map(|l| l.split(": `praktik ").nth(1))
        .map(|c| c.trim_end_matches('`'))
        .collect();
    assert_eq!(commands.len(), 4, "{da_md}");
    for command in &commands {
        assert!(command.contains("--as-of "), "{command}");
        let mut args: Vec<&str> = command.split(' ').collect();
        args.extend(["--format", "csv"]);
        let (csv, _) = work.ok(&args);
        if command.contains("briefing_trend") {
            let row = csv
                .lines()
                .find(|l| l.starts_with("2024Q4,dagpenge,"))
                .unwrap_or_else(|| panic!("{csv}"));
            assert!(row.contains(",23.8,"), "the summary says 23,8: {row}");
        }
    }
}

/// `html` with a script that measures it in Chromium at the A4 content
/// width, and what it measured.
fn measure_in_chromium(html: &Path) -> serde_json::Value {
    let content_width = (174.0_f64 * 96.0 / 25.4).round() as u32; // A4 less 2 × 18 mm, in CSS px
    let check = html.with_file_name("check.html");
    let script = format!(
        r#"<pre id="check"></pre><script>
const limit = {content_width} + 0.5;
const wide = [...document.querySelectorAll('.sheet *')]
  .filter(e => e.getBoundingClientRect().right > limit)
  .map(e => e.tagName + ' ' + (e.getAttribute('class') || ''));
const charts = [...document.querySelectorAll('.chart-block')].map(block => ({{
  points: block.querySelectorAll('svg .point.area, svg .point.type').length,
  shown: [...block.querySelectorAll('table.data tbody tr:first-child td')]
    .filter(td => !td.textContent.startsWith('–')).length,
  title: !!block.querySelector('svg > title'),
  desc: !!block.querySelector('svg > desc'),
}}));
document.getElementById('check').textContent = JSON.stringify({{ wide, charts }});
</script></body>"#
    );
    let page = std::fs::read_to_string(html)
        .unwrap()
        .replace("</body>", &script);
    std::fs::write(&check, page).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--window-size={content_width},1200"),
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &format!("file://{}", check.display()),
        ])
        .output()
        .expect("chromium (apt-get install chromium) renders the briefing");
    let dom = String::from_utf8_lossy(&output.stdout);
    let start = dom.find("<pre id=\"check\">").expect("the check ran") + "<pre id=\"check\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    serde_json::from_str(&dom[start..end].replace("&amp;", "&")).unwrap()
}

#[test]
fn in_chromium_nothing_is_wider_than_a4_and_every_chart_has_its_points() {
    let work = Workdir::new();
    demo_briefing(&work, "da", "html");
    let measured = measure_in_chromium(&work.path().join("out/reports/2024Q4/briefing.html"));
    assert_eq!(measured["wide"], serde_json::json!([]), "{measured}");
    let charts = measured["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 4, "three trends and the types: {measured}");
    for chart in &charts[..3] {
        assert_eq!(chart["points"], 8, "{measured}");
        assert_eq!(chart["points"], chart["shown"], "{measured}");
    }
    assert_eq!(charts[3]["points"], 3, "{measured}");
    for chart in charts {
        assert_eq!(
            (chart["title"].as_bool(), chart["desc"].as_bool()),
            (Some(true), Some(true))
        );
    }
}

#[test]
fn the_pdf_holds_the_summary_figures_and_splits_no_table_across_pages() {
    let work = Workdir::new();
    demo_briefing(&work, "da", "md,pdf");
    let summary_text = summary(&md(&work, "2024Q4", "briefing")).join(" ");
    let pdf = work.path().join("out/reports/2024Q4/briefing.pdf");
    let output = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (apt-get install poppler-utils) reads the PDF");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let figures: Vec<&str> = summary_text
        .split(' ')
        .filter(|w| w.contains(',') && w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert!(figures.len() >= 10, "{figures:?}");
    for figure in &figures {
        assert!(
            text.contains(figure.trim_end_matches(&[',', '.', ')'][..])),
            "{figure} is not in the PDF"
        );
    }
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(pages.len() >= 3, "{}", pages.len());
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("DEMODATA"),
            "page {} lacks the demo mark",
            i + 1
        );
        let squeezed = page.replace(' ', "");
        assert!(
            squeezed.contains(&format!("{}/{}", i + 1, pages.len())),
            "page {} lacks its number",
            i + 1
        );
        // A table starts and ends on the same page: each "figures behind
        // the chart" caption has its table's last row below it.
        let trend_tables = page.matches("Højeste i sammenligningen").count();
        let type_tables = page.matches("Praktiktype").count();
        assert_eq!(
            page.matches("Tallene bag diagrammet").count(),
            trend_tables + type_tables,
            "page {}:\n{page}",
            i + 1
        );
        if let Some(at) = page.find("Praktiktype") {
            assert!(
                page[at..].contains("Kompetencepraktik"),
                "page {}:\n{page}",
                i + 1
            );
        }
        assert_eq!(
            page.contains("Tabel 1:"),
            page.contains("Borgere i jobafklaringsforløb"),
            "page {}",
            i + 1
        );
    }
}
