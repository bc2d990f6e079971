//! The PNG bar chart of `cargo xtask bench` (plotters, bitmap backend, text
//! drawn with the DejaVu Sans font of the `fonts-dejavu-core` package).

use std::fs;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::util::Result;

/// The font the chart's text is drawn with.
pub(crate) const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// One bar: a ratio (1.0 = the reference) with its label and goal.
#[derive(Clone, Debug)]
pub(crate) struct Bar {
    /// Under the bar (short: the bars are about 120 pixels wide).
    pub(crate) label: String,
    /// The ratio.
    pub(crate) value: f64,
    /// Above the bar, under the ratio: the absolute figures.
    pub(crate) note: String,
    /// The ratio the bar must reach, drawn as a tick.
    pub(crate) goal: Option<f64>,
}

fn draw_error(e: impl std::fmt::Display) -> String {
    format!("cannot draw the chart: {e}")
}

/// Draws `bars` to a 1400×700 PNG at `path`.
pub(crate) fn bars(path: &Path, bars: &[Bar], title: &str) -> Result {
    let font = fs::read(FONT).map_err(|e| format!("cannot read the chart font {FONT}: {e}"))?;
    // plotters keeps registered fonts for the life of the process.
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| format!("{FONT} is not a usable TrueType font"))?;

    let n = u32::try_from(bars.len().max(1)).unwrap_or(1);
    let top = bars
        .iter()
        .map(|b| b.value.max(b.goal.unwrap_or(0.0)))
        .fold(2.0_f64, f64::max)
        * 1.25;
    let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
        .map_err(draw_error)?;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len())
        .x_label_style(("sans-serif", 13))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| labels.get(i))
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc("ratio")
        .draw()
        .map_err(draw_error)?;

    let color = |b: &Bar| {
        if b.value >= b.goal.unwrap_or(1.0) {
            RGBColor(46, 139, 87)
        } else {
            RGBColor(200, 60, 50)
        }
    };
    chart
        .draw_series(bars.iter().zip(0u32..).map(|(b, i)| {
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.value),
                ],
                color(b).filled(),
            );
            r.set_margin(0, 0, 14, 14);
            r
        }))
        .map_err(draw_error)?;
    // The reference (1.0) across the chart, and each goal as a tick.
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(SegmentValue::Exact(0), 1.0), (SegmentValue::Last, 1.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(draw_error)?;
    chart
        .draw_series(bars.iter().zip(0u32..).filter_map(|(b, i)| {
            b.goal.map(|g| {
                PathElement::new(
                    vec![(SegmentValue::Exact(i), g), (SegmentValue::Exact(i + 1), g)],
                    BLUE.stroke_width(2),
                )
            })
        }))
        .map_err(draw_error)?;
    chart
        .draw_series(bars.iter().zip(0u32..).flat_map(|(b, i)| {
            [
                Text::new(
                    format!("{:.2}", b.value),
                    (SegmentValue::CenterOf(i), b.value + top * 0.06),
                    ("sans-serif", 18).into_font().color(&BLACK),
                ),
                Text::new(
                    b.note.clone(),
                    (SegmentValue::CenterOf(i), b.value + top * 0.03),
                    ("sans-serif", 11).into_font().color(&BLACK),
                ),
            ]
        }))
        .map_err(draw_error)?;
    root.present().map_err(draw_error)?;
    Ok(())
}
