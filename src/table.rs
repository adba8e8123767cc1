//! Plain aligned text tables for the terminal (plan, summaries, query results).

/// Formats rows under a header, columns separated by two spaces; columns whose cells all
/// read as numbers are right-aligned.
pub fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let ncol = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let numeric: Vec<bool> = (0..ncol)
        .map(|c| {
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.get(c).is_some_and(|v| v.parse::<f64>().is_ok()))
        })
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let parts: Vec<String> = (0..ncol)
            .map(|c| {
                let cell = cells.get(c).map_or("", String::as_str);
                let pad = widths[c].saturating_sub(cell.chars().count());
                if numeric[c] {
                    format!("{}{cell}", " ".repeat(pad))
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header, &mut out);
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    line(&rule, &mut out);
    for row in rows {
        line(row, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_text_left_and_numbers_right() {
        let t = super::aligned(
            &["name".into(), "n".into()],
            &[
                vec!["a".into(), "10".into()],
                vec!["long".into(), "2".into()],
            ],
        );
        assert_eq!(t, "name   n\n----  --\na     10\nlong   2\n");
    }
}
