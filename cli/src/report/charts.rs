//! The report's charts, drawn with `plotters` into SVG strings (inlined in the HTML).

use plotters::{
    coord::{Shift, ranged1d::SegmentValue},
    prelude::*,
};

/// Seconds per (Gregorian mean) year, for the time axis in fractional years.
const YEAR_SECS: f64 = 365.2425 * 86400.0;

/// A point in time as a fractional year (e.g. 2026.5 is about 2 July 2026).
pub fn year_of(unix_secs: i64) -> f64 {
    1970.0 + unix_secs as f64 / YEAR_SECS
}

/// What one target's chart shows: its measurements against the piecewise-linear path from
/// the start (baseline) through each interim target to the target at the deadline.
#[derive(Debug, Clone, Default)]
pub struct TargetChart {
    pub caption: String,
    pub unit: String,
    /// (year, value): the start, the interim targets, the target at the end of its year.
    pub path: Vec<(f64, f64)>,
    /// (year, value) of each measurement, in time order.
    pub measured: Vec<(f64, f64)>,
    /// The report's time, drawn as a vertical line.
    pub as_of: f64,
}

type DrawResult<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A range around `values` with a margin, never empty.
fn span(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let margin = if hi > lo {
        (hi - lo) * pad
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - margin, hi + margin)
}

const PATH_COLOUR: RGBColor = RGBColor(31, 119, 180);
const MEASURED_COLOUR: RGBColor = RGBColor(214, 39, 40);
const AS_OF_COLOUR: RGBColor = RGBColor(120, 120, 120);

/// The SVG of a target chart.
pub fn target_svg(c: &TargetChart) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 300)).into_drawing_area();
        draw_target(&root, c)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn draw_target(root: &DrawingArea<SVGBackend<'_>, Shift>, c: &TargetChart) -> DrawResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let xs = c.path.iter().chain(&c.measured).map(|p| p.0).chain([c.as_of]);
    let (x0, x1) = span(xs, 0.05);
    let (y0, y1) = span(c.path.iter().chain(&c.measured).map(|p| p.1), 0.1);
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .caption(&c.caption, ("sans-serif", 16))
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("year")
        .y_desc(&c.unit)
        .x_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| trim_number(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(c.as_of, y0), (c.as_of, y1)],
            AS_OF_COLOUR.stroke_width(1),
        ))
        .map_err(err)?
        .label("as of")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], AS_OF_COLOUR));
    if c.path.len() >= 2 {
        chart
            .draw_series(LineSeries::new(c.path.iter().copied(), PATH_COLOUR.stroke_width(2)))
            .map_err(err)?
            .label("path to target")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], PATH_COLOUR.stroke_width(2)));
    }
    // The targets (interim and final) as triangles on the path.
    chart
        .draw_series(
            c.path
                .iter()
                .skip(1)
                .map(|&p| TriangleMarker::new(p, 6, PATH_COLOUR.filled())),
        )
        .map_err(err)?;
    if !c.measured.is_empty() {
        chart
            .draw_series(LineSeries::new(
                c.measured.iter().copied(),
                MEASURED_COLOUR.stroke_width(2),
            ))
            .map_err(err)?
            .label("measured")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], MEASURED_COLOUR.stroke_width(2)));
        // One circle per measurement (the report's tests count them).
        chart
            .draw_series(c.measured.iter().map(|&p| Circle::new(p, 3, MEASURED_COLOUR.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A number without needless decimals (12, 12.5, 0.125).
pub fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

/// A horizontal bar chart of shares (0–1), one bar per label, in the given order.
pub fn shares_svg(caption: &str, bars: &[(String, f64)]) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let height = 80 + 26 * u32::try_from(bars.len().max(1)).unwrap_or(40).min(40);
        let root = SVGBackend::with_string(&mut svg, (640, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max = bars.iter().map(|b| b.1 * 100.0).fold(1.0, f64::max) * 1.1;
        let n = bars.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(caption, ("sans-serif", 16))
            .x_label_area_size(30)
            .y_label_area_size(180)
            .build_cartesian_2d(0.0..max, (0..n).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("share of exports (%)")
            .y_labels(n)
            // The first bar at the top.
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => n
                    .checked_sub(i + 1)
                    .and_then(|j| bars.get(j))
                    .map(|b| b.0.clone())
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(j, (_, share))| {
                let i = n - 1 - j;
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (share * 100.0, SegmentValue::Exact(i + 1)),
                    ],
                    PATH_COLOUR.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_chart_draws_one_circle_per_measurement() {
        let svg = target_svg(&TargetChart {
            caption: "exports & more".into(),
            unit: "USD bn".into(),
            path: vec![(2024.0, 10.0), (2028.0, 20.0), (2031.0, 30.0)],
            measured: vec![(2024.5, 11.0), (2025.5, 13.0)],
            as_of: 2026.0,
        })
        .expect("drawn");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(svg.contains("exports &amp; more"));
    }

    #[test]
    fn degenerate_data_still_draws() {
        let svg = target_svg(&TargetChart {
            caption: "t".into(),
            unit: "%".into(),
            path: vec![(2030.0, 5.0)],
            measured: vec![],
            as_of: 2026.0,
        })
        .expect("drawn");
        assert!(svg.contains("<svg"));
        let bars = shares_svg("s", &[("A".into(), 0.5), ("B".into(), 0.25)]).expect("drawn");
        assert!(bars.matches("<rect").count() >= 2, "{bars}");
        assert!(shares_svg("none", &[]).is_ok());
    }

    #[test]
    fn numbers_are_trimmed() {
        assert_eq!(trim_number(12.0), "12");
        assert_eq!(trim_number(12.5), "12.5");
        assert_eq!(trim_number(-0.0001), "0");
    }
}
