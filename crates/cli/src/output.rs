//! Printing results: aligned text tables for people, one JSON object per line for scripts.
//!
//! Everything here writes to stdout; logs and progress go to stderr.

use std::io::{self, Write};

use serde::Serialize;

/// Prints `value` as one line of compact JSON.
///
/// # Errors
/// When stdout is closed (for example a pipe whose reader exited) or `value` cannot be
/// serialised.
pub fn print_json_line<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Prints `value` as indented JSON (for whole documents such as a route).
///
/// # Errors
/// As [`print_json_line`].
pub fn print_json_pretty<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Prints one line of text and flushes, so a reader of a pipe sees it at once.
///
/// # Errors
/// When stdout is closed.
pub fn print_line(line: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// A text table with left-aligned columns sized to their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells print empty, extra cells are kept.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, header first.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.header.len()))
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in std::iter::once(&self.header).chain(self.rows.iter()) {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for line in std::iter::once(&self.header).chain(self.rows.iter()) {
            let mut rendered = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == columns {
                    rendered.push_str(cell);
                } else {
                    rendered.push_str(cell);
                    let pad = width.saturating_sub(cell.chars().count()) + 2;
                    rendered.extend(std::iter::repeat_n(' ', pad));
                }
            }
            text.push_str(rendered.trim_end());
            text.push('\n');
        }
        text
    }

    /// Prints the table to stdout.
    ///
    /// # Errors
    /// When stdout is closed.
    pub fn print(&self) -> anyhow::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(self.render().as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// Message text for display: UTF-8 with invalid sequences replaced, control characters escaped
/// so one message stays on one line.
pub fn display_body(body: &[u8]) -> String {
    String::from_utf8_lossy(body).escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_to_the_widest_cell() {
        let mut t = Table::new(&["QUEUE", "OFFSET"]);
        t.row(vec!["0".into(), "12345".into()]);
        t.row(vec!["10".into(), "7".into()]);
        assert_eq!(t.render(), "QUEUE  OFFSET\n0      12345\n10     7\n");
    }

    #[test]
    fn body_display_stays_on_one_line() {
        assert_eq!(display_body(b"a\nb"), "a\\nb");
        assert_eq!(display_body(&[0x66, 0xff]), "f\u{fffd}");
    }
}
