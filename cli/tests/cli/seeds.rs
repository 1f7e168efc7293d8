//! The seed data says only what the source text says.

use std::path::{Path, PathBuf};

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds")
}

fn source() -> String {
    std::fs::read_to_string(seeds().join("source.txt")).expect("seeds/source.txt")
}

fn seed_files() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(seeds())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// Maximal runs of digits (with a decimal part), e.g. `2030`, `30`, `2.5`.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let decimal_point = c == '.' && !cur.is_empty() && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || decimal_point {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn the_copy_of_the_source_text_is_faithful() {
    let shared = seeds().join("../../shared/source/000_9b228fd448a20477.txt");
    if let Ok(original) = std::fs::read_to_string(shared) {
        assert_eq!(source(), original);
    }
}

#[test]
fn every_number_in_the_seeds_appears_in_the_source_text() {
    let source_numbers = numbers(&source());
    let files = seed_files();
    for name in ["goals.yaml", "partners.yaml", "agreements.yaml"] {
        assert!(
            files.iter().any(|(p, _)| p.file_name().is_some_and(|f| f == name)),
            "seeds/{name} is checked"
        );
    }
    for (path, text) in files {
        for n in numbers(&text) {
            assert!(
                source_numbers.contains(&n),
                "{}: {n} does not appear in the source text",
                path.display()
            );
        }
    }
    assert_eq!(
        numbers("over 500 AI factories by 2030, +2.5% (5+3)."),
        ["500", "2030", "2.5", "5", "3"]
    );
}

#[test]
fn every_record_cites_a_verbatim_passage_of_the_source() {
    let source = source();
    for (path, text) in seed_files() {
        let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        for section in ["goals", "partners", "agreements", "risks"] {
            let Some(records) = doc.get(section).and_then(|v| v.as_sequence()) else {
                continue;
            };
            for r in records {
                let id = r["id"].as_str().unwrap();
                let cite = r.get("source").and_then(|s| s.as_str()).unwrap_or_default();
                let quotes: Vec<&str> = cite.split('"').skip(1).step_by(2).collect();
                assert!(!quotes.is_empty(), "{}: {id} quotes no passage", path.display());
                for q in quotes {
                    assert!(source.contains(q), "{}: {id}: not in the source: {q:?}", path.display());
                }
                // No Korean title the statement does not support; a country's Korean name is
                // CLDR's.
                assert!(
                    r.get("title_ko").is_none(),
                    "{}: {id} has a Korean title",
                    path.display()
                );
                if let Some(ko) = r.get("display_name_ko").and_then(|v| v.as_str()) {
                    assert_eq!(
                        r["kind"].as_str(),
                        Some("COUNTRY"),
                        "{id}: only countries have CLDR names"
                    );
                    assert_eq!(
                        Some(ko.to_owned()),
                        registry_server::domain::cldr::korean_country_name(id),
                        "{}: {id}'s Korean name is not CLDR's",
                        path.display()
                    );
                }
            }
        }
    }
}
