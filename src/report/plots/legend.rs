//! Legends: entries (a swatch and a label) laid out in rows below a plot, and drawn.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::{text_size, Root};
use super::style::{font, font_at, LEGEND_PX, LEGEND_ROW_H};

/// Legend entry swatch.
#[derive(Clone, Copy, Debug)]
pub(super) enum Swatch {
    Band(RGBColor),
    Dashed(RGBColor, (i32, i32)),
    Errors(RGBColor),
}

pub(super) struct Legend {
    items: Vec<(String, Swatch)>,
    /// Rows of `(item index, x offset)`.
    rows: Vec<Vec<(usize, i32)>>,
}

const SWATCH_W: i32 = 40;

pub(super) fn layout_legend(
    root: &Root<'_>,
    items: Vec<(String, Swatch)>,
    max_w: i32,
) -> Result<Legend> {
    let style = font(LEGEND_PX);
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = 0;
    for (i, (label, _)) in items.iter().enumerate() {
        let w = SWATCH_W + 8 + text_size(root, label, &style)?.0 + 28;
        if rows.is_empty() || (x + w > max_w && x > 0) {
            rows.push(Vec::new());
            x = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push((i, x));
        }
        x += w;
    }
    Ok(Legend { items, rows })
}

impl Legend {
    pub(super) fn height(&self) -> u32 {
        if self.rows.is_empty() {
            0
        } else {
            (self.rows.len() as i32 * LEGEND_ROW_H + 12) as u32
        }
    }

    pub(super) fn draw(&self, root: &Root<'_>, x0: i32, y0: i32) -> Result<()> {
        let style = font_at(LEGEND_PX, HPos::Left, VPos::Center);
        for (r, row) in self.rows.iter().enumerate() {
            let y = y0 + r as i32 * LEGEND_ROW_H + LEGEND_ROW_H / 2;
            for &(i, dx) in row {
                let x = x0 + dx;
                let (label, swatch) = &self.items[i];
                match *swatch {
                    Swatch::Band(c) => {
                        root.draw(&Rectangle::new(
                            [(x, y - 8), (x + SWATCH_W, y + 8)],
                            c.mix(0.25).filled(),
                        ))?;
                        root.draw(&PathElement::new(
                            vec![(x, y), (x + SWATCH_W, y)],
                            c.stroke_width(3),
                        ))?;
                    }
                    Swatch::Dashed(c, (dash, gap)) => {
                        let mut sx = x;
                        while sx < x + SWATCH_W {
                            let ex = (sx + dash).min(x + SWATCH_W);
                            root.draw(&PathElement::new(
                                vec![(sx, y), (ex, y)],
                                c.stroke_width(2),
                            ))?;
                            sx += dash + gap;
                        }
                    }
                    Swatch::Errors(c) => {
                        root.draw(&PathElement::new(
                            vec![(x, y), (x + SWATCH_W, y)],
                            c.stroke_width(2),
                        ))?;
                        let cx = x + SWATCH_W / 2;
                        root.draw(&PathElement::new(
                            vec![(cx, y - 9), (cx, y + 9)],
                            c.stroke_width(2),
                        ))?;
                        root.draw(&Circle::new((cx, y), 5, c.filled()))?;
                    }
                }
                root.draw_text(label, &style, (x + SWATCH_W + 8, y))?;
            }
        }
        Ok(())
    }
}
