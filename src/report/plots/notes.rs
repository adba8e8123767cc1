//! Notes inside the plot area: word wrapping, the notes box (layout, corner placement,
//! drawing, shortening when it does not fit), the "no data" panel, and sampling the pixels
//! that data occupy so the box avoids them.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::{text_size, Rect, Root};
use super::style::{font_at, GREY, NOTE_PX, NOTE_TEXT, PANEL_TITLE_PX};

/// "1 point", "3 points".
pub(super) fn count(k: usize, noun: &str) -> String {
    if k == 1 {
        format!("1 {noun}")
    } else {
        format!("{k} {noun}s")
    }
}

/// Greedy word wrap to `max_w` pixels.
fn wrap(root: &Root<'_>, text: &str, style: &TextStyle, max_w: i32) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && text_size(root, &candidate, style)?.0 > max_w {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Ok(lines)
}

/// Notes wrapped into lines, with the size of their box.
pub(super) struct NotesBox {
    pub(super) lines: Vec<String>,
    pub(super) w: i32,
    pub(super) h: i32,
}

/// Wraps notes to `max_w` pixels within `max_lines` lines; `None` when there is nothing to
/// say. The first `n_caller` notes are the caller's, the rest automatic (data problems).
/// When everything does not fit, caller notes are dropped first (from the last), then
/// automatic ones, and a final line says how many were left out.
pub(super) fn layout_notes(
    root: &Root<'_>,
    notes: &[String],
    n_caller: usize,
    max_w: i32,
    max_lines: usize,
) -> Result<Option<NotesBox>> {
    let style = note_style();
    let max_lines = max_lines.max(2);
    let mut wrapped: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, note) in notes.iter().enumerate() {
        if note.trim().is_empty() {
            continue;
        }
        wrapped.push((i, wrap(root, note, &style, (max_w - 16).max(80))?));
    }
    if wrapped.is_empty() {
        return Ok(None);
    }
    let total = |w: &[(usize, Vec<String>)]| w.iter().map(|(_, l)| l.len()).sum::<usize>();
    let mut dropped = 0;
    if total(&wrapped) > max_lines {
        // Room for the "… more" line.
        while wrapped.len() > 1 && total(&wrapped) + 1 > max_lines {
            let victim = wrapped
                .iter()
                .rposition(|(i, _)| *i < n_caller)
                .unwrap_or(wrapped.len() - 1);
            wrapped.remove(victim);
            dropped += 1;
        }
        if let Some((_, l)) = wrapped.first_mut() {
            l.truncate(max_lines - 1);
        }
    }
    let mut lines = Vec::new();
    for (_, wl) in &wrapped {
        for (i, l) in wl.iter().enumerate() {
            lines.push(if i == 0 {
                format!("• {l}")
            } else {
                format!("   {l}")
            });
        }
    }
    if dropped > 0 {
        lines.push(format!("… and {} not shown", count(dropped, "more note")));
    }
    let mut w = 0;
    for l in &lines {
        w = w.max(text_size(root, l, &style)?.0);
    }
    let h = NOTE_LINE_H * lines.len() as i32 + 10;
    Ok(Some(NotesBox {
        lines,
        w: w + 16,
        h,
    }))
}

/// Lines of notes that fit in `frac` of a plot `plot_h` pixels high.
pub(super) fn note_lines_for(plot_h: i32, frac: f64) -> usize {
    ((plot_h as f64 * frac - 10.0 - 2.0 * NOTE_MARGIN as f64) / NOTE_LINE_H as f64).max(2.0)
        as usize
}

const NOTE_LINE_H: i32 = 22;
pub(super) const NOTE_MARGIN: i32 = 8;

/// Largest fraction of a plot's height kept free of data for notes.
pub(super) const MAX_HEADROOM: f64 = 0.6;

/// The notes of a plot area about `plot_w` x `plot_h` pixels, laid out for the strip at its
/// top (at most `lines_frac` of the height in lines), and the fraction of the height (at most
/// [`MAX_HEADROOM`]) the axis must keep free of data for that strip: `None` when there are
/// no notes or no room.
pub(super) fn notes_strip(
    root: &Root<'_>,
    notes: &[String],
    n_caller: usize,
    (plot_w, plot_h): (i32, i32),
    lines_frac: f64,
) -> Result<(Option<NotesBox>, Option<f64>)> {
    let notes_box = layout_notes(
        root,
        notes,
        n_caller,
        (plot_w as f64 * 0.92) as i32,
        note_lines_for(plot_h, lines_frac),
    )?;
    let headroom = match &notes_box {
        Some(nb) if plot_h > 0 => {
            Some(((nb.h + 2 * NOTE_MARGIN + 4) as f64 / plot_h as f64).min(MAX_HEADROOM))
        }
        _ => None,
    };
    Ok((notes_box, headroom))
}

fn note_style() -> TextStyle<'static> {
    font_at(NOTE_PX, HPos::Left, VPos::Top).color(&NOTE_TEXT)
}

/// Where a notes box goes inside `plot`: the top-left corner when `headroom` (the axis left
/// that strip free of data), else whichever corner covers the fewest `occupied` pixels
/// (ties: top-right, top-left, bottom-right, bottom-left).
pub(super) fn notes_corner(
    plot: Rect,
    nb: &NotesBox,
    occupied: &[(i32, i32)],
    headroom: bool,
) -> Rect {
    let (bw, bh, m) = (nb.w, nb.h, NOTE_MARGIN);
    let candidates = [
        (plot.x1 - m - bw, plot.y0 + m),
        (plot.x0 + m, plot.y0 + m),
        (plot.x1 - m - bw, plot.y1 - m - bh),
        (plot.x0 + m, plot.y1 - m - bh),
    ]
    .map(|(x, y)| Rect {
        x0: x,
        y0: y,
        x1: x + bw,
        y1: y + bh,
    });
    if headroom {
        return candidates[1];
    }
    candidates
        .iter()
        .copied()
        .min_by_key(|r| occupied.iter().filter(|p| r.contains(**p)).count())
        .unwrap_or(candidates[0])
}

pub(super) fn draw_notes_box(root: &Root<'_>, nb: &NotesBox, r: Rect) -> Result<()> {
    root.draw(&Rectangle::new(
        [(r.x0, r.y0), (r.x1, r.y1)],
        WHITE.mix(0.9).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(r.x0, r.y0), (r.x1, r.y1)],
        NOTE_TEXT.mix(0.6).stroke_width(1),
    ))?;
    let style = note_style();
    for (i, l) in nb.lines.iter().enumerate() {
        root.draw_text(l, &style, (r.x0 + 8, r.y0 + 6 + i as i32 * NOTE_LINE_H))?;
    }
    Ok(())
}

pub(super) fn place_notes(
    root: &Root<'_>,
    plot: Rect,
    nb: &NotesBox,
    occupied: &[(i32, i32)],
    headroom: bool,
) -> Result<()> {
    draw_notes_box(root, nb, notes_corner(plot, nb, occupied, headroom))
}

/// A panel with only a title, a frame, "no data" and the notes.
pub(super) fn draw_no_data(
    area: &Root<'_>,
    title: &str,
    notes: &[String],
    n_caller: usize,
) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw_text(
        title,
        &font_at(PANEL_TITLE_PX, HPos::Center, VPos::Top),
        (w / 2, 12),
    )?;
    area.draw(&Rectangle::new(
        [(50, 52), (w - 30, h - 30)],
        RGBColor(170, 170, 170).stroke_width(1),
    ))?;
    area.draw_text(
        "no data",
        &font_at(30.0, HPos::Center, VPos::Center).color(&GREY),
        (w / 2, h / 2 - 20),
    )?;
    let top = h / 2 + 14;
    let max_lines = ((h - 40 - top) / NOTE_LINE_H).max(2) as usize;
    if let Some(nb) = layout_notes(area, notes, n_caller, w - 140, max_lines)? {
        let style = note_style();
        let x = (w - nb.w) / 2 + 8;
        for (i, l) in nb.lines.iter().enumerate() {
            area.draw_text(l, &style, (x, top + i as i32 * NOTE_LINE_H))?;
        }
    }
    Ok(())
}

/// Samples pixels along a polyline every few pixels (for the notes placement).
pub(super) fn sample_polyline(pix: &[(i32, i32)], out: &mut Vec<(i32, i32)>) {
    out.extend_from_slice(pix);
    for w in pix.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).abs()).max((b.1 - a.1).abs());
        let steps = (len / 4).min(400);
        for k in 1..steps {
            let f = k as f64 / steps as f64;
            out.push((
                a.0 + ((b.0 - a.0) as f64 * f) as i32,
                a.1 + ((b.1 - a.1) as f64 * f) as i32,
            ));
        }
    }
}
