//! report.md to the page's body: the markdown rendered as it is, each figure image
//! replaced by a chart container (or its PNG inlined, when the figure has no interactive
//! form), and the page's own sections inserted: the audit's pairs after the fairness
//! audit, the runs table and the drill-down before the reproducibility section (at the end
//! when report.md has none).

use super::escape::escape;
use super::{tables, DrawnFigure, Input};
use crate::report::plots::Figure;
use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// A heading's anchor: lower-case letters and digits, other runs of characters as `-`.
pub(super) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Standard base64 (for the PNG of a figure without an interactive form).
pub(super) fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The HTML of one figure image: a chart container per captured figure, or the PNG.
fn figure_html<'a>(
    link: &str,
    input: &'a Input<'a>,
    charts: &mut Vec<&'a Figure>,
) -> anyhow::Result<String> {
    let Some(drawn) = input.figures.iter().find(|d: &&DrawnFigure| d.link == link) else {
        anyhow::bail!("report.md shows {link}, which was not drawn for it");
    };
    if drawn.figures.is_empty() {
        let png = std::fs::read(&drawn.path)?;
        return Ok(format!(
            "<figure class=\"fallback\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>\n",
            escape(&drawn.alt),
            base64(&png)
        ));
    }
    let mut out = String::new();
    for f in &drawn.figures {
        out.push_str(&format!(
            "<figure class=\"chart\" data-figure=\"{}\" aria-label=\"{}\"><noscript>This chart needs JavaScript; the same figure is {}.</noscript></figure>\n",
            charts.len(),
            escape(&drawn.alt),
            escape(link)
        ));
        charts.push(f);
    }
    Ok(out)
}

/// One `## ` section of report.md as HTML.
fn section<'a>(
    md: &str,
    input: &'a Input<'a>,
    charts: &mut Vec<&'a Figure>,
    out: &mut String,
) -> anyhow::Result<()> {
    let events: Vec<Event<'_>> = Parser::new_ext(md, Options::ENABLE_TABLES).collect();
    let mut kept: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        // A paragraph that holds only an image becomes the figure, without the paragraph.
        let lone = matches!(events[i], Event::Start(Tag::Paragraph))
            && matches!(events.get(i + 1), Some(Event::Start(Tag::Image { .. })));
        let start = if lone { i + 1 } else { i };
        if let Event::Start(Tag::Image { dest_url, .. }) = &events[start] {
            let end = (start..events.len())
                .find(|&k| matches!(events[k], Event::End(TagEnd::Image)))
                .unwrap_or(events.len() - 1);
            let closes = matches!(events.get(end + 1), Some(Event::End(TagEnd::Paragraph)));
            kept.push(Event::Html(figure_html(dest_url, input, charts)?.into()));
            i = if lone && closes { end + 2 } else { end + 1 };
            if lone && !closes {
                kept.insert(kept.len() - 1, Event::Start(Tag::Paragraph));
            }
            continue;
        }
        // Headings get an id (their text, slugged) so that sections can be linked.
        if let Event::Start(Tag::Heading {
            level,
            id: None,
            classes,
            attrs,
        }) = &events[i]
        {
            let text: String = events[i + 1..]
                .iter()
                .take_while(|e| !matches!(e, Event::End(TagEnd::Heading(_))))
                .filter_map(|e| match e {
                    Event::Text(t) | Event::Code(t) => Some(t.to_string()),
                    _ => None,
                })
                .collect();
            kept.push(Event::Start(Tag::Heading {
                level: *level,
                id: Some(slug(&text).into()),
                classes: classes.clone(),
                attrs: attrs.clone(),
            }));
            i += 1;
            continue;
        }
        // report.md holds no HTML of its own: anything that looks like HTML (say, in a
        // sweep's description) is shown as the text it is.
        kept.push(match &events[i] {
            Event::Html(t) | Event::InlineHtml(t) => Event::Text(t.clone()),
            e => e.clone(),
        });
        i += 1;
    }
    html::push_html(out, kept.into_iter());
    Ok(())
}

/// The page's body and the figures its chart containers show, in order.
pub(super) fn body<'a>(input: &'a Input<'a>) -> anyhow::Result<(String, Vec<&'a Figure>)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in input.md.split_inclusive('\n') {
        match line.strip_prefix("## ") {
            Some(h) => sections.push((h.trim().to_string(), line.to_string())),
            None => match sections.last_mut() {
                Some((_, text)) => text.push_str(line),
                None => sections.push((String::new(), line.to_string())),
            },
        }
    }
    let mut out = String::new();
    let mut charts = Vec::new();
    let mut extras_done = false;
    for (heading, text) in &sections {
        if heading == "Reproducibility" && !extras_done {
            extras(input, &mut out);
            extras_done = true;
        }
        section(text, input, &mut charts, &mut out)?;
        if heading == "Fairness audit" {
            out.push_str(&tables::pairs(input));
        }
    }
    if !extras_done {
        extras(input, &mut out);
    }
    Ok((out, charts))
}

/// The runs table and the drill-down.
fn extras(input: &Input<'_>, out: &mut String) {
    out.push_str("<h2 id=\"runs\">Runs</h2>\n");
    if input.runs.height() == 0 {
        out.push_str("<p>No run is complete yet.</p>\n");
        return;
    }
    out.push_str(
        "<p>Every complete run, with exact values (sort by a column's header, filter by any text). \
         Choose a run's id to see it in the drill-down below.</p>\n",
    );
    out.push_str(&tables::runs(input));
    out.push_str(
        "<h2 id=\"run-drill-down\">Run drill-down</h2>\n<p>One run's loss curves beside its group's mean (the mean over \
         the group's runs at each step; n is how many runs have a value there), and its \
         per-layer weight-gradient norm and layer-output std over training, beside the group's \
         mean of their log10.</p>\n<div id=\"drill\"></div>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn headings_slug_to_anchors() {
        assert_eq!(
            slug("Gradients, layer by layer"),
            "gradients-layer-by-layer"
        );
        assert_eq!(
            slug("resweep report: `distant_identity`"),
            "resweep-report-distant-identity"
        );
    }

    #[test]
    fn html_in_the_markdown_is_shown_as_text() {
        let runs = polars::prelude::DataFrame::empty();
        let input = Input {
            sweep: "s",
            md: "## Setup\n\nA <b>bold</b> claim.\n\n<script>alert(1)</script>\n",
            figures: &[],
            groups: &[],
            runs: &runs,
            steps: None,
            layers: None,
            comparison: None,
            axes: &[],
            live: None,
        };
        let (html, charts) = body(&input).unwrap();
        assert!(charts.is_empty());
        assert!(html.contains("A &lt;b&gt;bold&lt;/b&gt; claim."), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("<h2 id=\"setup\">Setup</h2>"), "{html}");
    }
}
