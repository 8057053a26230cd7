//! The two list layouts every list command shares: an aligned table with a header for a terminal, and
//! tab-separated lines without a header for scripts (reference/cli-conventions.md: gh's piped output).

use super::{Style, escape};

/// One cell: the text the width is measured on, and what is printed (the same text, maybe coloured).
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    plain: String,
    painted: Option<String>,
}

impl Cell {
    /// A server's text (an agent's author may have written it), made harmless to a terminal.
    pub(crate) fn text(text: &str) -> Self {
        Self {
            plain: escape::line(text).into_owned(),
            painted: None,
        }
    }

    /// `-` for a value that is absent.
    pub(crate) fn opt<T: ToString>(value: Option<T>) -> Self {
        value.map_or_else(|| Self::text("-"), |v| Self::text(&v.to_string()))
    }

    /// A cell whose printed form is `painted` (the same text with colour codes).
    pub(crate) fn painted(plain: String, painted: String) -> Self {
        Self {
            plain,
            painted: Some(painted),
        }
    }
}

/// An aligned table with a bold header; the last column is not padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<Cell>], style: Style) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.plain.chars().count());
        }
    }
    let last = header.len().saturating_sub(1);
    let mut out = String::new();
    let mut line = |cells: Vec<(&str, &str)>| {
        for (i, (plain, shown)) in cells.into_iter().enumerate() {
            out.push_str(shown);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - plain.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    let bold: Vec<String> = header.iter().map(|h| style.bold(h)).collect();
    line(header.iter().zip(&bold).map(|(h, b)| (*h, b.as_str())).collect());
    for row in rows {
        line(
            row.iter()
                .map(|c| (c.plain.as_str(), c.painted.as_deref().unwrap_or(&c.plain)))
                .collect(),
        );
    }
    out
}

/// One line per row, its cells tab-separated; no header, no colour.
pub(crate) fn plain(rows: &[Vec<Cell>]) -> String {
    rows.iter()
        .map(|row| {
            let cells: Vec<&str> = row.iter().map(|c| c.plain.as_str()).collect();
            cells.join("\t") + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn a_table_pads_every_column_but_the_last_and_plain_lines_are_tab_separated() {
        let rows = vec![
            vec![Cell::text("a"), Cell::opt(None::<u32>), Cell::text("last")],
            vec![
                Cell::text("longer\u{1b}[2J"),
                Cell::opt(Some(12)),
                Cell::text("x"),
            ],
        ];
        let style = Style { color: false };
        expect![[r#"
            ID               N   NOTE
            a                -   last
            longer\u{1b}[2J  12  x
        "#]]
        .assert_eq(&table(&["ID", "N", "NOTE"], &rows, style));
        expect![[r#"
            a	-	last
            longer\u{1b}[2J	12	x
        "#]]
        .assert_eq(&plain(&rows));
    }
}
