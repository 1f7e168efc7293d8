//! Output formats: tables for people, stable JSON/YAML for scripts.

use std::io::IsTerminal;

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// `-o table|json|yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable table, sized to the terminal.
    Table,
    /// Pretty JSON (a stream of one object per line for `watch`).
    Json,
    /// YAML (a stream of documents for `watch`).
    Yaml,
}

/// A table with the house style, wrapping to the terminal width when stdout is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !header.is_empty() {
        t.set_header(header.iter().copied());
    }
    // Not a terminal (a pipe, a file): wrap to $COLUMNS when it is set.
    if !std::io::stdout().is_terminal()
        && let Some(width) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok())
    {
        t.set_width(width);
    }
    t
}

/// A two-column key/value table; empty values are left out.
pub fn kv_table(rows: &[(&str, String)]) -> Table {
    let mut t = table(&[]);
    for (k, v) in rows {
        if !v.is_empty() {
            add_row(&mut t, vec![(*k).to_owned(), v.clone()]);
        }
    }
    t
}

/// The longest line of a table cell when stdout is not a terminal (a pipe, a file); longer
/// ones end in "…". JSON and YAML output always carry the full text.
pub const MAX_CELL: usize = 60;

/// Adds a row, each line of each cell cut to [`MAX_CELL`] characters when stdout is not a
/// terminal (on a terminal, cells wrap to its width).
pub fn add_row(t: &mut Table, cells: Vec<String>) {
    if std::io::stdout().is_terminal() {
        t.add_row(cells);
    } else {
        t.add_row(cells.into_iter().map(|c| truncate(&c, MAX_CELL)));
    }
}

/// Each line of `text` cut to `max` characters, the last of them "…".
pub fn truncate(text: &str, max: usize) -> String {
    text.split('\n')
        .map(|line| {
            if line.chars().count() <= max {
                line.to_owned()
            } else {
                let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
                cut.push('…');
                cut
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Serialises `value` as JSON or YAML.
pub fn render<T: Serialize>(format: Format, value: &T) -> CliResult<String> {
    match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| CliError::other(format!("cannot write JSON: {e}"))),
        Format::Yaml | Format::Table => {
            serde_norway::to_string(value).map_err(|e| CliError::other(format!("cannot write YAML: {e}")))
        }
    }
}

/// Prints `value` as JSON/YAML, or the table `make_table` builds.
pub fn emit<T: Serialize>(format: Format, value: &T, make_table: impl FnOnce() -> Table) -> CliResult {
    match format {
        Format::Table => println!("{}", make_table()),
        f => print!("{}", render(f, value)?),
    }
    Ok(())
}

/// Prints a list: as a table with `header` and one `row` per item, or as JSON/YAML.
pub fn emit_list<T: Serialize>(
    format: Format,
    items: &[T],
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> CliResult {
    emit(format, &items, || {
        let mut t = table(header);
        for item in items {
            add_row(&mut t, row(item));
        }
        t
    })
}

/// What a listed item shows in a table: the header, and the row of each item (json and yaml
/// print the items themselves).
pub trait Columns: Serialize {
    /// The header of the table.
    const COLUMNS: &'static [&'static str];
    /// One row, a cell per column.
    fn row(&self) -> Vec<String>;
}

/// Prints a list of [`Columns`] items: a table, or JSON/YAML.
pub fn print_list<T: Columns>(format: Format, items: &[T]) -> CliResult {
    emit_list(format, items, T::COLUMNS, T::row)
}

/// Joins a list for a table cell.
pub fn join(items: &[String]) -> String {
    items.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        assert_eq!(super::truncate("short", 60), "short");
        let long = "x".repeat(100);
        let cut = super::truncate(&format!("{long}\nok"), 60);
        assert_eq!(cut, format!("{}…\nok", "x".repeat(59)));
        assert_eq!(cut.lines().next().map(|l| l.chars().count()), Some(60));
    }
}
